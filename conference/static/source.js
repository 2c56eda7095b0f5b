// A send-only source: one of a person's devices beside their call page (the phone as a
// second camera, the screen share) on a signaling connection of its own, `?device=<name>`.
// It sends one video track to the bot (which records it as a source of its own,
// `<role>-<id>-<device>`) and to those who watch (examiner, expert, organizer); never to
// the person's other devices, and it receives nothing. The same messages as the call
// page (docs/architecture.md, Signaling): we offer to those present; a newcomer offers to
// us and we answer with our one video track, everything else inactive. With
// `welcome.media === "janus"` the track is published once to Janus (`publish`) and the
// server lets only the watchers subscribe to it (conference/janus_bridge.py `sees`).
"use strict";

(function () {
  const WATCHERS = new Set(["bot", "examiner", "expert", "organizer"]);

  function createSource(options) {
    // options: {token, wsPath, device, track, onState(state, detail)}
    const self = {
      device: options.device,
      track: options.track,
      state: "idle",        // idle | connecting | sending | stopped | refused
      peerId: null,
    };
    const peers = new Map();  // peer_id -> {info, pc, pendingIce}
    let publisher = null;     // janus: our one sendonly connection to Janus
    let ws = null;
    let stopped = false;
    let delay = 1000;
    let ice = { iceServers: [], iceTransportPolicy: "all" };  // from each `welcome` (TURN)

    function setState(state, detail) {
      self.state = state;
      if (options.onState) options.onState(state, detail || {});
    }
    function send(message) {
      if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(message)); return true; }
      return false;
    }

    function connect() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const url = `${scheme}//${location.host}${options.wsPath || "/ws"}?t=${encodeURIComponent(options.token)}`
        + `&device=${encodeURIComponent(options.device)}`;
      setState("connecting");
      const socket = new WebSocket(url);
      ws = socket;
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch (err) { return; }
        const handler = RECEIVE[message.type];
        if (handler) Promise.resolve(handler(message)).catch((err) => console.error("source", message.type, err));
      };
      socket.onclose = (event) => {
        if (ws !== socket) return;
        closeAll();
        if (stopped) return;
        if (event.code >= 4000) {  // refused, replaced by a newer connection of this device
          stopped = true;
          setState("refused", { code: event.code, reason: event.reason });
          return;
        }
        setState("connecting");
        setTimeout(() => { if (!stopped) connect(); }, delay);
        delay = Math.min(delay * 2, 10000);
      };
    }

    const RECEIVE = {
      "welcome": (m) => {
        self.peerId = m.peer_id;
        delay = 1000;
        ice = {
          iceServers: m.ice_servers || [],
          iceTransportPolicy: m.ice_transport_policy === "relay" ? "relay" : "all",
        };
        closeAll();
        send({ type: "media-state", mic: false, cam: true });
        if (m.media === "janus") {
          publish().catch((err) => console.error("source publish", err));
          setState("sending");
          return;
        }
        m.peers.forEach((info) => { peers.set(info.peer_id, { info, pc: null, pendingIce: [] }); });
        m.peers.filter((info) => WATCHERS.has(info.role)).forEach((info) => offer(info.peer_id));
        setState("sending");
      },
      "peer-joined": (m) => { peers.set(m.peer.peer_id, { info: m.peer, pc: null, pendingIce: [] }); },
      "peer-left": (m) => close(m.peer_id),
      "offer": (m) => { if (!publisher) return answer(m); },
      "publish-answer": async (m) => {
        if (publisher) await publisher.setRemoteDescription({ type: "answer", sdp: m.sdp });
      },
      "answer": async (m) => {
        const p = peers.get(m.from);
        if (!p || !p.pc) return;
        await p.pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
        flushIce(p);
      },
      "ice": async (m) => {
        const p = peers.get(m.from);
        if (!p || !p.pc) return;
        if (!p.pc.remoteDescription) { p.pendingIce.push(m.candidate); return; }
        await addIce(p, m.candidate);
      },
      "panel": (m) => { if (m.area === "session" && m.action === "ended") stop("ended"); },
    };

    function newPc(peerId) {
      const p = peers.get(peerId) || { info: { peer_id: peerId, role: "?" }, pendingIce: [] };
      if (p.pc) p.pc.close();
      p.pc = new RTCPeerConnection(ice);
      p.pendingIce = [];
      p.pc.onicecandidate = (e) => send({ type: "ice", to: peerId, candidate: e.candidate ? e.candidate.toJSON() : null });
      peers.set(peerId, p);
      return p;
    }

    async function publish() {
      const pc = new RTCPeerConnection(ice);
      publisher = pc;
      pc.onicecandidate = (e) => {
        if (publisher === pc) send({ type: "janus-ice", candidate: e.candidate ? e.candidate.toJSON() : null });
      };
      pc.addTransceiver(self.track, { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      send({ type: "publish", sdp: pc.localDescription.sdp });
    }

    async function offer(peerId) {
      const p = newPc(peerId);
      p.pc.addTransceiver(self.track, { direction: "sendonly" });
      await p.pc.setLocalDescription(await p.pc.createOffer());
      send({ type: "offer", to: peerId, sdp: p.pc.localDescription.sdp });
    }

    async function answer(m) {
      const known = peers.get(m.from);
      if (!known || !WATCHERS.has(known.info.role)) return;  // only those who watch
      const p = newPc(m.from);
      await p.pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
      let video = false;
      p.pc.getTransceivers().forEach((tr) => {
        if (!video && tr.receiver.track.kind === "video") {
          video = true;
          tr.direction = "sendonly";
          tr.sender.replaceTrack(self.track).catch((err) => console.warn("replaceTrack", err));
        } else {
          tr.direction = "inactive";  // no microphone, nothing received
        }
      });
      await p.pc.setLocalDescription(await p.pc.createAnswer());
      send({ type: "answer", to: m.from, sdp: p.pc.localDescription.sdp });
      flushIce(p);
    }

    async function addIce(p, candidate) {
      try { await p.pc.addIceCandidate(candidate || null); } catch (err) { console.warn("addIceCandidate", err); }
    }
    function flushIce(p) { p.pendingIce.splice(0).forEach((c) => addIce(p, c)); }
    function close(peerId) {
      const p = peers.get(peerId);
      if (p && p.pc) p.pc.close();
      peers.delete(peerId);
    }
    function closeAll() {
      [...peers.keys()].forEach(close);
      if (publisher) publisher.close();
      publisher = null;
    }

    function setTrack(track) {
      // Another camera (rear/front) on the same connections: no renegotiation needed.
      self.track = track;
      const pcs = [...peers.values()].map((p) => p.pc).concat([publisher]);
      pcs.forEach((pc) => {
        if (!pc) return;
        pc.getSenders().forEach((s) => {
          if (s.track === null || s.track.kind === "video") s.replaceTrack(track).catch(() => {});
        });
      });
    }

    function stop(reason) {
      // Leave: the others see `peer-left`, the bot closes this source's recording (a gap).
      if (stopped) return;
      stopped = true;
      closeAll();
      if (ws) ws.close(1000, reason || "stop");
      ws = null;
      setState("stopped", { reason: reason || "stop" });
    }

    self.start = () => { if (!ws && !stopped) connect(); return self; };
    self.stop = stop;
    self.setTrack = setTrack;
    return self;
  }

  window.ProctorSource = { create: createSource };
})();
