// Order actions in the conversation sidebar: open the confirmation dialog, say in the order's
// currency what will happen, and (Shopify, BigCommerce) ask the shop for its own refund
// calculation, which the worker fetches. Listeners are delegated, so a refreshed card works too.
(function () {
  "use strict";
  if (window.helpdeskOrderActions) return;
  window.helpdeskOrderActions = true;
  var t = window.HelpdeskI18n.t, lang = window.HelpdeskI18n.lang;

  function money(value, currency) {
    var n = Number(value);
    if (!isFinite(n)) return "—";
    try {
      return new Intl.NumberFormat(lang, { style: "currency", currency: currency }).format(n);
    } catch (e) {
      return n.toFixed(2) + " " + currency;
    }
  }

  function refundAmount(dialog) {
    var form = dialog.querySelector("form");
    var mode = (form.querySelector("input[name=mode]:checked") || {}).value || "whole";
    if (mode === "whole") return Number(dialog.dataset.remaining);
    if (mode === "amount") return Number((form.elements.amount.value || "").replace(",", "."));
    var total = 0;
    form.querySelectorAll("input[type=checkbox][data-price]").forEach(function (box) {
      if (!box.checked) return;
      var qty = form.elements[box.name.replace("line_", "qty_")];
      total += Number(box.dataset.price) * Number(qty ? qty.value : 1);
    });
    if (form.elements.shipping && form.elements.shipping.checked) total += Number(dialog.dataset.shipping);
    return total;
  }

  var quoteTimers = new WeakMap();

  function askShop(dialog) {
    var url = dialog.dataset.quoteUrl;
    var out = dialog.querySelector("[data-quote]");
    if (!url || !out) return;
    clearTimeout(quoteTimers.get(dialog));
    quoteTimers.set(dialog, setTimeout(function () {
      var form = dialog.querySelector("form");
      out.textContent = t("orders.asking");
      fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (answer) {
          if (!answer.ok) { out.textContent = answer.body.error ? answer.body.error.message : t("orders.cannot_calculate"); return; }
          var status = dialog.dataset.quoteStatus.replace(/\/0$/, "/" + answer.body.job) + "?token=" +
            encodeURIComponent(answer.body.token);
          poll(status, out, dialog.dataset.currency, Date.now() + 15000);
        })
        .catch(function () { out.textContent = ""; });
    }, 400));
  }

  function poll(url, out, currency, deadline) {
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.status === "pending") {
        if (Date.now() < deadline) setTimeout(function () { poll(url, out, currency, deadline); }, 700);
        else out.textContent = t("orders.not_answered");
        return;
      }
      if (body.error) out.textContent = t("orders.shop_says", { error: body.error });
      else if (body.quote) out.textContent = t("orders.shop_calculates", { amount: money(body.quote.amount, body.quote.currency || currency) });
    }).catch(function () { out.textContent = ""; });
  }

  function summarise(dialog) {
    var out = dialog.querySelector("[data-summary]");
    var cur = dialog.dataset.currency;
    var form = dialog.querySelector("form");
    var kind = dialog.dataset.kind;
    var text = "";
    if (kind === "refund") {
      var amount = refundAmount(dialog);
      if (!(amount > 0)) text = t("orders.choose_refund");
      else if (amount > Number(dialog.dataset.remaining) + 0.001) text = t("orders.more_than_left", { amount: money(dialog.dataset.remaining, cur) });
      else text = t("orders.refund", { amount: money(amount, cur) });
      askShop(dialog);
    } else if (kind === "cancel") {
      var refund = form.elements.refund;
      text = refund && refund.checked ? t("orders.cancel_and_refund", { amount: money(refund.dataset.amount, cur) })
        : t("orders.cancel_no_refund");
    } else if (kind === "reship") {
      text = t("orders.reship", { amount: money(0, cur) });
    } else if (kind === "update_address") {
      text = t("orders.update_address");
    } else {
      text = t("orders.resend_confirmation");
    }
    out.textContent = text;
  }

  document.addEventListener("click", function (ev) {
    var opener = ev.target.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && dialog.showModal) { dialog.showModal(); summarise(dialog); }
      return;
    }
    var closer = ev.target.closest("[data-close-dialog]");
    if (closer) closer.closest("dialog").close();
  });

  function changed(ev) {
    var dialog = ev.target.closest && ev.target.closest("dialog.order-dialog");
    if (dialog) summarise(dialog);
  }
  document.addEventListener("input", changed);
  document.addEventListener("change", changed);
  document.addEventListener("submit", function (ev) {
    var dialog = ev.target.closest("dialog.order-dialog");
    if (!dialog) return;
    var button = ev.target.querySelector("button[type=submit]");
    if (button) button.disabled = true;  // one click, one action (the idempotency key does the rest)
  });
})();
