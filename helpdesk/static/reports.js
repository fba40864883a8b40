/* Managers' dashboard: draws the charts from the page's JSON and sorts the agent table. */
(function () {
  "use strict";
  var el = document.getElementById("report-data");
  if (!el || !window.Chart) return;
  var data = JSON.parse(el.textContent);
  var t = window.HelpdeskI18n.t, lang = window.HelpdeskI18n.lang;
  var css = getComputedStyle(document.documentElement);
  var accent = css.getPropertyValue("--accent").trim() || "#3b5bfd";
  var ink = css.getPropertyValue("--muted").trim() || "#6b7489";
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = ink;
  Chart.defaults.plugins.legend.labels.usePointStyle = true;
  var grid = { color: "rgba(16,24,40,.06)" };
  window.helpdeskCharts = [];

  var dayLabels = data.days.map(function (d) {
    var p = d.split("-");
    return new Date(Date.UTC(+p[0], +p[1] - 1, +p[2])).toLocaleDateString(lang, { day: "numeric", month: "short", timeZone: "UTC" });
  });
  var trend = new Chart(document.getElementById("trend-chart"), {
    data: {
      labels: dayLabels,
      datasets: [
        // The rolling 7-day share (see reports/trend.py): a day of one or two answers cannot swing it.
        { type: "line", label: t("reports.csat_rolling"), data: data.csat_rolling, yAxisID: "pct", borderColor: "#0f9d58",
          backgroundColor: "#0f9d58", cubicInterpolationMode: "monotone", spanGaps: false, pointRadius: 2,
          clip: 8, order: 0 },
        { type: "bar", label: t("reports.csat_answers"), data: data.csat_answers, yAxisID: "count", backgroundColor: "#c9ced8",
          borderRadius: 3, order: 3 },
        { type: "bar", label: t("reports.created"), data: data.created, yAxisID: "count", backgroundColor: accent, borderRadius: 3, order: 1 },
        { type: "bar", label: t("reports.resolved"), data: data.resolved, yAxisID: "count", backgroundColor: "#b8c4ff", borderRadius: 3, order: 2 }
      ]
    },
    options: {
      maintainAspectRatio: false, animation: { duration: 300 }, interaction: { mode: "index", intersect: false },
      layout: { padding: { top: 8 } },
      scales: {
        count: { position: "left", beginAtZero: true, grace: "10%", grid: grid, ticks: { precision: 0 } },
        pct: { position: "right", min: 0, max: 100, grid: { display: false }, ticks: { callback: function (v) { return v + "%"; } } },
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 12 } }
      },
      plugins: { legend: { position: "bottom" } }
    }
  });
  var scores = new Chart(document.getElementById("scores-chart"), {
    type: "bar",
    data: {
      labels: ["1", "2", "3", "4", "5"],
      datasets: [{ label: t("reports.answers"), data: data.scores, borderRadius: 6,
        backgroundColor: ["#d93f3f", "#ef7b5a", "#e8a317", "#7cc48f", "#0f9d58"] }]
    },
    options: {
      maintainAspectRatio: false, animation: { duration: 300 },
      scales: { y: { beginAtZero: true, grid: grid, ticks: { precision: 0 } }, x: { grid: { display: false } } },
      plugins: { legend: { display: false } }
    }
  });
  window.helpdeskCharts.push(trend, scores);
  var deflectionCanvas = document.getElementById("deflection-chart");
  if (deflectionCanvas && data.deflection) {
    window.helpdeskCharts.push(new Chart(deflectionCanvas, {
      type: "bar",
      data: {
        labels: dayLabels,
        datasets: [
          { label: t("reports.without_agent"), data: data.deflection.without, backgroundColor: "#0f9d58", borderRadius: 3, stack: "s" },
          { label: t("reports.needed_agent"), data: data.deflection.needed, backgroundColor: "#b8c4ff", borderRadius: 3, stack: "s" }
        ]
      },
      options: {
        maintainAspectRatio: false, animation: { duration: 300 }, interaction: { mode: "index", intersect: false },
        scales: {
          y: { stacked: true, beginAtZero: true, grace: "10%", grid: grid, ticks: { precision: 0 } },
          x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    }));
  }

  // Quick ranges: the last N days up to today.
  document.querySelectorAll("[data-preset]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var form = btn.closest("form"), to = new Date(), from = new Date();
      from.setDate(to.getDate() - (+btn.dataset.preset - 1));
      var iso = function (d) { return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10); };
      form.elements.from.value = iso(from);
      form.elements.to.value = iso(to);
      form.submit();
    });
  });

  // Sortable agent table: click a heading; click again to reverse.
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.querySelectorAll("th[data-sort]");
    heads.forEach(function (th, col) {
      th.tabIndex = 0;
      var sort = function () {
        var desc = th.getAttribute("aria-sort") !== "descending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", desc ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.v, y = b.cells[col].dataset.v;
          var r = th.dataset.sort === "num" ? (parseFloat(x) - parseFloat(y)) : x.localeCompare(y);
          return desc ? -r : r;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
})();
