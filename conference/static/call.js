// The call page: self-preview, a browser mesh (one RTCPeerConnection per other peer),
// the bot's prompts, mic/cam toggles, and a tiny API for examiner-panel scripts.
//
// Signaling (docs/architecture.md): the peer that joins later offers to everyone
// already present. Each connection always negotiates one audio and one video
// transceiver (sendrecv), so a camera switched on later needs no renegotiation:
// the track is simply put on the sender with replaceTrack().
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
    iceServers: [],
    local: new MediaStream(),   // our own tracks (may be empty: expert, denied)
    mic: config.role !== "expert",  // an expert joins with camera and microphone off
    cam: config.role !== "expert",
    peers: new Map(),            // peer_id -> {info, pc, stream, tile, pendingIce: []}
    handlers: new Map(),         // message type -> [handler]
    reconnectDelay: 1000,
  };

  // ---- texts --------------------------------------------------------------------------
  function t(key) {
    const texts = config.texts[state.language] || {};
    return texts[key] || (config.texts.en || {})[key] || key;
  }
  function applyTexts() {
    document.documentElement.lang = state.language;
    document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
    document.querySelectorAll("[data-lang]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.language));
    });
    $("who").textContent = `${config.name} · ${t("role." + config.role)}`;
    renderToggles();
    state.peers.forEach((p) => renderPeer(p));
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
    state.peers.forEach((p) => attachLocal(p.pc));
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
    $("self-state").replaceChildren(...badges(state));
    $("self-tile").classList.toggle("cam-off", !state.cam);
    $("self-tile").dataset.name = config.name;
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
    const url = `${scheme}//${location.host}${config.ws_path}?t=${encodeURIComponent(config.token)}`;
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
      closeAllPeers();
      if (state.leaving || event.code >= 4000) {
        if (event.code >= 4000 && event.code !== 4001) setStatus("page.left");
        return;
      }
      setStatus("page.disconnected");   // a network drop: come back by ourselves
      setTimeout(() => { if (!state.leaving) connect(); }, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 10000);
    };
  }

  const RECEIVE = {
    "welcome": (m) => {
      state.peerId = m.peer_id;
      state.iceServers = m.ice_servers || [];
      state.reconnectDelay = 1000;
      api.peerId = m.peer_id;
      setStatus(m.peers.length ? "page.joined" : "page.waiting");
      send({ type: "media-state", mic: state.mic, cam: state.cam });
      // We are the later joiner: we offer to everyone already here (the bot too).
      m.peers.forEach((info) => { addPeer(info); offer(info.peer_id); });
    },
    "peer-joined": (m) => { addPeer(m.peer); setStatus("page.joined"); },
    "peer-left": (m) => removePeer(m.peer_id),
    "offer": (m) => answer(m),
    "answer": (m) => withPeer(m.from, async (p) => {
      await p.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
      flushIce(p);
    }),
    "ice": (m) => withPeer(m.from, async (p) => {
      if (!p.pc.remoteDescription) { p.pendingIce.push(m.candidate); return; }
      await addIce(p, m.candidate);
    }),
    "media-state": (m) => withPeer(m.from, async (p) => {
      p.info.mic = m.mic; p.info.cam = m.cam; renderPeer(p);
    }),
    "prompt": (m) => showPrompt(m),
    "error": (m) => {
      console.warn("signaling error", m.code, m.message);
      if (m.code === "room_full") setStatus("error.room_full");
    },
  };

  function dispatch(message) {
    const handler = RECEIVE[message.type];
    if (handler) Promise.resolve(handler(message)).catch((err) => console.error(message.type, err));
    emit(message.type, message);
  }

  // ---- the mesh ---------------------------------------------------------------------
  function addPeer(info) {
    removePeer(info.peer_id);
    const pc = new RTCPeerConnection({ iceServers: state.iceServers });
    const p = { info, pc, stream: new MediaStream(), tile: null, pendingIce: [] };
    state.peers.set(info.peer_id, p);
    pc.onicecandidate = (e) => send({ type: "ice", to: info.peer_id, candidate: e.candidate ? e.candidate.toJSON() : null });
    pc.ontrack = (e) => {
      p.stream.addTrack(e.track);
      if (p.tile) playRemote(p.tile.querySelector("video"), p.stream);
    };
    pc.onconnectionstatechange = () => {
      p.info.connection = pc.connectionState;
      if (p.tile) p.tile.dataset.connection = pc.connectionState;
      emit("connection", { peer_id: info.peer_id, state: pc.connectionState });
    };
    renderPeer(p);
    renderPeopleList();
    return p;
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
    p.pc.close();
    if (p.tile) p.tile.remove();
    state.peers.delete(peerId);
    renderPeopleList();
  }
  function closeAllPeers() { [...state.peers.keys()].forEach(removePeer); renderPeopleList(); }

  // ---- rendering ----------------------------------------------------------------------
  function renderPeer(p) {
    const { info } = p;
    if (info.role !== "bot" && !p.tile) {
      const fig = document.createElement("figure");
      fig.className = "tile remote";
      fig.dataset.peerId = info.peer_id;
      fig.dataset.role = info.role;
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
      p.tile.querySelector("figcaption").replaceChildren(
        `${info.name} · ${t("role." + info.role)}`, ...badges(info));
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
      li.append(`${p.info.name} · ${t("role." + p.info.role)}`);
      if (p.info.role !== "bot") li.append(...badges(p.info));
      list.append(li);
      bot = bot || p.info.role === "bot";
    });
    $("recording").hidden = !bot;
  }

  function showPrompt(m) {
    const li = document.createElement("li");
    li.className = `prompt ${m.level === "warning" ? "warning" : "info"}`;
    li.dataset.key = m.key || "";
    const time = document.createElement("time");
    time.textContent = new Date().toLocaleTimeString(state.language, { hour: "2-digit", minute: "2-digit" });
    const text = document.createElement("span");
    text.textContent = m.text;
    li.append(time, " ", text);
    $("prompts").prepend(li);
    $("no-prompts").hidden = true;
    // The newest prompt also stays on top of the page (a phone shows no side panel).
    const banner = $("latest-prompt");
    banner.textContent = m.text;
    banner.className = li.className;
    banner.hidden = false;
  }

  // ---- join / leave -------------------------------------------------------------------
  function join() {
    state.leaving = false;
    state.joined = true;
    $("join").hidden = true;
    $("leave").hidden = false;
    connect();
  }
  function leave() {
    state.leaving = true;
    state.joined = false;
    closeAllPeers();
    if (state.ws) state.ws.close(1000, "leave");
    state.ws = null;
    $("leave").hidden = true;
    $("join").hidden = false;
    $("join").dataset.t = "page.rejoin";
    $("join").textContent = t("page.rejoin");
    setStatus("page.left");
  }

  async function inboundStats(peerId) {
    // What arrives from one peer: bytes, audio energy, decoded frames (for checks and tests).
    const p = state.peers.get(peerId);
    const result = { audio: null, video: null };
    if (!p) return result;
    (await p.pc.getStats()).forEach((r) => {
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
    panel: $("panel"),                    // the examiner panel container
    get language() { return state.language; },
    t,                                    // t("page.join"): texts of the page
    send,                                 // send({type: "panel", area, action, data})
    sendPanel: (area, action, data = {}) => send({ type: "panel", area, action, data }),
    on,                                   // on("panel", (msg) => ...), on("welcome", ...)
    peers: () => [...state.peers.values()].map((p) => ({ ...p.info })),
    media: () => ({ mic: state.mic, cam: state.cam }),
    stats: inboundStats,                  // await stats(peerId): {audio, video} received
    setMedia,                             // setMedia("video", true)
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
