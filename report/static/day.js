// Live status of an exam day's sessions: the table follows them without a reload.
// A file of its own: the server's Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  var table = document.querySelector("table.sessions[data-day]");
  if (!table) return;
  var url = "/dashboard/api/days/" + encodeURIComponent(table.dataset.day) + "/sessions";
  setInterval(function () {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return;
        data.sessions.forEach(function (s) {
          var row = table.querySelector('tr[data-session="' + s.session_id + '"]');
          if (!row) return;
          var cell = row.querySelector(".status");
          cell.textContent = s.status_text || s.status; cell.className = "status status-" + s.status;
          cell.dataset.status = s.status;
          row.querySelector(".score").textContent = s.score === null ? "—" : s.score;
        });
      });
  }, 5000);
})();
