// The live queue: count down business time in the browser, and swap in the rows the server
// pushes (Server-Sent Events). No framework and no build step: the server renders every row.
"use strict";
(function () {
  var table = document.getElementById("queue");
  if (!table) return;
  var body = table.tBodies[0];
  var loaded = performance.now();
  // Each row counts from when it was rendered, and only as long as the desk stays open
  // (data-ticking: seconds of business time left before the calendar closes; 0 when paused).
  function stamp(row) { row.dataset.since = String(performance.now()); }
  function text(seconds) {
    var sign = seconds < 0 ? "-" : "", s = Math.floor(Math.abs(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return sign + h + ":" + String(m).padStart(2, "0") + ":" + String(r).padStart(2, "0");
  }
  function left(row) {
    var since = Number(row.dataset.since || loaded), ticking = Number(row.dataset.ticking);
    var elapsed = Math.min((performance.now() - since) / 1000, ticking);
    return Number(row.dataset.remaining) - elapsed;
  }
  function tick() {
    Array.prototype.forEach.call(body.rows, function (row) {
      if (!row.dataset.remaining || Number(row.dataset.ticking) <= 0) return;
      var seconds = left(row), shown = row.querySelector(".countdown");
      shown.textContent = text(seconds);
      if (seconds <= 0 && !row.classList.contains("breached")) {
        row.classList.remove("at-risk", "on-time");
        row.classList.add("breached");
      }
    });
  }
  function sort() {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { return left(a) - left(b); });
    rows.forEach(function (row) { body.appendChild(row); });
    var shown = document.getElementById("shown");
    if (shown) shown.textContent = String(body.rows.length);
    var empty = document.querySelector(".empty");
    if (empty) empty.hidden = body.rows.length > 0;
  }
  function count(delta) {
    var total = document.getElementById("total");
    if (total) total.textContent = String(Math.max(0, Number(total.textContent) + delta));
  }
  setInterval(tick, 1000);
  var url = table.dataset.stream;
  if (!url || !window.EventSource) return;
  var source = new EventSource(url);
  source.addEventListener("open", function () { table.dataset.connected = "true"; });
  // Too far behind (a burst larger than the server keeps per page): a fresh page is cheaper.
  source.addEventListener("reconnect", function () { source.close(); window.location.reload(); });
  source.addEventListener("row", function (message) {
    var change = JSON.parse(message.data);
    var old = document.getElementById("t-" + change.id);
    if (change.html === null) {
      if (old) { old.remove(); count(-1); }
      sort();
      return;
    }
    var holder = document.createElement("tbody");
    holder.innerHTML = change.html.trim();
    var row = holder.rows[0];
    stamp(row);
    if (old) old.replaceWith(row); else { body.appendChild(row); count(1); }
    sort();
  });
})();
