/* "Your orders": a verified shopper opens one of their orders (orders:list) and asks about it
 * (orders:pick); anyone else looks one up with its number and the order's email (orders:lookup).
 * Each order card offers self-service (frame-selfservice.js): track, cancel, return. Text is
 * always set with textContent. */
(function () {
  "use strict";
  window.HelpdeskFrameOrders = function (cfg, state, api) {
    var t = cfg.strings;
    var $ = function (id) { return document.getElementById(id); };
    var el = api.el;
    var dateFormat = new Intl.DateTimeFormat(cfg.lang, { day: "numeric", month: "short", year: "numeric" });
    var sheet = $("orders");
    var body = $("orders-body");
    var selfService = window.HelpdeskSelfService(cfg, state, {
      socket: api.socket, el: el, format: api.format, scrollDown: api.scrollDown, showMessage: api.showMessage,
      label: label, stage: stage, close: function () { close(); }
    });

    function money(order) {
      if (order.total === null || order.total === undefined) return "";
      try {
        return new Intl.NumberFormat(cfg.lang, { style: "currency", currency: order.currency || "USD" })
          .format(Number(order.total));
      } catch (e) { return order.total + " " + (order.currency || ""); }
    }

    function when(iso) { return iso ? dateFormat.format(new Date(iso)) : ""; }

    // One word for the shopper, from the order's several statuses.
    function stage(order) {
      if (order.status === "cancelled" || order.cancelled_at) return "cancelled";
      if (order.financial_status === "refunded") return "refunded";
      if (order.fulfillment_status === "fulfilled") return "shipped";
      if (order.fulfillment_status === "partial") return "partly_shipped";
      return "processing";
    }

    function pill(order) {
      var key = stage(order);
      return el("span", "o-pill o-" + key, t["order_" + key] || key);
    }

    function label(order) { return order.name || "#" + order.number; }

    function open() {
      sheet.hidden = false;
      $("orders-toggle").setAttribute("aria-expanded", "true");
      if (state.visitor && state.visitor.verified) loadList(); else showLookup(null);
    }

    function close() {
      sheet.hidden = true;
      $("orders-toggle").setAttribute("aria-expanded", "false");
    }

    function message(text, className) {
      body.textContent = "";
      body.appendChild(el("p", className || "o-note", text));
    }

    function failure(res) {
      var code = res && res.error && res.error.code;
      if (code === "rate_limited") return t.order_rate_limited;
      if (code === "not_found") return t.order_not_found;
      if (code === "invalid_order") return t.order_invalid;
      return (res && res.error && res.error.message) || t.failed;
    }

    // -- verified: the shopper's own orders ------------------------------------------------------
    function loadList() {
      $("orders-title").textContent = t.order_pick_title;
      message(t.order_loading);
      api.socket.timeout(10000).emit("orders:list", {}, function (err, res) {
        if (err || !res || !res.ok) {
          if (res && res.error && res.error.code === "not_verified") { showLookup(); return; }
          message(err ? t.failed : failure(res), "o-note error");
          return;
        }
        body.textContent = "";
        if (!res.orders.length) { message(t.order_none); return; }
        var list = el("ul", "o-list");
        res.orders.slice(0, 10).forEach(function (order) {
          var item = el("li");
          var button = el("button", "o-row");
          button.type = "button";
          button.dataset.order = order.id;
          var main = el("span", "o-main");
          main.appendChild(el("strong", "", label(order)));
          main.appendChild(el("span", "o-sub", when(order.placed_at) + " · " + money(order)));
          button.appendChild(main);
          button.appendChild(pill(order));
          button.addEventListener("click", function () { showDetail(order); });
          item.appendChild(button);
          list.appendChild(item);
        });
        body.appendChild(list);
      });
    }

    // A verified shopper's order: its card with self-service, and "ask about it".
    function showDetail(order) {
      $("orders-title").textContent = label(order);
      body.textContent = "";
      var back = el("button", "ss-back", "‹ " + t.ss_all_orders);
      back.type = "button";
      back.addEventListener("click", loadList);
      body.appendChild(back);
      body.appendChild(summary(order, { order_id: order.id }, function () { showDetail(order); },
                               function () { pick(order); }));
    }

    function pick(order) {
      // The message carries the pick: the outbox links the order once the server holds the message,
      // so a first message that opens the conversation, or one sent after a reload, links it too.
      api.queueMessage(api.format(t.order_question, { order: label(order) }), [], order.id);
      close();
      api.scrollDown();
    }

    // -- anyone: look one up by number and email -------------------------------------------------
    // `again`: {data, order} of the last lookup, to come back to from a self-service view.
    function showLookup(again) {
      $("orders-title").textContent = t.order_lookup_title;
      body.textContent = "";
      var form = el("form", "o-form");
      form.noValidate = true;
      form.appendChild(el("p", "o-note", t.order_lookup_text));
      var number = field(form, "number", t.order_number, "text", "#1001");
      var email = field(form, "email", t.email, "email", "");
      email.value = (again && again.data.email) || (state.visitor && state.visitor.email) || "";
      if (again) number.value = again.data.number;
      var error = el("p", "error", "");
      error.hidden = true;
      error.setAttribute("role", "alert");
      form.appendChild(error);
      var submit = el("button", "btn wide", t.order_find);
      submit.type = "submit";
      form.appendChild(submit);
      var result = el("div", "o-result");
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var data = { number: number.value.trim(), email: email.value.trim() };
        if (!data.number || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(data.email)) {
          error.textContent = t.order_invalid; error.hidden = false; return;
        }
        submit.disabled = true;
        api.socket.timeout(10000).emit("orders:lookup", data, function (err, res) {
          submit.disabled = false;
          result.textContent = "";
          if (err || !res || !res.ok) {
            error.textContent = err ? t.failed : failure(res);
            error.hidden = false;
            return;
          }
          error.hidden = true;
          showFound(data, res.order);
        });
      });
      function showFound(data, order) {
        result.textContent = "";
        result.appendChild(summary(order, { number: data.number, email: data.email },
                                   function () { showLookup({ data: data, order: order }); }));
      }
      body.appendChild(form);
      body.appendChild(result);
      if (again) showFound(again.data, again.order); else number.focus();
    }

    function field(form, name, text, type, placeholder) {
      var wrap = el("label", "", text);
      var input = el("input");
      input.name = name;
      input.type = type;
      input.placeholder = placeholder;
      input.autocomplete = type === "email" ? "email" : "off";
      input.maxLength = type === "email" ? 254 : 64;
      wrap.appendChild(input);
      form.appendChild(wrap);
      return input;
    }

    // `cred` names the order to the self-service events; `back` redraws this card after one.
    function summary(order, cred, back, ask) {
      var card = el("div", "o-summary");
      var head = el("div", "o-head");
      var title = el("span", "o-main");
      title.appendChild(el("strong", "", label(order)));
      title.appendChild(el("span", "o-sub", when(order.placed_at) + " · " + money(order)));
      head.appendChild(title);
      head.appendChild(pill(order));
      card.appendChild(head);
      var items = el("ul", "o-items");
      order.line_items.forEach(function (li) {
        items.appendChild(el("li", "", li.quantity + " × " + li.title + (li.variant ? " (" + li.variant + ")" : "")));
      });
      card.appendChild(items);
      order.fulfillments.forEach(function (f) {
        var ship = el("p", "o-ship", [t.order_shipped_with, f.carrier || "", f.tracking_number || ""].join(" ").trim());
        if (f.tracking_url && /^https?:\/\//i.test(f.tracking_url)) {
          var link = el("a", "", t.order_track);
          link.href = f.tracking_url;
          link.target = "_blank";
          link.rel = "noopener noreferrer";
          ship.appendChild(document.createTextNode(" · "));
          ship.appendChild(link);
        }
        card.appendChild(ship);
      });
      card.appendChild(selfService.actions(order, cred, body, back));
      var askButton = el("button", "btn wide ghost", t.order_ask);
      askButton.type = "button";
      askButton.addEventListener("click", ask || function () {
        api.queueMessage(api.format(t.order_question, { order: label(order) }), []);
        close();
        api.scrollDown();
      });
      card.appendChild(askButton);
      return card;
    }

    $("orders-toggle").addEventListener("click", function () { if (sheet.hidden) open(); else close(); });
    $("orders-close").addEventListener("click", close);
    return { open: open, close: close };
  };
})();
