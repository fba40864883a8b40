// A self-service card's "carry out" button opens the order card's own dialog (order-actions.js)
// filled in from the shopper's request, and points its form at the request's carry-out route;
// any other opening of that dialog gets the plain dialog back. Runs in the capture phase, so the
// dialog is filled before order-actions.js opens it and sums it up.
(function () {
  "use strict";
  if (window.helpdeskSelfServiceCard) return;
  window.helpdeskSelfServiceCard = true;

  function reset(form) {
    if (form.dataset.ssDefaultAction) form.action = form.dataset.ssDefaultAction;
    form.removeAttribute("data-ss-request");
  }

  function fill(form, action, prefill) {
    if (!form.dataset.ssDefaultAction) form.dataset.ssDefaultAction = form.getAttribute("action");
    form.action = action;
    form.dataset.ssRequest = "1";
    if (prefill.mode && form.elements.mode) {
      Array.prototype.forEach.call(form.querySelectorAll("input[name=mode]"), function (r) { r.checked = r.value === prefill.mode; });
    }
    if (prefill.lines) {
      Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox][name^=line_]"), function (box) {
        var id = box.name.slice(5);
        box.checked = Object.prototype.hasOwnProperty.call(prefill.lines, id);
        var qty = form.elements["qty_" + id];
        if (qty && box.checked) qty.value = prefill.lines[id];
      });
      if (form.elements.shipping) form.elements.shipping.checked = false;
    }
    ["restock", "refund"].forEach(function (name) {
      if (prefill[name] !== undefined && form.elements[name]) form.elements[name].checked = !!prefill[name];
    });
    // The shopper hears the outcome from the request itself, once.
    if (form.elements.notify_customer) form.elements.notify_customer.checked = false;
  }

  document.addEventListener("click", function (ev) {
    var opener = ev.target.closest && ev.target.closest("[data-open-dialog]");
    if (!opener) return;
    var dialog = document.getElementById(opener.dataset.openDialog);
    var form = dialog && dialog.querySelector("form");
    if (!form) return;
    if (opener.dataset.ssAction) fill(form, opener.dataset.ssAction, JSON.parse(opener.dataset.ssPrefill || "{}"));
    else reset(form);
  }, true);
})();
