// The call page: self-preview, a browser mesh (one RTCPeerConnection per other peer),
// the bot's prompts, mic/cam toggles, and a tiny API for examiner-panel scripts.
//
// Signaling (docs/architecture.md): the peer that joins later offers to everyone
// already present. Each connection always negotiates one audio and one video
// transceiver (sendrecv), so a camera switched on later needs no renegotiation:
// the track is simply put on the sender with replaceTrack().
// With `welcome.media === "janus"` (conference/janus_bridge.py) there is no mesh: one
// sendonly connection publishes our tracks to Janus (`publish`), and each other peer
// we may see comes as its own recvonly connection (`subscribe-offer` → answer); tiles,
// peers() and stats(peerId) keep their meaning.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("call-config").textContent);
  const $ = (id) => document.getElementById(id);

  // ---- state ------------------------------------------------------------------------
  const state = {
    language: config.language,
    ws: null,
    peerId: null,
    joined: false,
    leaving: false,
    iceServers: [],              // from each `welcome`: STUN, and TURN with fresh credentials
    iceTransportPolicy: "all",   // "relay" (conference.ice_transport_policy): TURN only
    local: new MediaStream(),   // our own tracks (may be empty: expert, denied)
    mic: config.role !== "expert",  // an expert joins with camera and microphone off
    cam: config.role !== "expert",
    peers: new Map(),            // peer_id -> {info, pc, stream, tile, pendingIce: []}
    media: "mesh",               // from `welcome`: "mesh" (peer to peer) or "janus"
    publisher: null,             // janus: our one sendonly RTCPeerConnection
    handlers: new Map(),         // message type -> [handler]
    reconnectDelay: 1000,
    stage: "waiting",            // set by the checklist: waiting | checklist | exam | over
    ended: false,                // the bot said the session is over
    wanted: null,                // {mic, cam} before the devices were released
    personId: null,              // ours, from `welcome`: our other devices are not in the mesh
  };

  // ---- texts --------------------------------------------------------------------------
  function t(key, values) {
    const texts = config.texts[state.language] || {};
    let text = texts[key] || (config.texts.en || {})[key] || key;
    Object.entries(values || {}).forEach(([k, v]) => { text = text.split(`{${k}}`).join(String(v)); });
    return text;
  }

  // ---- time: one convention (report/session_time.py) ----------------------------------
  // Minutes:seconds from the start of the recording, and beside it the clock of the exam
  // day's time zone (config.timezone), the zone named in the legend.
  function offset(seconds) {
    const s = Math.max(0, Math.round(Number(seconds) || 0));
    return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  }
  function wallClock(epochSeconds) {
    const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    try {
      return new Date(epochSeconds * 1000).toLocaleTimeString("en-GB", { ...options, timeZone: config.timezone });
    } catch (err) {  // an unknown zone: the browser's own clock, still a clock
      return new Date(epochSeconds * 1000).toLocaleTimeString("en-GB", options);
    }
  }
  function applyTexts() {
    document.documentElement.lang = state.language;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    document.querySelectorAll("[data-lang]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.language));
    });
    $("who").textContent = `${config.name} · ${t("role." + config.role)}`;
    $("prompts-legend").textContent = t("time.legend", { zone: config.timezone });
    renderToggles();
    state.peers.forEach((p) => renderPeer(p));
    renderPeopleList();  // "you" is listed before anyone else has joined
    emit("language", { language: state.language });
  }
  function setStatus(key) { $("status").dataset.t = key; $("status").textContent = t(key); }

  // ---- local media ----------------------------------------------------------------------
  const CONSTRAINTS = { audio: true, video: { width: 640, height: 480 } };

  async function acquire(...kinds) {
    // Ask for the kinds in one prompt; returns {audio, video} tracks (null = denied, no device).
    const got = { audio: null, video: null };
    try {
      const wanted = Object.fromEntries(kinds.map((k) => [k, CONSTRAINTS[k]]));
      const stream = await navigator.mediaDevices.getUserMedia(wanted);
      stream.getTracks().forEach((track) => { state.local.addTrack(track); got[track.kind] = track; });
    } catch (err) {
      console.warn("getUserMedia", kinds, err);
      if (kinds.length > 1) {  // e.g. no camera at all: still try each kind alone
        for (const kind of kinds) got[kind] = (await acquire(kind))[kind];
        return got;
      }
      setStatus("page.media_denied");
      return got;
    }
    $("self-video").srcObject = state.local;
    if (state.publisher) attachLocal(state.publisher);
    state.peers.forEach((p) => { if (p.pc && state.media === "mesh") attachLocal(p.pc); });
    return got;
  }
  function localTrack(kind) { return state.local.getTracks().find((tr) => tr.kind === kind) || null; }

  async function setMedia(kind, on) {
    let track = localTrack(kind);
    if (on && !track) track = (await acquire(kind))[kind];
    if (track) track.enabled = on;
    if (kind === "audio") state.mic = on && !!track; else state.cam = on && !!track;
    renderToggles();
    send({ type: "media-state", mic: state.mic, cam: state.cam });
  }

  function renderToggles() {
    const mic = $("toggle-mic"), cam = $("toggle-cam");
    mic.textContent = t(state.mic ? "page.mic_on" : "page.mic_off");
    cam.textContent = t(state.cam ? "page.cam_on" : "page.cam_off");
    mic.setAttribute("aria-pressed", String(state.mic));
    cam.setAttribute("aria-pressed", String(state.cam));
    // Out of the call (left, or the session ended) the devices stay off.
    mic.disabled = cam.disabled = !!state.wanted || state.ended;
    $("self-state").replaceChildren(...badges(state));
    const released = !localTrack("video");
    $("self-tile").classList.toggle("cam-off", !state.cam || released);
    $("self-tile").dataset.name = released && !state.joined
      ? `${config.name} · ${t("page.camera_released")}` : config.name;
  }

  // ---- signaling ----------------------------------------------------------------------
  function send(message) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    // ?device=phone: another device of the same person, a second source (not a replacement)
    const device = new URLSearchParams(location.search).get("device");
    const url = `${scheme}//${location.host}${config.ws_path}?t=${encodeURIComponent(config.token)}`
      + (device ? `&device=${encodeURIComponent(device)}` : "");
    setStatus("page.connecting");
    const ws = new WebSocket(url);
    state.ws = ws;
    ws.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (err) { return; }
      dispatch(message);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      if (state.leaving || event.code >= 4000) {
        closeAllPeers();
        if (event.code >= 4000 && event.code !== 4001 && !state.ended) setStatus("page.left");
        return;
      }
      // A network drop or a server restart: the peer-to-peer media goes on (the bot keeps
      // recording it) while we come back by ourselves; `welcome` then renews the links.
      setStatus("page.disconnected");
      setTimeout(() => { if (!state.leaving) connect(); }, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 10000);
    };
  }

  const RECEIVE = {
    "welcome": (m) => {
      state.peerId = m.peer_id;
      state.personId = api.personId = m.person_id;
      state.iceServers = m.ice_servers || [];
      state.iceTransportPolicy = m.ice_transport_policy === "relay" ? "relay" : "all";
      state.reconnectDelay = 1000;
      api.peerId = m.peer_id;
      setStatus(m.peers.length ? "page.joined" : "page.waiting");
      send({ type: "media-state", mic: state.mic, cam: state.cam });
      closeAllPeers();  // links kept through a signaling drop: everyone has a new id now
      state.media = m.media === "janus" ? "janus" : "mesh";
      if (state.media === "janus") {  // Janus offers us each feed we may see
        m.peers.filter((info) => !ownOtherDevice(info)).forEach((info) => addPeer(info));
        publish().catch((err) => console.error("publish", err));
        return;
      }
      // We are the later joiner: we offer to everyone already here (the bot too).
      m.peers.filter((info) => !ownOtherDevice(info))
        .forEach((info) => { addPeer(info); offer(info.peer_id); });
    },
    "peer-joined": (m) => { if (!ownOtherDevice(m.peer)) { addPeer(m.peer); setStatus("page.joined"); } },
    "peer-left": (m) => removePeer(m.peer_id),
    "offer": (m) => { if (state.media === "mesh") return answer(m); },
    "answer": (m) => withPeer(m.from, async (p) => {
      if (state.media !== "mesh") return;
      await p.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
      flushIce(p);
    }),
    "ice": (m) => withPeer(m.from, async (p) => {
      if (state.media !== "mesh") return;
      if (!p.pc.remoteDescription) { p.pendingIce.push(m.candidate); return; }
      await addIce(p, m.candidate);
    }),
    "publish-answer": async (m) => {
      if (state.publisher) await state.publisher.setRemoteDescription({ type: "answer", sdp: m.sdp });
    },
    "subscribe-offer": (m) => subscribe(m),
    "media-state": (m) => withPeer(m.from, async (p) => {
      p.info.mic = m.mic; p.info.cam = m.cam; renderPeer(p);
    }),
    "prompt": (m) => showPrompt(m),
    "panel": (m) => { if (m.area === "session" && m.action === "ended") sessionEnded(); },
    "error": (m) => {
      console.warn("signaling error", m.code, m.message);
      if (m.code === "room_full") setStatus("error.room_full");
      if (m.code === "janus_unavailable") setStatus("error.janus_unavailable");
    },
  };

  function dispatch(message) {
    const handler = RECEIVE[message.type];
    if (handler) Promise.resolve(handler(message)).catch((err) => console.error(message.type, err));
    emit(message.type, message);
  }

  // ---- the mesh ---------------------------------------------------------------------
  function ownOtherDevice(info) {
    // Our phone or our screen share (source.js) sends to the bot and the watchers only.
    return !!info && info.person_id === state.personId && (info.device || "main") !== "main";
  }

  function deviceLabel(info) {
    // " · phone camera" after a person's name for their other sources (page.device_<name>)
    const device = info.device || "main";
    return device === "main" ? "" : ` · ${t(`page.device_${device}`)}`;
  }

  function addPeer(info) {
    removePeer(info.peer_id);
    const p = { info, pc: null, stream: new MediaStream(), tile: null, pendingIce: [] };
    state.peers.set(info.peer_id, p);
    // janus: no connection until Janus offers this peer's feed (subscribe-offer)
    if (state.media === "mesh") receiveFrom(p, "sendrecv");
    renderPeer(p);
    renderPeopleList();
    return p;
  }

  function receiveFrom(p, how) {
    // The connection that brings a peer's tracks: the mesh link, or the Janus feed.
    const peerId = p.info.peer_id;
    const pc = new RTCPeerConnection({
      iceServers: state.iceServers, iceTransportPolicy: state.iceTransportPolicy,
    });
    p.pc = pc;
    pc.onicecandidate = (e) => {
      const candidate = e.candidate ? e.candidate.toJSON() : null;
      if (how === "sendrecv") send({ type: "ice", to: peerId, candidate });
      else if (p.pc === pc) send({ type: "janus-ice", feed: peerId, candidate });
    };
    pc.ontrack = (e) => {
      p.stream.addTrack(e.track);
      if (p.tile) playRemote(p.tile.querySelector("video"), p.stream);
    };
    pc.onconnectionstatechange = () => {
      if (p.pc !== pc) return;
      p.info.connection = pc.connectionState;
      if (p.tile) p.tile.dataset.connection = pc.connectionState;
      emit("connection", { peer_id: peerId, state: pc.connectionState });
    };
    return pc;
  }

  // ---- Janus: publish once, receive each feed ---------------------------------------
  async function publish() {
    closePublisher();
    const pc = new RTCPeerConnection({
      iceServers: state.iceServers, iceTransportPolicy: state.iceTransportPolicy,
    });
    state.publisher = pc;
    pc.onicecandidate = (e) => {
      if (state.publisher === pc) send({ type: "janus-ice", candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    // Both kinds always (sendonly): a camera switched on later is a replaceTrack().
    for (const kind of ["audio", "video"]) {
      pc.addTransceiver(localTrack(kind) || kind, { direction: "sendonly", streams: [state.local] });
    }
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: "publish", sdp: pc.localDescription.sdp });
  }
  function closePublisher() {
    if (state.publisher) state.publisher.close();
    state.publisher = null;
  }
  async function subscribe(m) {
    const p = state.peers.get(m.feed);
    if (!p || state.media !== "janus") return;
    if (p.pc) { p.pc.close(); p.stream = new MediaStream(); }
    const pc = receiveFrom(p, "recvonly");
    await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    pc.getTransceivers().forEach((tr) => { tr.direction = "recvonly"; });
    await pc.setLocalDescription(await pc.createAnswer());
    send({ type: "subscribe-answer", feed: m.feed, sdp: pc.localDescription.sdp });
  }

  function playRemote(video, stream) {
    if (video.srcObject !== stream) video.srcObject = stream;
    video.play().catch((err) => {
      // Only a refused autoplay needs the person's click; AbortError = a newer load won.
      if (err.name === "NotAllowedError") setStatus("page.autoplay_blocked");
    });
  }

  function attachLocal(pc) {
    // Put our current tracks on the audio/video senders (no renegotiation needed).
    pc.getTransceivers().forEach((tr) => {
      const kind = tr.receiver.track.kind;
      const track = localTrack(kind);
      if (tr.sender.track !== track && tr.currentDirection !== "stopped") {
        tr.sender.replaceTrack(track).catch((err) => console.warn("replaceTrack", err));
      }
    });
  }

  async function offer(peerId) {
    const p = state.peers.get(peerId);
    for (const kind of ["audio", "video"]) {
      p.pc.addTransceiver(localTrack(kind) || kind, { direction: "sendrecv", streams: [state.local] });
    }
    await p.pc.setLocalDescription(await p.pc.createOffer());
    send({ type: "offer", to: peerId, sdp: p.pc.localDescription.sdp });
  }

  async function answer(m) {
    const p = state.peers.get(m.from) || addPeer({ peer_id: m.from, role: "?", name: "", mic: true, cam: true });
    await p.pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
    p.pc.getTransceivers().forEach((tr) => { tr.direction = "sendrecv"; });
    attachLocal(p.pc);
    await p.pc.setLocalDescription(await p.pc.createAnswer());
    send({ type: "answer", to: m.from, sdp: p.pc.localDescription.sdp });
    flushIce(p);
  }

  async function addIce(p, candidate) {
    try { await p.pc.addIceCandidate(candidate || null); } catch (err) { console.warn("addIceCandidate", err); }
  }
  function flushIce(p) { p.pendingIce.splice(0).forEach((c) => addIce(p, c)); }
  async function withPeer(peerId, fn) { const p = state.peers.get(peerId); if (p) await fn(p); }

  function removePeer(peerId) {
    const p = state.peers.get(peerId);
    if (!p) return;
    if (p.pc) p.pc.close();
    if (p.tile) p.tile.remove();
    state.peers.delete(peerId);
    renderPeopleList();
  }
  function closeAllPeers() {
    [...state.peers.keys()].forEach(removePeer);
    closePublisher();
    renderPeopleList();
  }

  // ---- rendering ----------------------------------------------------------------------
  function renderPeer(p) {
    const { info } = p;
    if (info.role !== "bot" && !p.tile) {
      const fig = document.createElement("figure");
      fig.className = "tile remote";
      // Examiners, experts and organizers watch the student: their tile is the large one;
      // the student's other sources (phone, screen) are small tiles, enlarged on a click.
      const device = info.device || "main";
      if (info.role === "student" && config.role !== "student" && device === "main") fig.classList.add("main");
      fig.dataset.peerId = info.peer_id;
      fig.dataset.role = info.role;
      fig.dataset.device = device;
      fig.addEventListener("click", () => fig.classList.toggle("enlarged"));
      const video = document.createElement("video");
      video.autoplay = true; video.playsInline = true;
      const cap = document.createElement("figcaption");
      fig.append(video, cap);
      $("tiles").append(fig);
      p.tile = fig;
      if (p.stream.getTracks().length) playRemote(video, p.stream);
    }
    if (p.tile) {
      p.tile.classList.toggle("cam-off", !info.cam);
      p.tile.dataset.name = info.name;
      const device = deviceLabel(info);
      p.tile.querySelector("figcaption").replaceChildren(
        `${info.name} · ${t("role." + info.role)}${device}`, ...(device ? [] : badges(info)));
    }
    renderPeopleList();
  }

  function badges(media) {
    // "microphone off" / "camera off" marks; nothing is shown for what is on.
    return [[media.mic, "page.mic_off", "mic"], [media.cam, "page.cam_off", "cam"]]
      .filter(([on]) => !on)
      .map(([, key, kind]) => {
        const b = document.createElement("span");
        b.className = `badge ${kind}-off`;
        b.textContent = t(key);
        return b;
      });
  }

  function renderPeopleList() {
    const list = $("people");
    list.replaceChildren();
    const me = document.createElement("li");
    me.textContent = `${config.name} (${t("page.you")})`;
    list.append(me);
    let bot = false;
    state.peers.forEach((p) => {
      const li = document.createElement("li");
      li.dataset.peerId = p.info.peer_id;
      const device = deviceLabel(p.info);
      li.append(`${p.info.name} · ${t("role." + p.info.role)}${device}`);
      if (p.info.role !== "bot" && !device) li.append(...badges(p.info));
      list.append(li);
      bot = bot || p.info.role === "bot";
    });
    $("recording").hidden = !bot;
  }

  function showPrompt(m) {
    const li = document.createElement("li");
    li.className = `prompt ${m.level === "warning" ? "warning" : "info"}`;
    li.dataset.key = m.key || "";
    // `t`: seconds from the recording start (the bot's clock); the clock is when it came.
    const now = Date.now() / 1000;
    const time = document.createElement("time");
    const since = Number(m.t);
    const hasOffset = m.t !== undefined && m.t !== null && Number.isFinite(since);
    time.className = "offset";
    time.textContent = hasOffset ? offset(since) : "";
    const wall = document.createElement("span");
    wall.className = "wall";
    wall.textContent = wallClock(now);
    const text = document.createElement("span");
    text.textContent = m.text;
    li.append(...(hasOffset ? [time, " "] : []), wall, " ", text);
    if (!hasOffset) $("prompts-legend").textContent = t("time.legend_clock", { zone: config.timezone });
    $("prompts").prepend(li);
    $("no-prompts").hidden = true;
    // The newest prompt also stays on top of the page (a phone shows no side panel).
    const banner = $("latest-prompt");
    delete banner.dataset.t;
    banner.textContent = m.text;
    banner.className = li.className;
    banner.hidden = false;
  }

  // ---- join / leave -------------------------------------------------------------------
  function join() {
    if (state.ended) return;
    state.leaving = false;
    state.joined = true;
    $("join").hidden = true;
    $("leave").hidden = false;
    delete document.body.dataset.left;
    if ($("latest-prompt").dataset.t) { $("latest-prompt").hidden = true; delete $("latest-prompt").dataset.t; }
    if (state.wanted) {  // back after leaving: the devices that were on come back on
      const wanted = state.wanted;
      state.wanted = null;
      const kinds = ["audio", "video"].filter((k) => (k === "audio" ? wanted.mic : wanted.cam));
      if (kinds.length) {
        acquire(...kinds).then((got) => {
          state.mic = wanted.mic && !!got.audio;
          state.cam = wanted.cam && !!got.video;
          renderToggles();
          send({ type: "media-state", mic: state.mic, cam: state.cam });
        });
      }
    }
    connect();
  }
  function releaseDevices() {
    // Stop every local track: the browser's camera light goes off at once.
    if (!state.wanted) state.wanted = { mic: state.mic, cam: state.cam };
    state.local.getTracks().forEach((track) => { track.stop(); state.local.removeTrack(track); });
    $("self-video").srcObject = null;
    state.mic = false;
    state.cam = false;
    renderToggles();
  }
  function leave() {
    state.leaving = true;
    state.joined = false;
    closeAllPeers();
    if (state.ws) state.ws.close(1000, "leave");
    state.ws = null;
    releaseDevices();
    $("leave").hidden = true;
    $("join").hidden = false;
    $("join").dataset.t = "page.rejoin_call";
    $("join").textContent = t("page.rejoin_call");
    // The student whose checklist or exam had begun is told it is over for them.
    const over = config.role === "student" && ["checklist", "exam", "over"].includes(state.stage);
    setStatus(over ? "page.left_over" : "page.left_call");
    showBanner(over ? "page.left_over" : "page.left_call");
    document.body.dataset.left = over ? "over" : "call";
    emit("left", { over });
  }
  function showBanner(key) {
    // The line on top of the page says where the person stands now (not an old prompt).
    const banner = $("latest-prompt");
    banner.dataset.t = key;
    banner.textContent = t(key);
    banner.className = "prompt info ended";
    banner.hidden = false;
  }
  function sessionEnded() {
    // The bot says the session is over: nothing to rejoin; camera and microphone off.
    state.ended = true;
    state.leaving = true;
    state.joined = false;
    closeAllPeers();
    if (state.ws) state.ws.close(1000, "session ended");
    state.ws = null;
    releaseDevices();
    $("leave").hidden = true;
    $("join").hidden = true;
    setStatus("page.session_ended");
    showBanner("page.session_ended");
    document.body.dataset.left = "ended";
    emit("session-ended", {});
  }

  async function inboundStats(peerId) {
    // What arrives from one peer: bytes, audio energy, decoded frames (for checks and tests).
    const p = state.peers.get(peerId);
    const result = { audio: null, video: null, route: null };
    if (!p || !p.pc) return result;
    const report = await p.pc.getStats();
    report.forEach((r) => {  // route: our candidate's type on the pair in use (relay = TURN)
      if (r.type === "candidate-pair" && r.nominated && r.state === "succeeded") {
        const local = report.get(r.localCandidateId);
        result.route = local ? local.candidateType : null;
      }
      if (r.type !== "inbound-rtp") return;
      result[r.kind] = {
        bytesReceived: r.bytesReceived || 0,
        packetsLost: r.packetsLost || 0,
        totalAudioEnergy: r.totalAudioEnergy || 0,
        framesDecoded: r.framesDecoded || 0,
        frameWidth: r.frameWidth || 0,
      };
    });
    return result;
  }

  // ---- page focus: the exam page stays in front, full screen where required [001 §4] ---
  // The bot asks the student's page to watch (panel focus/watch {fullscreen}); from then on
  // the page tells it when the tab is hidden, another window is in front, or full screen
  // is left: a start, then an end with the duration measured here (bot/page_focus.py
  // makes them events). Full screen needs a click: a box with a button asks for it.
  const FULLSCREEN_GRACE_MS = 30000;  // to read the box and press the button
  // leaving: the page is being unloaded (a reload, a reconnect, closing the tab): the
  // tab hides and the window blurs as it goes, which is not the student looking away.
  const focus = {
    watching: false, fullscreen: false, open: new Map(), exempt: 0, graceTimer: null, leaving: false,
  };
  const mainDevice = !new URLSearchParams(location.search).get("device");

  function focusReport(kind, state, extra) {
    if (!focus.watching || (focus.leaving && state === "start")) return;
    const now = performance.now();
    if (state === "start") {
      if (focus.open.has(kind)) return;
      focus.open.set(kind, now);
      send({ type: "panel", area: "focus", action: "change", data: { kind, state, ...(extra || {}) } });
    } else {
      const since = focus.open.get(kind);
      if (since === undefined) return;
      focus.open.delete(kind);
      const duration = Math.round(now - since) / 1000;
      send({ type: "panel", area: "focus", action: "change", data: { kind, state, duration } });
    }
  }
  function inFullscreen() { return !!document.fullscreenElement; }
  function renderFocusAsk() {
    let box = $("focus-ask");
    const show = focus.watching && focus.fullscreen && !inFullscreen() && !state.ended;
    if (!show) { if (box) box.hidden = true; return; }
    if (!box) {
      box = document.createElement("section");
      box.id = "focus-ask";
      box.setAttribute("role", "alertdialog");
      const text = document.createElement("p");
      text.id = "focus-ask-text";
      const button = document.createElement("button");
      button.type = "button";
      button.id = "focus-fullscreen";
      button.addEventListener("click", () => {
        document.documentElement.requestFullscreen().catch((err) => {
          console.warn("requestFullscreen", err);
          $("focus-ask-text").textContent = t("focus.fullscreen_failed");
        });
      });
      box.append(text, button);
      $("latest-prompt").after(box);
    }
    const left = box.dataset.entered === "1";
    $("focus-ask-text").textContent = t(left ? "focus.fullscreen_left" : "focus.fullscreen_ask");
    $("focus-fullscreen").textContent = t("focus.fullscreen_button");
    box.hidden = false;
  }
  function onFullscreenChange() {
    const box = $("focus-ask");
    if (inFullscreen()) {
      if (box) box.dataset.entered = "1";
      clearTimeout(focus.graceTimer);
      focusReport("fullscreen_left", "end");
    } else if (focus.fullscreen && !focus.exempt) {
      focusReport("fullscreen_left", "start");
    }
    renderFocusAsk();
  }
  function focusWatch(data) {
    if (config.role !== "student" || !mainDevice || focus.watching) return;
    focus.watching = true;
    focus.fullscreen = !!(data && data.fullscreen);
    const notice = focus.fullscreen ? "focus.notice_fullscreen" : "focus.notice";
    showPrompt({ key: notice, text: t(notice), level: "info" });
    // marked with its key: a change of language translates it (applyTexts)
    const line = $("prompts").firstElementChild;
    if (line && line.lastElementChild) line.lastElementChild.dataset.t = notice;
    $("latest-prompt").dataset.t = notice;
    if (document.hidden) focusReport("page_hidden", "start");
    if (focus.fullscreen && !inFullscreen()) {
      // Never entered: after the grace the time outside full screen counts.
      focus.graceTimer = setTimeout(() => {
        if (!inFullscreen()) focusReport("fullscreen_left", "start", { reason: "not_entered" });
      }, FULLSCREEN_GRACE_MS);
    }
    renderFocusAsk();
  }
  async function focusExempt(work) {
    // A dialog the page opens itself (the screen picker) takes the focus: not reported.
    focus.exempt += 1;
    try { return await work(); } finally {
      focus.exempt -= 1;
      if (!focus.exempt && !document.hasFocus()) focusReport("window_blur", "start");
      if (!focus.exempt && focus.fullscreen && !inFullscreen()) focusReport("fullscreen_left", "start");
    }
  }
  window.addEventListener("pagehide", () => { focus.leaving = true; });
  window.addEventListener("pageshow", () => { focus.leaving = false; });
  document.addEventListener("visibilitychange", () => {
    focusReport("page_hidden", document.hidden ? "start" : "end");
  });
  window.addEventListener("blur", () => { if (!focus.exempt) focusReport("window_blur", "start"); });
  window.addEventListener("focus", () => focusReport("window_blur", "end"));
  document.addEventListener("fullscreenchange", onFullscreenChange);
  on("panel", (m) => { if (m.area === "focus" && m.action === "watch") focusWatch(m.data); });
  on("language", () => renderFocusAsk());
  on("session-ended", () => { focus.watching = false; renderFocusAsk(); });

  // ---- a trial call ends by itself once its checks are done (checklist/trial.py) ------
  on("panel", (m) => {
    if (m.area === "session" && m.action === "ended" && m.data && m.data.reason === "trial_over") {
      setStatus("trial.over");
      showBanner("trial.over");
    }
  });

  // ---- the API for examiner-panel scripts (/static/areas/*.js) ------------------------
  function on(type, handler) {
    if (!state.handlers.has(type)) state.handlers.set(type, []);
    state.handlers.get(type).push(handler);
  }
  function emit(type, message) {
    (state.handlers.get(type) || []).forEach((h) => {
      try { h(message); } catch (err) { console.error("handler for", type, err); }
    });
  }
  const api = {
    role: config.role,
    name: config.name,
    sessionId: config.session_id,
    peerId: null,                         // set on `welcome`
    personId: null,                       // set on `welcome`
    token: config.token,                  // our call token (the phone's QR link is made from it)
    sources: config.sources || {},        // {phone, screen}: what the profile asks of the student
    panel: $("panel"),                    // the examiner panel container
    get language() { return state.language; },
    t,                                    // t("page.join"): texts of the page
    send,                                 // send({type: "panel", area, action, data})
    sendPanel: (area, action, data = {}) => send({ type: "panel", area, action, data }),
    on,                                   // on("panel", (msg) => ...), on("welcome", ...)
    peers: () => [...state.peers.values()].map((p) => ({ ...p.info })),
    media: () => ({ mic: state.mic, cam: state.cam }),
    localTracks: () => state.local.getTracks().map((tr) => ({ kind: tr.kind, state: tr.readyState })),
    setStage: (stage) => { state.stage = stage; },  // the checklist says where the exam is
    get timezone() { return config.timezone; },
    offset,                               // offset(754) -> "12:34" from the recording start
    wallClock,                            // wallClock(unixSeconds) -> "11:44:05" in the exam's zone
    stats: inboundStats,                  // await stats(peerId): {audio, video, route} received
    setMedia,                             // setMedia("video", true)
    focusExempt,                          // await focusExempt(() => getDisplayMedia(...))
    focusState: () => ({ watching: focus.watching, fullscreen: focus.fullscreen, open: [...focus.open.keys()] }),
    join,
    leave,
  };
  window.proctorbot = api;

  // ---- start --------------------------------------------------------------------------
  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
    state.language = b.dataset.lang;
    applyTexts();
  }));
  $("join").addEventListener("click", join);
  $("leave").addEventListener("click", leave);
  $("toggle-mic").addEventListener("click", () => setMedia("audio", !state.mic));
  $("toggle-cam").addEventListener("click", () => setMedia("video", !state.cam));
  document.addEventListener("click", () => {
    document.querySelectorAll("video").forEach((v) => { if (v.paused && v.srcObject) v.play().catch(() => {}); });
    if ($("status").dataset.t === "page.autoplay_blocked") setStatus("page.joined");
  });
  applyTexts();
  document.body.dataset.ready = "1";
  // Self-preview before joining; an expert starts with nothing switched on.
  if (state.cam || state.mic) {
    acquire(...["audio", "video"].filter((k) => (k === "audio" ? state.mic : state.cam)))
      .then((got) => {
        state.mic = state.mic && !!got.audio;
        state.cam = state.cam && !!got.video;
        renderToggles();
        send({ type: "media-state", mic: state.mic, cam: state.cam });
      });
  }
})();
