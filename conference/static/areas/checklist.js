// The pre-exam checklist in the call page (owned by checklist/).
//
// Student: the current step's instruction, the consent text with "I agree / I refuse",
// the "I have read it" button of the instruction step. Examiners, experts and organizers:
// the progress of every step, automatic results, evidence thumbnails, confirm /
// override / retry / reject with a reason, and during the exam the live feed of flags.
// Everything arrives as `panel` messages of area "checklist" from the bot ("state",
// "error", "flag"); clicks go back as `panel` messages. The bot is the only source of
// truth: the page never changes a status itself, it only shows the latest state.
"use strict";

(function () {
  const pb = window.proctorbot;
  if (!pb || !pb.panel) return;
  const AREA = "checklist";
  const DECIDERS = ["examiner", "organizer"];
  const VIEWERS = ["examiner", "expert", "organizer"];
  const token = new URLSearchParams(location.search).get("t") || "";
  const view = { texts: {}, state: null, flags: [], error: null };

  // ---- small helpers ------------------------------------------------------------------
  function t(key, values) {
    const lang = pb.language;
    let text = (view.texts[lang] || {})[key] || (view.texts.en || {})[key] || key;
    Object.entries(values || {}).forEach(([k, v]) => { text = text.replace(`{${k}}`, String(v)); });
    return text;
  }
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
  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }
  function send(action, data) { pb.sendPanel(AREA, action, data || {}); }

  const root = el("section", { id: "checklist", "aria-live": "polite" });
  pb.panel.append(root);
  document.head.append(el("style", { text: `
    #checklist h2 { font-size: .95rem; margin: 0 0 .4rem; }
    #checklist ol { margin: 0; padding-left: 1.2rem; }
    #checklist li.step { margin-bottom: .5rem; }
    #checklist .st { font-size: .8rem; padding: 0 .35rem; border-radius: 4px; background: #eceff3; margin-left: .3rem; }
    #checklist .st.passed { background: #d8f0dc; } #checklist .st.overridden { background: #fff1c2; }
    #checklist .st.failed { background: #fbd9d9; } #checklist .st.running { background: #dce6fb; }
    #checklist .auto, #checklist .who, #checklist .hint { color: #5b6575; font-size: .85rem; }
    #checklist .thumbs img { height: 56px; margin: .2rem .2rem 0 0; border: 1px solid #c5cbd5; }
    #checklist .actions { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .3rem; }
    #checklist .actions input { flex: 1 1 100%; padding: .3rem; }
    #checklist button { padding: .35rem .7rem; cursor: pointer; }
    #checklist .consent { background: #f0f4fc; padding: .5rem; border-radius: 6px; }
    #checklist .error { color: #b35c00; }
    #checklist .flags { list-style: none; padding: 0; max-height: 30vh; overflow-y: auto; }
    #checklist .outcome { font-weight: 600; }
  ` }));

  // ---- rendering ----------------------------------------------------------------------
  function render() {
    root.replaceChildren();
    root.append(el("h2", { text: t("panel.title") }));
    const s = view.state;
    if (!s) { root.append(el("p", { class: "hint", text: t("panel.waiting") })); return; }
    root.dataset.outcome = s.outcome;
    root.dataset.current = s.current || "";
    root.dataset.revision = s.revision;
    if (VIEWERS.includes(pb.role)) renderExaminer(s); else renderStudent(s);
    if (view.error) root.append(el("p", { class: "error", role: "alert", text: view.error }));
  }

  function renderStudent(s) {
    if (s.outcome !== "in_progress") {
      root.append(el("p", { class: "outcome", text: t(`outcome.${s.outcome}`) }));
      return;
    }
    if (s.mode === "non_biometric") root.append(el("p", { class: "hint", text: t("mode.non_biometric") }));
    if (!s.current) return;
    root.append(el("h3", { text: t(`step.${s.current}.title`) }));
    root.append(el("p", { class: "instruction", text: t(`step.${s.current}.instruction`) }));
    if (s.status === "failed") root.append(el("p", { class: "hint", text: t("prompt.wait_examiner") }));
    if (s.buttons === "consent") {
      root.append(el("div", { class: "consent" },
        el("p", { text: t("consent.text") }),
        el("p", { class: "hint", text: `${t("consent.version")}: ${s.consent_text_version}` }),
        el("div", { class: "actions" },
          el("button", { type: "button", "data-action": "consent-yes", text: t("consent.agree"),
            onclick: () => send("consent", { step: "consent", given: true }) }),
          el("button", { type: "button", "data-action": "consent-no", text: t("consent.refuse"),
            onclick: () => send("consent", { step: "consent", given: false }) }))));
    } else if (s.buttons === "ack") {
      root.append(el("button", { type: "button", "data-action": "ack", text: t("panel.ack"),
        onclick: () => send("ack", { step: s.current }) }));
    }
    root.append(el("ol", { class: "progress" }, s.steps.map((step) =>
      el("li", { "data-step": step.kind },
        t(`step.${step.kind}.title`), el("span", { class: `st ${step.status}`, text: t(`status.${step.status}`) })))));
  }

  function renderExaminer(s) {
    root.append(el("p", { class: "outcome", text: `${s.student_name}: ${t(`outcome.${s.outcome}`)}` }));
    if (s.mode !== "proctored") root.append(el("p", { class: "hint", text: t(`mode.${s.mode}`) }));
    if (!s.student_present && s.outcome === "in_progress") {
      root.append(el("p", { class: "hint", "data-flag": "student-absent", text: t("panel.student_absent") }));
    }
    root.append(el("ol", { class: "steps" }, s.steps.map((step) => renderStep(s, step))));
    if (s.outcome === "admitted" || view.flags.length) renderFlags();
  }

  function renderStep(s, step) {
    const item = el("li", { class: "step", "data-step": step.kind, "data-status": step.status },
      el("strong", { text: t(`step.${step.kind}.title`) }),
      el("span", { class: `st ${step.status}`, text: t(`status.${step.status}`) }),
      step.attempts > 1 ? el("span", { class: "hint", text: ` ${t("panel.attempt")} ${step.attempts}` }) : null);
    if (step.auto) {
      const a = step.auto;
      const mark = !a.available ? "?" : a.passed ? "✓" : "✗";
      item.append(el("div", { class: "auto", "data-auto": a.available ? String(a.passed) : "unavailable" },
        `${t("panel.automatic")}: ${mark} ${t(`auto.${a.summary}`)}`, autoDetails(a.details)));
    } else if (step.failure) {
      item.append(el("div", { class: "auto", text: t(`auto.${step.failure}`) }));
    }
    const images = step.evidence.filter((p) => /\.(jpe?g|png)$/i.test(p));
    if (images.length) {
      item.append(el("div", { class: "thumbs" }, images.map((p) => {
        const url = `${s.evidence_url}${p}?t=${encodeURIComponent(token)}`;
        return el("a", { href: url, target: "_blank", rel: "noopener" }, el("img", { src: url, alt: p, loading: "lazy" }));
      })));
    }
    if (step.decided_by && step.decided_by.role !== "bot") {
      const reason = step.reason ? ` — ${step.reason}` : "";
      item.append(el("div", { class: "who", text: `${t("panel.decided_by")}: ${step.decided_by.name}${reason}` }));
    }
    if (s.current === step.kind && s.outcome === "in_progress" && DECIDERS.includes(pb.role)) {
      item.append(renderActions(step));
    }
    return item;
  }

  function autoDetails(details) {
    const shown = ["read_name", "transcript", "max_faces", "coverage", "width", "height", "fps", "audio_dbfs", "face_similarity"];
    const parts = shown.filter((k) => details && details[k] !== undefined && details[k] !== null)
      .map((k) => `${k}: ${details[k]}`);
    return parts.length ? el("div", { class: "hint", text: parts.join(" · ") }) : null;
  }

  function renderActions(step) {
    const reason = el("input", { type: "text", "data-field": "reason", placeholder: t("panel.reason"), maxlength: 500 });
    const act = (action) => () => send(action, { step: step.kind, reason: reason.value });
    const buttons = [];
    if (step.kind !== "consent" && step.status !== "failed") buttons.push(["confirm", "panel.confirm"]);
    if (step.kind !== "consent") buttons.push(["override", "panel.override"]);
    if (step.status !== "pending") buttons.push(["retry", "panel.retry"]);
    buttons.push(["reject", "panel.reject"]);
    return el("div", { class: "actions" }, reason, buttons.map(([action, key]) =>
      el("button", { type: "button", "data-action": action, text: t(key), onclick: act(action) })));
  }

  function renderFlags() {
    root.append(el("h2", { text: t("panel.flags") }));
    if (!view.flags.length) { root.append(el("p", { class: "hint", text: t("panel.no_flags") })); return; }
    root.append(el("ol", { class: "flags" }, view.flags.slice().reverse().map((f) =>
      el("li", { "data-kind": f.kind },
        el("time", { text: clock(f.start) }), " ", t(`flag.${f.kind}`),
        f.evidence && f.evidence.length && VIEWERS.includes(pb.role) && view.state
          ? el("a", { href: `${view.state.evidence_url}${f.evidence[0]}?t=${encodeURIComponent(token)}`, target: "_blank", rel: "noopener", text: " ⧉" })
          : null))));
  }

  // ---- messages -----------------------------------------------------------------------
  pb.on("panel", (m) => {
    if (m.area !== AREA) return;
    const data = m.data || {};
    if (m.action === "state") {
      if (view.state && data.session_id === view.state.session_id && data.revision < view.state.revision) return;
      view.state = data;
      if (Array.isArray(data.flags)) view.flags = data.flags.slice();
      view.error = null;
    } else if (m.action === "error") {
      view.error = data.message || data.code;
    } else if (m.action === "flag") {
      view.flags.push(data);
    }
    render();
  });
  // After a (re)connection and whenever the bot (re)joins, ask for the current state.
  pb.on("welcome", () => send("sync"));
  pb.on("peer-joined", (m) => { if (m.peer && m.peer.role === "bot") send("sync"); });
  pb.on("language", render);

  fetch("/checklist/texts.json").then((r) => (r.ok ? r.json() : {})).then((texts) => {
    view.texts = texts || {};
    render();
  }).catch(() => render());
  render();
})();
