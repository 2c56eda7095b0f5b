// The phone's page (the QR link of the student's page): the phone is a second camera, a
// side view of the student, the desk and the hands. Camera only, rear or front chosen
// here, no microphone; sent by `source.js` as the person's device "phone".
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("call-config").textContent);
  const $ = (id) => document.getElementById(id);
  const state = { language: config.language, facing: "environment", track: null, source: null };

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
    document.querySelectorAll("[data-facing]").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.facing === state.facing));
    });
    $("who").textContent = `${config.name} · ${t("phone.title")}`;
  }
  function setStatus(key) { $("status").dataset.t = key; $("status").textContent = t(key); }

  async function camera(facing) {
    // The chosen side; a phone without it (a laptop opening the link) gives any camera.
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: facing }, width: { ideal: 640 }, height: { ideal: 480 } },
    });
    const track = stream.getVideoTracks()[0];
    if (state.track) state.track.stop();
    state.track = track;
    $("phone-video").srcObject = new MediaStream([track]);
    return track;
  }

  async function choose(facing) {
    state.facing = facing;
    applyTexts();
    try {
      const track = await camera(facing);
      if (state.source) state.source.setTrack(track);
    } catch (err) {
      console.warn("getUserMedia", err);
      setStatus("phone.camera_denied");
    }
  }

  function sourceState(value) {
    document.body.dataset.state = value;
    const keys = {
      connecting: "phone.connecting",
      sending: "phone.sending",
      stopped: "phone.stopped",
      refused: "phone.refused",
    };
    if (keys[value]) setStatus(keys[value]);
    const running = value === "connecting" || value === "sending";
    $("phone-start").hidden = running;
    $("phone-stop").hidden = !running;
  }

  async function start() {
    try {
      const track = state.track && state.track.readyState === "live" ? state.track : await camera(state.facing);
      state.source = window.ProctorSource.create({
        token: config.token,
        wsPath: config.ws_path,
        device: config.device,
        track,
        onState: sourceState,
      }).start();
    } catch (err) {
      console.warn("phone camera", err);
      setStatus("phone.camera_denied");
    }
  }
  function stop() {
    if (state.source) state.source.stop("left");
    state.source = null;
    if (state.track) state.track.stop();
    state.track = null;
    $("phone-video").srcObject = null;
  }

  document.querySelectorAll("[data-lang]").forEach((b) => b.addEventListener("click", () => {
    state.language = b.dataset.lang;
    applyTexts();
    if ($("status").dataset.t) setStatus($("status").dataset.t);
  }));
  document.querySelectorAll("[data-facing]").forEach((b) => b.addEventListener("click", () => choose(b.dataset.facing)));
  $("phone-start").addEventListener("click", start);
  $("phone-stop").addEventListener("click", stop);
  window.addEventListener("pagehide", stop);
  applyTexts();
  setStatus("phone.ready");
  window.proctorbotPhone = { start, stop, choose, get state() { return document.body.dataset.state; } };
  document.body.dataset.ready = "1";
  camera(state.facing).catch(() => setStatus("phone.camera_denied"));
})();
