/* Live fieldwork progress: every 15 s, fetch the wave's progress JSON and update the table in place.
   Without JavaScript the page shows the counts as they were when it was loaded. */
(function () {
  "use strict";
  var PERIOD = 15000;
  var table = document.getElementById("progress");
  if (!table || !window.fetch) return;
  var url = table.getAttribute("data-url");
  var stamp = document.getElementById("progress-updated");
  var summary = document.getElementById("progress-summary");

  function pct(share) { return Math.round(share * 100) + "%"; }

  function set(scope, field, text) {
    var cell = scope.querySelector('[data-field="' + field + '"]');
    if (cell && cell.textContent !== String(text)) {
      cell.textContent = text;
      cell.classList.add("changed");
      setTimeout(function () { cell.classList.remove("changed"); }, 1500);
    }
  }

  function update(data) {
    data.rows.forEach(function (r) {
      var row = table.querySelector('tr[data-code="' + r.code + '"]');
      if (!row) return;
      set(row, "n", r.n);
      set(row, "target", r.target);
      set(row, "share", pct(r.share));
      set(row, "n_flagged", r.n_flagged || "");
      var bar = row.querySelector(".bar > span");
      if (bar) bar.style.width = Math.min(100, r.share * 100).toFixed(1) + "%";
      row.classList.toggle("behind", r.collects && r.share < 0.5);
    });
    if (summary) {
      set(summary, "n", data.top.n);
      set(summary, "target", data.top.target);
      set(summary, "share", pct(data.top.share));
      set(summary, "n_flagged", data.top.n_flagged);
      set(summary, "n_screened", data.top.n_screened);
      set(summary, "behind", data.behind);
    }
    var now = new Date();
    stamp.textContent = "已更新 " + now.toLocaleTimeString("zh-CN", { hour12: false }) + ",每 15 秒自动刷新";
    if (data.status !== "open") {
      stamp.textContent = "调查已结束,请刷新页面";
      clearInterval(timer);
    }
  }

  function tick() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(update)
      .catch(function () { stamp.textContent = "暂时无法刷新,稍后重试"; });
  }

  var timer = setInterval(tick, PERIOD);
  window.pinganProgressRefresh = tick; // lets a test (or a curious user) refresh now
})();
