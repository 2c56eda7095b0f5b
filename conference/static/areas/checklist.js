// The pre-exam checklist in the call page (owned by checklist/).
//
// Student: the current step's instruction, the consent text with "I agree / I refuse",
// the "I have read it" button of the instruction step. Examiners, experts and organizers:
// the progress of every step, automatic results in words, evidence thumbnails, confirm /
// override / retry / reject with a reason, and during the exam the live feed of flags.
// Everything arrives as `panel` messages of area "checklist" from the bot ("state",
// "error", "flag"); clicks go back as `panel` messages. The bot is the only source of
// truth: the page never changes a status itself, it only shows the latest state.
// Every text comes from the catalogue (config/locales/<lang>/checklist.toml): no key or
// code is ever shown; times follow the one convention (minutes:seconds from the start
// of the recording, the exam day's clock beside them).
"use strict";

(function () {
  const pb = window.proctorbot;
  if (!pb || !pb.panel) return;
  const AREA = "checklist";
  const DECIDERS = ["examiner", "organizer"];
  const VIEWERS = ["examiner", "expert", "organizer"];
  const token = new URLSearchParams(location.search).get("t") || "";
  const view = { texts: null, state: null, flags: [], error: null, ended: false, left: false, progress: null };

  // ---- small helpers ------------------------------------------------------------------
  function has(key) {
    const texts = view.texts || {};
    return key in (texts[pb.language] || {}) || key in (texts.en || {});
  }
  function t(key, values) {
    const texts = view.texts || {};
    let text = (texts[pb.language] || {})[key] || (texts.en || {})[key] || key;
    Object.entries(values || {}).forEach(([k, v]) => { text = text.split(`{${k}}`).join(String(v)); });
    return text;
  }
  // A key made from what the bot sent (a summary, a flag kind): a general text when the
  // catalogue has no such key, never the key itself.
  function tOr(key, fallback, values) { return t(has(key) ? key : fallback, values); }
  function num(value, digits) {
    const text = Number(value).toLocaleString(pb.language, { maximumFractionDigits: digits === undefined ? 1 : digits });
    return text.replace(/^-/, "−");
  }
  function pct(share) { return num(Number(share) * 100, 0); }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (v === null || v === undefined || v === false) return;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : String(v));
    });
    children.flat().forEach((c) => { if (c !== null && c !== undefined) node.append(c); });
    return node;
  }
  function send(action, data) { pb.sendPanel(AREA, action, data || {}); }
  function evidenceUrl(path) {
    return `${view.state.evidence_url}${path}?t=${encodeURIComponent(token)}`;
  }

  document.head.append(el("link", { rel: "stylesheet", href: "/static/areas/checklist.css" }));
  const root = el("section", { id: "checklist", "aria-live": "polite" });
  pb.panel.append(root);

  // ---- where the exam is (the call page tells a student who leaves what it means) ------
  function stageOf(s) {
    if (view.ended || !s) return view.ended ? "over" : "waiting";
    if (s.outcome === "admitted") return "exam";
    if (s.outcome !== "in_progress") return "over";
    return (s.steps || []).some((step) => step.status !== "pending") ? "checklist" : "waiting";
  }

  // ---- rendering ----------------------------------------------------------------------
  function render() {
    root.replaceChildren();
    if (!view.texts) return;  // nothing before the words arrive: never a bare key
    root.hidden = view.left;  // the call page says what leaving means
    root.append(el("h2", { text: t("panel.title") }));
    const s = view.state;
    if (pb.setStage) pb.setStage(stageOf(s));
    if (view.ended) {
      root.append(el("p", { class: "outcome", "data-outcome": "ended", text: t("outcome.session_ended") }));
      return;
    }
    if (!s) {  // no word from the bot yet: say why, never "the check has not started"
      root.append(el("p", { class: "hint", text: t(view.joined ? "panel.waiting" : "panel.not_joined") }));
      return;
    }
    root.dataset.outcome = s.outcome;
    root.dataset.current = s.current || "";
    root.dataset.revision = s.revision;
    if (VIEWERS.includes(pb.role)) renderExaminer(s); else renderStudent(s);
    if (view.error) root.append(el("p", { class: "error", role: "alert", text: view.error }));
  }

  function renderProgress(p) {
    // the room scan as it goes: "осмотрено 45 % круга, нужно 60 %" and a bar
    const covered = Math.round(100 * p.coverage), needed = Math.round(100 * p.needed);
    return el("div", { class: "scan-progress", "data-progress": String(covered) },
      el("progress", { max: String(needed), value: String(Math.min(covered, needed)) }),
      el("p", { class: "hint", text: t("detail.coverage", { coverage: covered, needed: needed }) }));
  }

  function renderStudent(s) {
    if (s.outcome !== "in_progress") {
      root.append(el("p", { class: "outcome", text: tOr(`outcome.${s.outcome}`, "outcome.in_progress") }));
      return;
    }
    if (s.mode === "non_biometric") root.append(el("p", { class: "hint", text: t("mode.non_biometric") }));
    if (!s.current) return;
    root.append(el("h3", { text: t(`step.${s.current}.title`) }));
    root.append(el("p", { class: "instruction", text: t(`step.${s.current}.instruction`) }));
    if (s.status === "failed") root.append(el("p", { class: "hint", text: t("prompt.wait_examiner") }));
    const p = view.progress;
    if (p && p.step === s.current && s.status === "running") root.append(renderProgress(p));
    if (s.buttons === "consent") {
      root.append(el("div", { class: "consent" },
        el("p", { text: t("consent.text") }),
        el("p", { class: "hint", text: `${t("consent.version")}: ${s.consent_text_version}` }),
        el("div", { class: "actions" },
          el("button", { type: "button", "data-action": "consent-yes", text: t("consent.agree"),
            onclick: () => send("consent", { step: "consent", given: true }) }),
          el("button", { type: "button", "data-action": "consent-no", text: t("consent.refuse"),
            onclick: () => send("consent", { step: "consent", given: false }) }))));
    } else if (s.current === "screen_share" && s.status === "running" && pb.shareScreen) {
      // getDisplayMedia needs a click of the student's: the same as the sources box's button
      root.append(el("button", { type: "button", "data-action": "share-screen", text: t("step.screen_share.share"),
        onclick: () => pb.shareScreen() }));
    } else if (s.buttons === "ack") {
      root.append(el("button", { type: "button", "data-action": "ack", text: t("panel.ack"),
        onclick: () => send("ack", { step: s.current }) }));
    }
    root.append(el("ol", { class: "progress" }, s.steps.map((step) =>
      el("li", { "data-step": step.kind },
        t(`step.${step.kind}.title`), el("span", { class: `st ${step.status}`, text: t(`status.${step.status}`) })))));
  }

  function renderExaminer(s) {
    root.append(el("p", { class: "outcome", text: `${s.student_name}: ${tOr(`outcome.${s.outcome}`, "outcome.in_progress")}` }));
    if (s.mode !== "proctored") root.append(el("p", { class: "hint", text: tOr(`mode.${s.mode}`, "mode.non_biometric") }));
    if (!s.student_present && s.outcome === "in_progress") {
      root.append(el("p", { class: "hint", "data-flag": "student-absent", text: t("panel.student_absent") }));
    }
    // Once the checklist is over the exam's live flags matter most: they come first, the
    // steps (still there to look back at) after them.
    const over = s.outcome !== "in_progress";
    if (over && (s.outcome === "admitted" || view.flags.length)) {
      renderFlags();
      root.append(el("h2", { text: t("panel.steps_done") }));
    }
    root.append(el("ol", { class: "steps" }, s.steps.map((step) => renderStep(s, step))));
    if (!over && view.flags.length) renderFlags();
  }

  function renderStep(s, step) {
    const item = el("li", { class: "step", "data-step": step.kind, "data-status": step.status },
      el("strong", { text: t(`step.${step.kind}.title`) }),
      el("span", { class: `st ${step.status}`, text: t(`status.${step.status}`) }),
      step.attempts > 1 ? el("span", { class: "hint", text: ` ${t("panel.attempt")} ${step.attempts}` }) : null);
    if (step.auto) {
      const a = step.auto;
      const summary = tOr(`auto.${a.summary}`, !a.available ? "auto.unavailable" : a.passed ? "auto.ok" : "auto.auto_check_failed");
      // Unavailable: its text says so itself ("… unavailable: the examiner confirms").
      const line = a.available ? `${t("panel.automatic")}: ${a.passed ? "✓" : "✗"} ${summary}` : summary;
      item.append(el("div", { class: "auto", "data-auto": a.available ? String(a.passed) : "unavailable" },
        line,
        autoDetails(step.kind, a.details || {}, s.needs || {})));
    } else if (step.failure) {
      item.append(el("div", { class: "auto", text: tOr(`auto.${step.failure}`, "auto.auto_check_failed") }));
    }
    const images = step.evidence.filter((p) => /\.(jpe?g|png)$/i.test(p));
    if (images.length) {
      item.append(el("div", { class: "thumbs" }, images.map((p) => {
        const url = evidenceUrl(p);
        return el("a", { href: url, target: "_blank", rel: "noopener" },
          el("img", { src: url, alt: `${t(`step.${step.kind}.title`)}: ${t("panel.snapshot")}`, loading: "lazy" }));
      })));
    }
    if (step.decided_by && step.decided_by.role !== "bot") {
      const reason = step.reason ? ` — ${step.reason}` : "";
      item.append(el("div", { class: "who", text: `${t("panel.decided_by")}: ${step.decided_by.name}${reason}` }));
    }
    if (s.current === step.kind && s.outcome === "in_progress" && DECIDERS.includes(pb.role)) {
      item.append(renderActions(s, step));
    }
    return item;
  }

  // The automatic result's measurements as sentences: "the camera gives 10 frames/s,
  // 15 needed", "45 % of the circle shown, 60 % needed", "name read: …".
  function autoDetails(kind, d, needs) {
    const lines = [];
    const problems = Array.isArray(d.problems) ? d.problems : [];
    const present = (k) => d[k] !== undefined && d[k] !== null && d[k] !== "";
    if (present("width") && present("height")) {
      lines.push(problems.includes("low_resolution") && needs.min_width
        ? t("detail.resolution_low", { width: d.width, height: d.height, min_width: needs.min_width, min_height: needs.min_height })
        : t(kind === "screen_share" ? "detail.screen_resolution" : "detail.resolution", { width: d.width, height: d.height }));
    } else if (kind === "equipment" && d.frames === 0) {
      lines.push(t("detail.no_frames"));
    }
    if (present("fps")) {
      lines.push(problems.includes("low_fps") && needs.min_fps
        ? t("detail.fps_low", { fps: num(d.fps), min_fps: num(needs.min_fps) })
        : t("detail.fps", { fps: num(d.fps) }));
    }
    if (kind === "equipment" && present("audio_dbfs")) {
      lines.push(problems.includes("silent_microphone") && needs.silence_dbfs !== undefined
        ? t("detail.level_low", { dbfs: num(d.audio_dbfs), min_dbfs: num(needs.silence_dbfs) })
        : t("detail.level", { dbfs: num(d.audio_dbfs) }));
    }
    if (d.recording && typeof d.recording === "object") {
      const sources = Object.entries(d.recording).map(([source, on]) =>
        t(on ? "detail.source_on" : "detail.source_off", { source: tOr(`source.${source}`, "source.camera") }));
      if (sources.length) lines.push(t("detail.recording", { sources: sources.join(", ") }));
    } else if (d.recording === "unavailable") {
      lines.push(t("detail.recording_unavailable"));
    }
    if (d.network && typeof d.network === "object") {
      lines.push(t("detail.network", { loss: num((d.network.loss_ratio || 0) * 100), jitter: num(d.network.jitter_ms || 0, 0) }));
    } else if (d.network === "unavailable") {
      lines.push(t("detail.network_unavailable"));
    }
    if (present("coverage")) {
      const needed = present("coverage_needed") ? d.coverage_needed : needs.room_coverage;
      lines.push(needed !== undefined && needed !== null
        ? t("detail.coverage", { coverage: pct(d.coverage), needed: pct(needed) })
        : t("detail.coverage_only", { coverage: pct(d.coverage) }));
    }
    if (present("max_faces")) lines.push(t("detail.faces", { faces: d.max_faces }));
    if (Array.isArray(d.objects) && d.objects.length) lines.push(t("detail.objects", { objects: d.objects.join(", ") }));
    if (kind === "id_document" && "read_name" in d) {
      lines.push(d.read_name ? t("detail.read_name", { name: d.read_name }) : t("detail.read_nothing"));
      if (present("roster_name")) lines.push(t("detail.roster_name", { name: d.roster_name }));
      if (present("face_similarity")) {
        lines.push(needs.face_similarity !== undefined
          ? t("detail.face_similarity", { similarity: pct(d.face_similarity), needed: pct(needs.face_similarity) })
          : t("detail.face_similarity_only", { similarity: pct(d.face_similarity) }));
      } else if (d.face_match === "unavailable") {
        lines.push(t("detail.face_unavailable"));
      }
    }
    if (kind === "name_aloud" && "transcript" in d) {
      lines.push(d.transcript ? t("detail.heard", { text: d.transcript }) : t("detail.heard_nothing"));
    }
    return lines.length ? el("ul", { class: "details" }, lines.map((line) => el("li", { text: line }))) : null;
  }

  function renderActions(s, step) {
    const reason = el("textarea", { "data-field": "reason", rows: 2, placeholder: t("panel.reason"),
      "aria-label": t("panel.reason_short"), maxlength: 500 });
    const act = (action) => () => send(action, { step: step.kind, reason: reason.value });
    // Nothing to confirm before the student is here and the step has begun.
    const live = s.student_present && step.status !== "pending";
    const buttons = [];
    if (live && step.kind !== "consent" && step.status !== "failed") buttons.push(["confirm", "panel.confirm"]);
    if (live && step.kind !== "consent") buttons.push(["override", "panel.override"]);
    if (live) buttons.push(["retry", "panel.retry"]);
    buttons.push(["reject", "panel.reject"]);
    const box = el("div", { class: "actions" }, reason, buttons.map(([action, key]) =>
      el("button", { type: "button", "data-action": action, text: t(key), onclick: act(action) })));
    return box;
  }

  function flagText(f) {
    const what = tOr(`flag.${f.kind}`, "auto.auto_check_failed");
    if (f.device && f.device !== "main") {  // the student's phone or shared screen, not the student
      const own = `flag_device.${f.device}.${f.kind}`;
      return has(own) ? t(own) : t("flag_detail.by_role", { what, role: pb.t(`page.device_${f.device}`) });
    }
    if (!f.role || f.role === "student") return what;
    const role = pb.t(`role.${f.role}`);
    return has(`flag_detail.${f.kind}`) ? t(`flag_detail.${f.kind}`, { role }) : t("flag_detail.by_role", { what, role });
  }

  function evidenceWord(path) {
    if (/\.(jpe?g|png|webp)$/i.test(path)) return t("panel.snapshot");
    if (/\.(wav|ogg|opus|mp3|m4a)$/i.test(path)) return t("panel.audio_clip");
    if (/\.(mp4|webm)$/i.test(path)) return t("panel.video_clip");
    return t("panel.evidence_link");
  }

  function renderFlags() {
    root.append(el("h2", { text: t("panel.flags") }));
    const started = view.state && view.state.recording_started_at;
    root.append(el("p", { class: "legend", text: pb.t(started ? "time.legend" : "time.legend_clock").split("{zone}").join(pb.timezone) }));
    if (!view.flags.length) { root.append(el("p", { class: "hint", text: t("panel.no_flags") })); return; }
    const newest = view.flags.slice().sort((a, b) => Number(b.start) - Number(a.start));
    root.append(el("ol", { class: "flags" }, newest.map((f) => {
      const lasted = Number(f.end) - Number(f.start);
      const more = [];
      if (f.open) more.push(t("flag_detail.open"));
      else if (lasted >= 1) more.push(t("flag_detail.duration", { seconds: Math.round(lasted) }));
      return el("li", { "data-kind": f.kind, "data-role": f.role || "student" },
        el("time", { class: "offset", text: pb.offset(f.start) }),
        started ? el("span", { class: "wall", text: pb.wallClock(started + Number(f.start)) }) : null,
        el("span", { class: "what", text: flagText(f) + (more.length ? `, ${more.join(", ")}` : "") }),
        f.evidence && f.evidence.length && VIEWERS.includes(pb.role) && view.state
          ? el("a", { class: "evidence", href: evidenceUrl(f.evidence[0]), target: "_blank", rel: "noopener",
            text: evidenceWord(f.evidence[0]) })
          : null);
    })));
  }

  // ---- messages -----------------------------------------------------------------------
  pb.on("panel", (m) => {
    if (m.area === "session" && m.action === "ended") { view.ended = true; render(); return; }
    if (m.area !== AREA) return;
    const data = m.data || {};
    if (m.action === "state") {
      if (view.state && data.session_id === view.state.session_id && data.revision < view.state.revision) return;
      view.state = data;
      if (Array.isArray(data.flags)) view.flags = data.flags.slice();
      view.error = null;
    } else if (m.action === "error") {
      view.error = data.message || t("error.not_allowed");
    } else if (m.action === "progress") {
      view.progress = data;
    } else if (m.action === "flag") {
      // a condition still going on is sent again as it grows and when it ends: one line
      const same = (f) => f.kind === data.kind && f.track === data.track && f.start === data.start;
      view.flags = view.flags.filter((f) => !same(f));
      view.flags.push(data);
    }
    render();
  });
  // After a (re)connection and whenever the bot (re)joins, ask for the current state.
  pb.on("welcome", () => { view.left = false; view.joined = true; send("sync"); render(); });
  pb.on("peer-joined", (m) => { if (m.peer && m.peer.role === "bot") send("sync"); });
  pb.on("left", () => { view.left = true; view.joined = false; render(); });
  pb.on("session-ended", () => { view.ended = true; render(); });
  pb.on("language", render);

  fetch("/checklist/texts.json").then((r) => (r.ok ? r.json() : {})).then((texts) => {
    view.texts = texts || {};
    render();
  }).catch(() => { view.texts = {}; render(); });
  render();
})();
