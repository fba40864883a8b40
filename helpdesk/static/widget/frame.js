/* The chat frame: talks to /widget over Socket.IO and keeps the delivery promises of PROTOCOL.md:
 * every message rendered once and in seq order, resume with `history` after the last seq held,
 * and an outbox (kept in localStorage) that survives offline spells and reloads. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("config").textContent);
  var t = cfg.strings;
  var KEY = "helpdesk:" + cfg.site + ":";
  var HISTORY_PAGE = 100;  // the server's most per `history` answer (HELPDESK_CHAT_HISTORY_PAGE)
  var $ = function (id) { return document.getElementById(id); };

  var store = {
    get: function (name, fallback) {
      try { var v = localStorage.getItem(KEY + name); return v === null ? fallback : JSON.parse(v); }
      catch (e) { return fallback; }
    },
    set: function (name, value) {
      try { localStorage.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* private mode: memory only */ }
    },
    drop: function (name) { try { localStorage.removeItem(KEY + name); } catch (e) { /* ignore */ } }
  };

  var state = {
    token: store.get("token", null),
    outbox: store.get("outbox", []),      // [{client_msg_id, body, conversation_id, created_at, error}]
    identity: null,
    identitySent: null,
    visitor: null,
    conversation: null,
    messages: new Map(),                 // seq -> MESSAGE of the shown conversation
    syncedSeq: 0,                        // everything up to here is held; resume asks after it
    inSync: false,
    online: false,
    connected: false,
    open: false,
    unread: 0,
    phone: false,
    sending: false,
    typingTimer: null,
    typingSent: 0,
    agentTyping: null,
    agentTypingTimer: null,
    contactSaved: store.get("contact_saved", false),
    continues: true                      // the server's word: the next message goes into the shown conversation
  };

  function format(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var a = new Uint8Array(16); crypto.getRandomValues(a);
    return Array.from(a, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }


  // -- talking to the page that embeds us ------------------------------------------------------
  function tellParent(message) { if (window.parent !== window) window.parent.postMessage(message, "*"); }
  var analytics = window.HelpdeskFrameAnalytics(cfg, tellParent);

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var data = event.data || {};
    if (data.type === "helpdesk:layout") {
      state.phone = !!data.phone;
      document.body.classList.toggle("phone", state.phone);
    } else if (data.type === "helpdesk:command") {
      runCommand(data.command, data.arg);
    }
  });

  function runCommand(name, arg) {
    if (name === "open") setOpen(true);
    else if (name === "close") setOpen(false);
    else if (name === "toggle") setOpen(!state.open);
    else if (name === "identify" && arg && typeof arg === "object") {
      state.identity = { email: String(arg.email || ""), name: arg.name ? String(arg.name) : null,
                         hmac: arg.hmac ? String(arg.hmac) : null };
      if (socket.connected) { socket.disconnect(); socket.connect(); }
    }
  }

  function setOpen(open) {
    if (open && !state.open) analytics.opened();
    state.open = open;
    document.body.classList.toggle("open", open);
    document.body.classList.toggle("closed", !open);
    $("panel").hidden = !open;
    $("launcher").setAttribute("aria-label", open ? t.close : t.open_chat);
    if (open) {
      state.unread = 0;
      renderBadge();
      scrollDown();
      if (!state.phone) $("input").focus();
    }
    tellParent({ type: "helpdesk:state", state: open ? "open" : "closed" });
  }

  // The shop page the loader put in our fragment (a fragment never reaches a server log).
  var shopPage = new URLSearchParams(location.hash.slice(1));

  // -- socket ----------------------------------------------------------------------------------
  var socket = io(location.origin + "/widget", {
    autoConnect: false,
    auth: function (cb) {
      state.identitySent = state.identity;
      cb({ site: cfg.site, token: state.token, identity: state.identity || undefined,
           page: shopPage.get("page") || undefined, referrer: shopPage.get("referrer") || undefined });
    }
  });

  socket.on("connect", function () { state.connected = true; renderStatus(); });
  socket.on("disconnect", function () {
    state.connected = false;
    state.inSync = false;
    renderStatus();
  });
  socket.on("connect_error", function (err) {
    var code = err && err.data && err.data.error && err.data.error.code;
    if (code === "invalid_token") {
      // Our token is not known here any more (erased, another site): start as a new visitor.
      state.token = null;
      store.drop("token");
      setTimeout(function () { socket.connect(); }, 200);
    }
    renderStatus();
  });

  socket.on("session", function (s) {
    state.token = s.token;
    store.set("token", s.token);
    if (state.identity && state.identitySent !== state.identity) {
      // identify() arrived while this connection was being made: make it again, signed.
      socket.disconnect(); socket.connect(); return;
    }
    state.visitor = s.visitor;
    state.online = !!s.online;
    state.continues = s.continues !== false;
    if (s.conversation && (!state.conversation || state.conversation.id !== s.conversation.id)) {
      showConversation(s.conversation);
    } else if (s.conversation) {
      state.conversation = s.conversation;
    }
    catchUp();
    renderAll();
  });

  socket.on("agents:online", function (d) { state.online = !!(d && d.online); renderStatus(); renderCards(); });

  socket.on("message:new", function (m) {
    if (!state.conversation) { showConversation({ id: m.conversation_id }); }
    if (m.conversation_id !== state.conversation.id) return;
    if (addMessage(m) && m.author.type !== "customer") noteUnread();
    if (state.inSync && m.seq > state.syncedSeq) state.syncedSeq = m.seq;
    clearAgentTyping();
    renderMessages();
  });

  socket.on("typing", function (d) {
    if (!d || !state.conversation || d.conversation_id !== state.conversation.id) return;
    if (d.typing) {
      state.agentTyping = (d.author && d.author.name) || t.someone;
      clearTimeout(state.agentTypingTimer);
      state.agentTypingTimer = setTimeout(clearAgentTyping, 8000);
    } else {
      state.agentTyping = null;
    }
    renderTyping();
  });

  socket.on("conversation:updated", function (c) {
    if (state.conversation && c && c.id === state.conversation.id) { state.conversation = c; renderMessages(); }
  });

  socket.on("csat:request", function (d) {
    if (state.conversation && d && d.conversation_id === state.conversation.id) $("csat").hidden = false;
  });

  function showConversation(conversation) {
    state.conversation = conversation;
    state.messages = new Map();
    state.syncedSeq = 0;
  }

  function catchUp() {
    if (!state.conversation) { state.inSync = true; flushOutbox(); return; }
    var conversationId = state.conversation.id;
    var after = state.syncedSeq;
    socket.timeout(15000).emit("history", { conversation_id: conversationId, after_seq: after }, function (err, res) {
      if (err || !res || !res.ok) { if (!err && res && res.error) console.warn("history", res.error); return; }
      if (!state.conversation || state.conversation.id !== conversationId) return;
      var fresh = 0;
      res.messages.forEach(function (m) {
        if (addMessage(m) && m.author.type !== "customer" && after > 0) fresh += 1;
        if (m.seq > state.syncedSeq) state.syncedSeq = m.seq;
      });
      state.messages.forEach(function (m) { if (m.seq > state.syncedSeq) state.syncedSeq = m.seq; });
      for (var i = 0; i < fresh; i++) noteUnread();
      renderMessages();
      if (res.has_more || res.messages.length >= HISTORY_PAGE) { catchUp(); return; }  // more after this page
      state.inSync = true;
      flushOutbox();
    });
  }

  function addMessage(m) {
    if (!m || typeof m.seq !== "number" || state.messages.has(m.seq)) return false;
    state.messages.set(m.seq, m);
    if (m.client_msg_id) dropFromOutbox(m.client_msg_id);
    return true;
  }

  // -- the outbox ------------------------------------------------------------------------------
  function saveOutbox() { store.set("outbox", state.outbox); }

  function dropFromOutbox(clientMsgId) {
    var before = state.outbox.length;
    state.outbox = state.outbox.filter(function (o) { return o.client_msg_id !== clientMsgId; });
    if (state.outbox.length !== before) saveOutbox();
  }

  // A resolved chat continues (and reopens) when the shopper writes again soon after, with its
  // thread still shown; one resolved long ago stays closed and the next message starts another.
  function going() {
    return !!(state.conversation && (state.conversation.status !== "resolved" || state.continues));
  }

  // `pick`: an order id the shopper asks about, linked to the conversation once the message is in.
  function queueMessage(body, files, pick) {
    $("csat").hidden = true;  // the rating card (or its thanks) has had its turn once they write again
    state.outbox.push({ client_msg_id: newId(), body: body, created_at: new Date().toISOString(),
                        conversation_id: going() ? state.conversation.id : null, error: null,
                        files: files || [], pick: pick || null });
    saveOutbox();
    renderMessages();
    flushOutbox();
  }

  // One at a time, oldest first: the server's order is the shopper's order.
  function flushOutbox() {
    if (state.sending || !socket.connected || !state.inSync) return;
    var next = state.outbox.find(function (o) { return !o.error; });
    if (!next) return;
    state.sending = true;
    var payload = { client_msg_id: next.client_msg_id, body: next.body };
    if (next.files && next.files.length) payload.attachments = next.files.map(function (f) { return f.id; });
    var conversationId = next.conversation_id || (going() && state.conversation.id);
    if (conversationId) payload.conversation_id = conversationId;
    var opens = !conversationId;  // this message starts a new conversation
    socket.timeout(15000).emit("message:send", payload, function (err, res) {
      state.sending = false;
      if (err) { return; }                   // no answer: it stays queued and goes again on reconnect
      if (res && res.ok) {
        var m = res.message;
        if (opens) analytics.started(m.conversation_id);
        if (!state.conversation || state.conversation.id !== m.conversation_id) {
          showConversation({ id: m.conversation_id });
          state.inSync = true;
          catchUp();
        }
        addMessage(m);
        dropFromOutbox(next.client_msg_id);
        if (next.pick) socket.emit("orders:pick", { conversation_id: m.conversation_id, order_id: next.pick });
        renderMessages();
        flushOutbox();
        return;
      }
      var code = res && res.error && res.error.code;
      if (code === "prechat_required") {
        // The inbox wants name and email first: the text goes back into the box, the form shows.
        dropFromOutbox(next.client_msg_id);
        cfg.prechat = true;
        if (!input.value) input.value = next.body;
        renderMessages();
        return;
      }
      if (code === "rate_limited") {
        showComposerError(t.rate_limited);
        setTimeout(flushOutbox, 4000);
        return;
      }
      next.error = code === "body_too_long" ? t.too_long : (res && res.error && res.error.message) || t.failed;
      saveOutbox();
      renderMessages();
      flushOutbox();
    });
  }

  var view = window.HelpdeskFrameView(cfg, state, {
    retry: function () { saveOutbox(); view.renderMessages(); flushOutbox(); }
  });
  var el = view.el;
  var renderMessages = view.renderMessages;
  var renderStatus = view.renderStatus;
  var renderCards = view.renderCards;
  var renderTyping = view.renderTyping;
  var clearAgentTyping = view.clearAgentTyping;
  var renderBadge = view.renderBadge;
  var noteUnread = view.noteUnread;
  var renderAll = view.renderAll;
  var nearBottom = view.nearBottom;
  var scrollDown = view.scrollDown;
  var showComposerError = view.showComposerError;
  // A message the server stored for the shopper outside the outbox (a self-service request).
  function showMessage(m) {
    if (!state.conversation || state.conversation.id !== m.conversation_id) {
      showConversation({ id: m.conversation_id });
      state.inSync = true;
      catchUp();
    }
    addMessage(m);
    renderMessages();
  }

  var orders = window.HelpdeskFrameOrders(cfg, state, {
    socket: socket, el: el, format: format, scrollDown: scrollDown, showMessage: showMessage,
    queueMessage: function (body, files, pick) { queueMessage(body, files, pick); }
  });

  // -- the shopper's input ---------------------------------------------------------------------
  var input = $("input");

  function grow() { input.style.height = "auto"; input.style.height = Math.min(input.scrollHeight, 120) + "px"; }

  function send() {
    if (view.needsPrechat()) { view.renderCards(); $("prechat-form").elements.name.focus(); return; }
    var body = input.value.trim();
    if (!body) return;
    if (body.length > cfg.max_body) { showComposerError(t.too_long); return; }
    input.value = "";
    grow();
    stopTyping();
    showComposerError("");
    queueMessage(body);
    scrollDown();
  }

  $("composer").addEventListener("submit", function (e) { e.preventDefault(); send(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  input.addEventListener("input", function () {
    grow();
    if (!state.conversation || !socket.connected) return;
    var now = Date.now();
    if (now - state.typingSent > 2500) {
      state.typingSent = now;
      socket.emit("typing", { conversation_id: state.conversation.id, typing: true });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, 4000);
  });

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent && state.conversation && socket.connected) {
      socket.emit("typing", { conversation_id: state.conversation.id, typing: false });
    }
    state.typingSent = 0;
  }

  $("attach").addEventListener("click", function () { $("file").click(); });

  // Files go up over HTTP first (the socket is for small frames), then ride on a message.
  $("file").addEventListener("change", function () {
    var file = this.files && this.files[0];
    this.value = "";
    if (!file) return;
    if (file.size > cfg.max_attachment) {
      showComposerError(format(t.file_too_big, { max: Math.round(cfg.max_attachment / 1048576) + " MB" }));
      return;
    }
    if (!state.token || !socket.connected) { showComposerError(t.offline); return; }
    var form = new FormData();
    form.append("file", file);
    fetch("/widget/attachments", { method: "POST", body: form,
      headers: { "Authorization": "Visitor " + state.token, "X-Helpdesk-Site": cfg.site,
                 "Accept": "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) {
          var code = res.body && res.body.error && res.body.error.code;
          showComposerError(code === "file_type" ? t.file_type : code === "file_too_big"
            ? format(t.file_too_big, { max: Math.round(cfg.max_attachment / 1048576) + " MB" })
            : (res.body && res.body.error && res.body.error.message) || t.failed);
          return;
        }
        var body = input.value.trim();
        input.value = "";
        grow();
        queueMessage(body, [res.body]);
        scrollDown();
      })
      .catch(function () { showComposerError(t.failed); });
  });

  function contactForm(form, fields, done) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var data = {};
      fields.forEach(function (f) { data[f] = form.elements[f].value.trim(); });
      // Only a ticked box is an answer: an unticked one never unsubscribes anybody.
      var consent = form.elements.marketing_consent;
      if (consent && consent.checked) data.marketing_consent = true;
      var error = form.querySelector(".error");
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(data.email || "")) { error.textContent = t.bad_email; error.hidden = false; return; }
      socket.timeout(10000).emit("contact:update", data, function (err, res) {
        if (err || !res || !res.ok) {
          error.textContent = (res && res.error && res.error.message) || t.failed; error.hidden = false; return;
        }
        error.hidden = true;
        state.visitor = Object.assign({}, state.visitor, res.visitor);
        done(data);
      });
    });
  }

  contactForm($("prechat-form"), ["name", "email"], function () { renderCards(); input.focus(); });
  contactForm($("away-form"), ["email"], function (data) {
    state.contactSaved = true;
    store.set("contact_saved", true);
    renderCards();
    var note = el("li", "msg system");
    note.appendChild(el("div", "bubble", format(t.saved, { email: data.email })));
    $("messages").appendChild(note);
  });

  Array.prototype.forEach.call(document.querySelectorAll("#csat [data-score]"), function (button) {
    button.addEventListener("click", function () {
      if (!state.conversation) return;
      var rated = state.conversation.id;
      var score = Number(button.dataset.score);
      socket.emit("csat:submit", { conversation_id: rated, score: score },
        function (res) {
          if (res && res.ok) analytics.rated(rated, score);
          var card = $("csat");
          card.textContent = "";
          card.appendChild(el("strong", "", res && res.ok ? t.csat_thanks : (res && res.error && res.error.message) || t.failed));
        });
    });
  });

  $("launcher").addEventListener("click", function () { setOpen(!state.open); });
  $("close").addEventListener("click", function () { setOpen(false); });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape" || !state.open) return;
    if (!$("orders").hidden) orders.close(); else setOpen(false);
  });

  // A dropped network: stop pretending to be connected, keep typing into the outbox, and resume
  // from the last seq held when the network returns.
  window.addEventListener("offline", function () { socket.disconnect(); renderStatus(); });
  window.addEventListener("online", function () { if (!socket.connected) socket.connect(); renderStatus(); });

  renderAll();
  tellParent({ type: "helpdesk:ready" });
  socket.connect();
})();
