/* The chat frame's view: turns the frame's state into DOM. Text is always set with textContent. */
(function () {
  "use strict";
  window.HelpdeskFrameView = function (cfg, state, hooks) {
    var t = cfg.strings;
    var $ = function (id) { return document.getElementById(id); };
    var timeFormat = new Intl.DateTimeFormat(cfg.lang, { hour: "2-digit", minute: "2-digit" });
    function format(text, values) {
      return String(text).replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
    }

    // -- rendering -------------------------------------------------------------------------------
    function el(tag, className, text) {
      var node = document.createElement(tag);
      if (className) node.className = className;
      if (text !== undefined && text !== null) node.textContent = text;  // text, never HTML
      return node;
    }

    // Message text with its http/https/mailto URLs as safe links (linkify.js); the rest stays text.
    function linked(node, text) {
      if (window.HelpdeskLinkify) return window.HelpdeskLinkify.fill(node, text);
      node.textContent = text;
      return node;
    }

    function renderMessages() {
      var list = $("messages");
      var atBottom = nearBottom();
      list.textContent = "";
      var seqs = Array.from(state.messages.keys()).sort(function (a, b) { return a - b; });
      var lastAuthor = null;
      seqs.forEach(function (seq) {
        var m = state.messages.get(seq);
        var mine = m.author.type === "customer";
        var item = el("li", "msg " + (mine ? "mine" : m.author.type));
        item.dataset.seq = String(m.seq);
        var authorKey = m.author.type + ":" + m.author.name;
        if (!mine && m.author.type === "agent" && authorKey !== lastAuthor) item.appendChild(el("span", "who", m.author.name));
        lastAuthor = authorKey;
        if (m.body) item.appendChild(linked(el("div", "bubble"), m.body));
        if (m.attachments && m.attachments.length) item.appendChild(renderAttachments(m.attachments));
        var meta = el("span", "meta", timeFormat.format(new Date(m.created_at)));
        if (mine) meta.appendChild(icon("tick sent", TICK, t.sent));
        item.appendChild(meta);
        list.appendChild(item);
      });
      state.outbox.forEach(function (o) {
        var item = el("li", "msg mine " + (o.error ? "failed" : "pending"));
        item.dataset.clientMsgId = o.client_msg_id;
        var bubble = el("div", "bubble", o.body);
        if (o.files && o.files.length) bubble.appendChild(el("div", "files", "📎 " + o.files.map(function (f) { return f.filename; }).join(", ")));
        item.appendChild(bubble);
        var meta = el("span", "meta", o.error ? t.failed + " — " + o.error : timeFormat.format(new Date(o.created_at)));
        if (o.error) {
          var retry = el("button", "retry", t.retry);
          retry.type = "button";
          retry.addEventListener("click", function () { o.error = null; hooks.retry(); });
          meta.appendChild(retry);
        } else {
          meta.appendChild(icon("tick", CLOCK, t.sending));
        }
        item.appendChild(meta);
        list.appendChild(item);
      });
      if (state.conversation && state.conversation.status === "resolved" && !state.outbox.length) {
        var closed = el("li", "msg system");
        closed.appendChild(el("div", "bubble", t.resolved));
        list.appendChild(closed);
      }
      $("greeting").hidden = false;
      renderCards();
      if (atBottom) scrollDown();
    }

    var TICK = "M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z";
    var CLOCK = "M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.2.8-1.3-4.5-2.7z";

    function icon(className, path, label) {
      var ns = "http://www.w3.org/2000/svg";
      var svg = document.createElementNS(ns, "svg");
      svg.setAttribute("viewBox", "0 0 24 24");
      svg.setAttribute("width", "13");
      svg.setAttribute("height", "13");
      svg.setAttribute("class", className);
      svg.setAttribute("role", "img");
      svg.setAttribute("aria-label", label);
      var title = document.createElementNS(ns, "title");
      title.textContent = label;
      var p = document.createElementNS(ns, "path");
      p.setAttribute("fill", "currentColor");
      p.setAttribute("d", path);
      svg.appendChild(title);
      svg.appendChild(p);
      return svg;
    }

    function renderAttachments(attachments) {
      var box = el("div", "atts");
      attachments.forEach(function (a) {
        var link = el("a");
        link.href = a.url;
        link.target = "_blank";
        link.rel = "noopener noreferrer";
        if (/^image\/(png|jpeg|gif|webp)$/.test(a.content_type)) {
          // A thumbnail (frame.css sizes it); the link opens the full image.
          var img = el("img"); img.src = a.url; img.alt = a.filename; link.className = "att-image";
          // The picture grows the thread once it has loaded: keep a reader at the bottom there.
          img.addEventListener("load", function () {
            var s = $("scroll");
            if (s.scrollHeight - s.scrollTop - s.clientHeight < img.height + 120) scrollDown();
          });
          link.title = a.filename; link.appendChild(img);
        } else {
          link.textContent = "📎 " + a.filename;
        }
        box.appendChild(link);
      });
      return box;
    }

    function renderStatus() {
      var status = $("status");
      var text = !state.connected ? t.connecting : state.online ? t.online : t.away;
      status.classList.toggle("online", state.connected && state.online);
      $("status-text").textContent = text;
      $("offline-notice").hidden = navigator.onLine !== false;
    }

    // Required pre-chat form: until it is filled no message can start the chat (typing past it
    // must not skip it; the server refuses too). Messages typed before the answer stay queued.
    function needsPrechat() {
      var v = state.visitor || {};
      return !!(cfg.prechat && state.visitor && !state.conversation && !(v.name && v.email));
    }

    function renderCards() {
      var v = state.visitor || {};
      var hasConversation = !!state.conversation || state.outbox.length > 0;
      var locked = needsPrechat();
      $("prechat-form").hidden = !locked;
      $("input").disabled = locked;
      $("attach").disabled = locked;
      document.querySelector("#composer .send").disabled = locked;
      $("away-form").hidden = !(state.visitor && state.connected && !state.online && !v.email && hasConversation
                                && !state.contactSaved);
    }

    function renderTyping() {
      $("typing").hidden = !state.agentTyping;
      $("typing-text").textContent = state.agentTyping ? format(t.typing, { name: state.agentTyping }) : "";
      if (state.agentTyping && nearBottom()) scrollDown();
    }

    function clearAgentTyping() { state.agentTyping = null; renderTyping(); }

    function renderBadge() {
      var badge = $("badge");
      badge.hidden = state.unread === 0;
      badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
      badge.setAttribute("aria-label", format(t.unread, { n: state.unread }));
    }

    function noteUnread() {
      if (state.open && document.visibilityState === "visible") return;
      state.unread += 1;
      renderBadge();
    }

    function renderAll() { renderStatus(); renderMessages(); renderTyping(); renderBadge(); }

    function nearBottom() { var s = $("scroll"); return s.scrollHeight - s.scrollTop - s.clientHeight < 80; }
    function scrollDown() { var s = $("scroll"); s.scrollTop = s.scrollHeight; }

    function showComposerError(text) {
      var box = $("composer-error");
      box.textContent = text;
      box.hidden = !text;
      if (text) setTimeout(function () { if (box.textContent === text) box.hidden = true; }, 5000);
    }

    return { el: el, format: format, renderMessages: renderMessages, renderStatus: renderStatus,
             renderCards: renderCards, needsPrechat: needsPrechat, renderTyping: renderTyping, clearAgentTyping: clearAgentTyping,
             renderBadge: renderBadge, noteUnread: noteUnread, renderAll: renderAll, nearBottom: nearBottom,
             scrollDown: scrollDown, showComposerError: showComposerError };
  };
})();
