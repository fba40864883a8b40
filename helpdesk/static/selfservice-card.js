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

  // Live: a request arriving while the agent reads the conversation shows as its card, and the
  // outcome message (the shop has done it) refreshes the request's card.
  function loadCard(conversation, request, into) {
    fetch("/console/c/" + encodeURIComponent(conversation) + "/self-service/" + encodeURIComponent(request) + "/card",
          { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".ss-card");
        if (fresh && into.isConnected) into.replaceWith(fresh);
      })
      .catch(function () { /* the next reload shows it */ });
  }

  document.addEventListener("helpdesk:message", function (ev) {
    var m = ev.detail || {};
    var id = m.client_msg_id || "";
    if (id.indexOf("selfservice:") === 0) {
      var body = document.querySelector("#m" + m.seq + " .msg-body");
      if (body) loadCard(m.conversation_id, id.slice("selfservice:".length), body);
    } else if (id.indexOf("selfservice-outcome:") === 0) {
      var ref = id.slice("selfservice-outcome:".length);
      var card = document.querySelector('.ss-card[data-self-service="' + (window.CSS ? CSS.escape(ref) : ref) + '"]');
      if (card) loadCard(m.conversation_id, ref, card);
    }
  });

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
