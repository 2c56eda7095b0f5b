// The student's sources beside camera and microphone, where the session's rule profile
// asks for them (config.sources, conference/extra_sources.py):
// - the phone as a second camera: a QR code with a short-lived link to the phone's page
//   (a fresh one on request), and whether the phone is connected;
// - the screen: shared with getDisplayMedia, the whole screen only (a window or a tab is
//   refused and asked again), sent as the device "screen" by source.js; when sharing
//   stops the student is asked to share again (the bot records a gap meanwhile).
"use strict";

(function () {
  const pb = window.proctorbot;
  if (!pb || pb.role !== "student" || !window.ProctorSource) return;
  const wanted = pb.sources || {};
  if (!wanted.phone && !wanted.screen) return;

  const box = document.createElement("section");
  box.id = "sources-box";
  const side = document.getElementById("side");
  side.insertBefore(box, side.firstChild);
  const devices = new Map();  // peer_id -> device, for the person's other devices present

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function present(device) { return [...devices.values()].includes(device); }

  // ---- the phone ----------------------------------------------------------------------
  const phone = wanted.phone ? el("div", { id: "phone-box", class: "source" }) : null;
  const screen = wanted.screen ? el("div", { id: "screen-box", class: "source" }) : null;
  const link = { url: "", qr: "", minutes: 0, error: "" };

  async function freshLink() {
    try {
      const answer = await fetch(`/call/phone-link?t=${encodeURIComponent(pb.token)}`, { cache: "no-store" });
      const data = await answer.json();
      if (!answer.ok) throw new Error(data.error || answer.status);
      Object.assign(link, { url: data.url, qr: data.qr, minutes: data.valid_minutes, error: "" });
    } catch (err) {
      console.warn("phone link", err);
      link.error = String(err);
    }
    render();
  }

  function renderPhone() {
    const connected = present("phone");
    phone.dataset.connected = String(connected);
    phone.dataset.phoneLink = link.url;
    const parts = [el("h2", {}, pb.t("sources.phone_title"))];
    if (connected) {
      parts.push(el("p", { class: "ok" }, pb.t("sources.phone_connected")));
    } else {
      parts.push(el("p", {}, pb.t("sources.phone_scan")));
      if (link.qr) {
        const img = el("img", { id: "phone-qr", src: link.qr, alt: pb.t("sources.phone_qr_alt"), width: "260", height: "260" });
        parts.push(img);
        parts.push(el("p", { class: "legend" }, pb.t("sources.phone_valid").replace("{minutes}", String(Math.round(link.minutes)))));
      } else if (link.error) {
        parts.push(el("p", { class: "warning" }, pb.t("sources.phone_link_failed")));
      }
      const again = el("button", { type: "button", id: "phone-new-code" }, pb.t("sources.phone_new_code"));
      again.addEventListener("click", freshLink);
      parts.push(again);
    }
    phone.replaceChildren(...parts);
  }

  // ---- the screen ---------------------------------------------------------------------
  const share = { source: null, track: null, message: "sources.screen_ask" };

  async function startSharing() {
    let stream;
    try {
      const pick = () => navigator.mediaDevices.getDisplayMedia({
        video: { displaySurface: "monitor" }, audio: false, monitorTypeSurfaces: "include",
      });
      // the picker takes the focus: not a focus event of the exam page (call.js)
      stream = pb.focusExempt ? await pb.focusExempt(pick) : await pick();
    } catch (err) {
      console.warn("getDisplayMedia", err);
      share.message = "sources.screen_denied";
      render();
      return;
    }
    const track = stream.getVideoTracks()[0];
    const surface = (track.getSettings() || {}).displaySurface;
    if (surface !== "monitor") {  // a window or a tab: refused, asked again
      stream.getTracks().forEach((tr) => tr.stop());
      share.message = "sources.screen_not_whole";
      screen.dataset.refused = surface || "unknown";
      render();
      return;
    }
    delete screen.dataset.refused;
    share.track = track;
    share.source = window.ProctorSource.create({
      token: pb.token, device: "screen", track,
      onState: (value) => { screen.dataset.state = value; render(); },
    }).start();
    track.addEventListener("ended", () => stopSharing("sources.screen_stopped"));
    share.message = "sources.screen_sharing";
    render();
  }
  function stopSharing(message) {
    if (share.source) share.source.stop("sharing stopped");
    if (share.track) share.track.stop();
    share.source = null;
    share.track = null;
    share.message = message;
    render();
  }

  function renderScreen() {
    const sharing = !!share.source;
    screen.dataset.sharing = String(sharing);
    const text = el("p", { id: "screen-message", class: share.message === "sources.screen_sharing" ? "ok" : "" }, pb.t(share.message));
    const parts = [el("h2", {}, pb.t("sources.screen_title")), text];
    if (sharing) {
      const stop = el("button", { type: "button", id: "screen-stop" }, pb.t("sources.screen_stop"));
      stop.addEventListener("click", () => stopSharing("sources.screen_stopped"));
      parts.push(stop);
    } else {
      const start = el("button", { type: "button", id: "screen-share" }, pb.t("sources.screen_start"));
      start.addEventListener("click", startSharing);
      parts.push(start);
    }
    screen.replaceChildren(...parts);
  }

  function render() {
    if (phone) renderPhone();
    if (screen) renderScreen();
  }

  // ---- the person's other devices, from the signaling ---------------------------------
  function mine(info) { return info && info.person_id === pb.personId && (info.device || "main") !== "main"; }
  pb.on("welcome", (m) => {
    devices.clear();
    m.peers.filter(mine).forEach((info) => devices.set(info.peer_id, info.device));
    render();
  });
  pb.on("peer-joined", (m) => { if (mine(m.peer)) { devices.set(m.peer.peer_id, m.peer.device); render(); } });
  pb.on("peer-left", (m) => {
    if (devices.delete(m.peer_id)) {
      if (phone && !present("phone")) freshLink();  // a fresh code to come back with
      render();
    }
  });
  pb.on("language", render);
  pb.on("session-ended", () => stopSharing("sources.screen_stopped"));
  pb.on("left", () => { if (share.source) stopSharing("sources.screen_stopped"); });

  [phone, screen].filter(Boolean).forEach((node) => box.append(node));
  render();
  if (phone) freshLink();
  pb.shareScreen = startSharing;  // for tests and the checklist's equipment step
})();
