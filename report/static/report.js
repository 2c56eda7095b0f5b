// The report page's player: clicking a finding, a timeline marker or a transcript line
// seeks the matching recording. A file of its own (copied next to report.html by
// report/output.py): the server's Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  // Each player holds its participant's segments; seeking picks the segment that covers t.
  function players() { return Array.prototype.slice.call(document.querySelectorAll("[data-segments]")); }
  function playerFor(track) {
    // Seeing matters most: the participant's own video, else the composite of everyone,
    // else the participant's sound, else the first player.
    var all = players();
    function find(who, tag) {
      for (var i = 0; i < all.length; i++) {
        var mine = all[i].closest(".player").dataset.participant === who;
        if (mine && (!tag || all[i].tagName === tag)) return all[i];
      }
      return null;
    }
    return find(track, "VIDEO") || find("*") || find(track) || all[0] || null;
  }
  function seek(t, track) {
    var el = playerFor(track);
    if (!el) return false;
    var segments = JSON.parse(el.dataset.segments);
    var chosen = segments[0];
    for (var i = 0; i < segments.length; i++) {
      if (t >= segments[i].offset) chosen = segments[i];
    }
    var local = Math.max(0, t - chosen.offset);
    var apply = function () { el.currentTime = local; };
    if (el.getAttribute("src") !== chosen.src) {
      el.setAttribute("src", chosen.src);
      el.addEventListener("loadedmetadata", apply, { once: true });
      el.load();
    } else if (el.readyState >= 1) {
      apply();
    } else {
      el.addEventListener("loadedmetadata", apply, { once: true });
    }
    el.scrollIntoView({ block: "nearest" });
    return true;
  }
  // A recording made of segments plays on into the next one.
  players().forEach(function (el) {
    el.addEventListener("ended", function () {
      var segments = JSON.parse(el.dataset.segments);
      var src = el.getAttribute("src");
      for (var i = 0; i + 1 < segments.length; i++) {
        if (segments[i].src === src) {
          el.setAttribute("src", segments[i + 1].src);
          el.load();
          el.play();
          return;
        }
      }
    });
  });
  window.proctorReport = { seek: seek };
  document.addEventListener("click", function (event) {
    var target = event.target.closest(".marker, button.jump, .transcript p");
    if (!target) return;
    var t = parseFloat(target.dataset.t || target.getAttribute("data-t"));
    if (isNaN(t)) return;
    if (seek(t, target.dataset.track || target.getAttribute("data-track") || "")) {
      if (target.classList.contains("marker")) event.preventDefault();
    }
  });
})();
