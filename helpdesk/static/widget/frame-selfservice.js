/* Self-service on an order card: track the parcel, ask to cancel, start a return. `cred` names the
 * order as the server wants it: {order_id} for a verified shopper's own order, else the {number,
 * email} pair the shopper looked it up with. Text is always set with textContent. */
(function () {
  "use strict";
  // The server's reason codes (helpdesk.selfservice.services.REASONS), labelled by the locale.
  var REASONS = ["damaged", "wrong_item", "too_small", "too_large", "not_as_described", "changed_mind", "other"];

  window.HelpdeskSelfService = function (cfg, state, api) {
    var t = cfg.strings;
    var el = api.el;
    var dateFormat = new Intl.DateTimeFormat(cfg.lang, { day: "numeric", month: "short", year: "numeric" });

    function withCred(cred, data) { return Object.assign({}, cred, data || {}); }

    function failure(res) {
      var code = res && res.error && res.error.code;
      var known = {
        rate_limited: t.order_rate_limited, not_found: t.order_not_found, already_fulfilled: t.ss_err_shipped,
        order_cancelled: t.ss_err_cancelled, not_fulfilled: t.ss_err_not_shipped, quantity_too_high: t.ss_err_quantity,
        unknown_line_item: t.ss_err_item, unknown_reason: t.ss_err_reason, invalid_items: t.ss_err_items,
        already_refunded: t.ss_err_refunded
      };
      return (code && known[code]) || (res && res.error && res.error.message) || t.failed;
    }

    function header(title, back) {
      var head = el("div", "ss-top");
      var button = el("button", "ss-back", "‹ " + t.ss_back);
      button.type = "button";
      button.addEventListener("click", back);
      head.appendChild(button);
      head.appendChild(el("strong", "ss-heading", title));
      return head;
    }

    function errorLine() {
      var error = el("p", "error", "");
      error.hidden = true;
      error.setAttribute("role", "alert");
      return error;
    }

    function done(body, text) {
      body.textContent = "";
      var box = el("div", "ss-done");
      var tick = el("span", "ss-tick", "✓");
      tick.setAttribute("aria-hidden", "true");
      box.appendChild(tick);
      box.appendChild(el("strong", "", t.ss_sent_title));
      box.appendChild(el("p", "o-note", text));
      var back = el("button", "btn wide", t.ss_to_chat);
      back.type = "button";
      back.addEventListener("click", function () { api.close(); api.scrollDown(); });
      box.appendChild(back);
      body.appendChild(box);
    }

    function sent(res) { if (res && res.message) api.showMessage(res.message); }

    // -- track -------------------------------------------------------------------------------
    function track(body, order, cred, back) {
      body.textContent = "";
      body.appendChild(header(api.format(t.ss_track_title, { order: api.label(order) }), back));
      var out = el("div", "ss-track");
      out.appendChild(el("p", "o-note", t.order_loading));
      body.appendChild(out);
      api.socket.timeout(10000).emit("selfservice:track", withCred(cred), function (err, res) {
        out.textContent = "";
        if (err || !res || !res.ok) { out.appendChild(el("p", "o-note error", err ? t.failed : failure(res))); return; }
        if (!res.shipments.length) {
          out.appendChild(el("p", "o-note", res.order.stage === "cancelled" ? t.ss_track_cancelled : t.ss_track_none));
          return;
        }
        res.shipments.forEach(function (s, i) {
          var card = el("div", "ss-parcel");
          var top = el("div", "ss-parcel-top");
          top.appendChild(el("strong", "", res.shipments.length > 1 ? api.format(t.ss_parcel_n, { n: i + 1 }) : t.ss_parcel));
          top.appendChild(el("span", "o-pill o-shipped", t["ss_status_" + (s.status || "success")] || t.order_shipped));
          card.appendChild(top);
          var facts = el("dl", "ss-facts");
          [[t.ss_carrier, s.carrier], [t.ss_tracking_number, s.tracking_number],
           [t.ss_shipped_on, s.shipped_at ? dateFormat.format(new Date(s.shipped_at)) : null]].forEach(function (row) {
            if (!row[1]) return;
            facts.appendChild(el("dt", "", row[0]));
            facts.appendChild(el("dd", "", row[1]));
          });
          card.appendChild(facts);
          if (s.tracking_url && /^https?:\/\//i.test(s.tracking_url)) {
            var link = el("a", "btn wide ss-track-link", t.order_track);
            link.href = s.tracking_url;
            link.target = "_blank";
            link.rel = "noopener noreferrer";
            card.appendChild(link);
          }
          out.appendChild(card);
        });
      });
    }

    // -- cancel ------------------------------------------------------------------------------
    function cancel(body, order, cred, back) {
      body.textContent = "";
      body.appendChild(header(api.format(t.ss_cancel_title, { order: api.label(order) }), back));
      var form = el("form", "o-form ss-form");
      form.noValidate = true;
      form.appendChild(el("p", "o-note", t.ss_cancel_text));
      var note = noteField(form);
      var error = errorLine();
      form.appendChild(error);
      var submit = el("button", "btn wide ss-danger", t.ss_cancel_submit);
      submit.type = "submit";
      form.appendChild(submit);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        submit.disabled = true;
        api.socket.timeout(15000).emit("selfservice:cancel", withCred(cred, note.value.trim() ? { note: note.value.trim() } : {}),
          function (err, res) {
            submit.disabled = false;
            if (err || !res || !res.ok) { error.textContent = err ? t.failed : failure(res); error.hidden = false; return; }
            sent(res);
            done(body, t.ss_cancel_sent);
          });
      });
      body.appendChild(form);
    }

    function noteField(form) {
      var wrap = el("label", "", t.ss_note);
      var note = el("textarea");
      note.name = "note";
      note.rows = 2;
      note.maxLength = 1000;
      note.placeholder = t.ss_note_placeholder;
      wrap.appendChild(note);
      form.appendChild(wrap);
      return note;
    }

    // -- return ------------------------------------------------------------------------------
    function startReturn(body, order, cred, back) {
      body.textContent = "";
      body.appendChild(header(api.format(t.ss_return_title, { order: api.label(order) }), back));
      var holder = el("div");
      holder.appendChild(el("p", "o-note", t.order_loading));
      body.appendChild(holder);
      api.socket.timeout(10000).emit("selfservice:options", withCred(cred), function (err, res) {
        holder.textContent = "";
        if (err || !res || !res.ok) { holder.appendChild(el("p", "o-note error", err ? t.failed : failure(res))); return; }
        holder.appendChild(returnForm(body, order, cred, res.returnable || {}));
      });
    }

    function returnForm(body, order, cred, returnable) {
      var form = el("form", "o-form ss-form");
      form.noValidate = true;
      form.appendChild(el("p", "o-note", t.ss_return_text));
      var list = el("ul", "ss-lines");
      var rows = [];
      order.line_items.forEach(function (li) {
        if (!li.id) return;
        var left = returnable[li.id] === undefined ? li.quantity : returnable[li.id];
        var item = el("li", "ss-line" + (left ? "" : " ss-off"));
        var pick = el("label", "ss-pick");
        var box = el("input");
        box.type = "checkbox";
        box.name = "item_" + li.id;
        box.disabled = !left;
        pick.appendChild(box);
        var text = el("span", "ss-line-text");
        text.appendChild(el("span", "ss-line-title", li.title + (li.variant ? " (" + li.variant + ")" : "")));
        text.appendChild(el("span", "o-sub", left ? api.format(t.ss_bought, { n: li.quantity }) : t.ss_already_returned));
        pick.appendChild(text);
        item.appendChild(pick);
        var qty = el("input", "ss-qty");
        qty.type = "number";
        qty.name = "qty_" + li.id;
        qty.min = "1";
        qty.max = String(Math.max(left, 1));
        qty.value = "1";
        qty.disabled = !left;
        qty.setAttribute("aria-label", t.ss_quantity + " · " + li.title);
        item.appendChild(qty);
        box.addEventListener("change", function () { item.classList.toggle("ss-on", box.checked); });
        qty.addEventListener("input", function () { if (Number(qty.value) > 0) { box.checked = true; item.classList.add("ss-on"); } });
        rows.push({ id: li.id, box: box, qty: qty });
        list.appendChild(item);
      });
      form.appendChild(list);
      var reasonWrap = el("label", "", t.ss_reason);
      var reason = el("select");
      reason.name = "reason";
      var first = el("option", "", t.ss_reason_pick);
      first.value = "";
      reason.appendChild(first);
      REASONS.forEach(function (code) {
        var option = el("option", "", t["ss_reason_" + code] || code);
        option.value = code;
        reason.appendChild(option);
      });
      reasonWrap.appendChild(reason);
      form.appendChild(reasonWrap);
      var note = noteField(form);
      var error = errorLine();
      form.appendChild(error);
      var submit = el("button", "btn wide", t.ss_return_submit);
      submit.type = "submit";
      form.appendChild(submit);
      function fixed() { error.hidden = true; }
      form.addEventListener("change", fixed);
      form.addEventListener("input", fixed);
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var items = rows.filter(function (r) { return r.box.checked; })
          .map(function (r) { return { id: r.id, quantity: Number(r.qty.value) }; });
        if (!items.length) { error.textContent = t.ss_err_items; error.hidden = false; return; }
        if (!reason.value) { error.textContent = t.ss_err_reason; error.hidden = false; return; }
        var data = { items: items, reason: reason.value };
        if (note.value.trim()) data.note = note.value.trim();
        submit.disabled = true;
        api.socket.timeout(15000).emit("selfservice:return", withCred(cred, data), function (err, res) {
          submit.disabled = false;
          if (err || !res || !res.ok) { error.textContent = err ? t.failed : failure(res); error.hidden = false; return; }
          sent(res);
          done(body, t.ss_return_sent);
        });
      });
      return form;
    }

    // The buttons under an order card; `show(fn)` swaps the sheet's body to one of the views.
    function actions(order, cred, body, back) {
      var bar = el("div", "ss-actions");
      function add(text, className, view) {
        var button = el("button", "ss-action " + className, text);
        button.type = "button";
        button.addEventListener("click", function () { view(body, order, cred, back); });
        bar.appendChild(button);
      }
      var stage = api.stage(order);
      add(t.ss_track, "ss-a-track", track);
      if (stage === "processing") add(t.ss_cancel, "ss-a-cancel", cancel);
      if (stage === "shipped" || stage === "partly_shipped") add(t.ss_return, "ss-a-return", startReturn);
      return bar;
    }

    return { actions: actions };
  };
})();
