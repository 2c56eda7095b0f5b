// The dashboard's session page: "play from here" seeks the session's recording to a
// finding's time (seconds from the start of the recording, the origin of every event).
// A file of its own: the server's Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var player = document.getElementById("session-recording");
  if (!player) return;
  var segments = JSON.parse(player.dataset.segments || "[]");

  function segmentAt(t) {
    // The last segment that starts at or before t (a recording in pieces plays as one).
    var chosen = segments[0];
    for (var i = 0; i < segments.length; i++) {
      if (t >= segments[i].offset) chosen = segments[i];
    }
    return chosen;
  }

  function seek(t) {
    if (!segments.length) return;
    var segment = segmentAt(t);
    var local = Math.max(0, t - segment.offset);
    var go = function () {
      player.currentTime = local;
      var playing = player.play();
      if (playing && playing.catch) playing.catch(function () {});
    };
    if (player.getAttribute("src") !== segment.src) {
      player.setAttribute("src", segment.src);
      player.addEventListener("loadedmetadata", go, { once: true });
      player.load();
    } else if (player.readyState >= 1) {
      go();
    } else {
      player.addEventListener("loadedmetadata", go, { once: true });
    }
    player.scrollIntoView({ block: "nearest" });
  }

  // A recording in pieces plays on into the next one.
  player.addEventListener("ended", function () {
    var src = player.getAttribute("src");
    for (var i = 0; i + 1 < segments.length; i++) {
      if (segments[i].src === src) {
        player.setAttribute("src", segments[i + 1].src);
        player.load();
        var playing = player.play();
        if (playing && playing.catch) playing.catch(function () {});
        return;
      }
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.play-from");
    if (!button) return;
    var t = parseFloat(button.dataset.t);
    if (isNaN(t)) return;
    document.querySelectorAll("li.finding.playing").forEach(function (li) { li.classList.remove("playing"); });
    var item = button.closest("li.finding");
    if (item) item.classList.add("playing");
    seek(t);
  });

  window.proctorDashboard = { seek: seek };
})();
