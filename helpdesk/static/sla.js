// The queue's SLA badges count down between page loads: the server rendered the text and the
// due time (data-due); this only refreshes the text and turns a badge red once it is overdue.
(function () {
  "use strict";
  // In the page's language, as the server wrote it (helpdesk.i18n.format_span).
  var t = window.HelpdeskI18n.t, span = window.HelpdeskI18n.span;
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-due]").forEach(function (badge) {
      var left = Date.parse(badge.dataset.due) - now;
      var breached = badge.dataset.sla === "breached";
      if (left <= 0) {
        badge.textContent = t("sla.overdue", { time: span(-left) });
        badge.className = "sla sla-breached";
      } else {
        badge.textContent = t(breached ? "sla.due_in_breached" : "sla.due_in", { time: span(left) });
        badge.className = "sla sla-" + (breached ? "breached" : left <= 3600000 ? "soon" : "ok");
      }
    });
  }
  setInterval(tick, 30000);
})();
