// The queue's SLA badges count down between page loads: the server rendered the text and the
// due time (data-due); this only refreshes the text and turns a badge red once it is overdue.
(function () {
  "use strict";
  function span(ms) {
    var minutes = Math.max(0, Math.floor(ms / 60000));
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
    if (days) return days + "d " + hours + "h";
    if (hours) return hours + "h " + rest + "m";
    return rest + "m";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (badge) {
      var left = Date.parse(badge.dataset.due) - now;
      var breached = badge.dataset.sla === "breached";
      if (left <= 0) {
        badge.textContent = "overdue " + span(-left);
        badge.className = "sla sla-breached";
      } else {
        badge.textContent = "due in " + span(left) + (breached ? " · breached" : "");
        badge.className = "sla sla-" + (breached ? "breached" : left <= 3600000 ? "soon" : "ok");
      }
    });
  }
  setInterval(tick, 30000);
})();
