// The console's live behaviour over the /console socket: new conversations in the queue without a
// reload, messages and typing in the open conversation, presence, who else is viewing, and status
// or assignment changes made anywhere. Everything customer-written is set with textContent.

// A resend keeps its client_msg_id. After "no answer" the first try may well have been stored
// (the ack was what got lost); sending the same reply again under the same id makes the server
// return that stored message instead of storing it twice. A changed text (or note/reply switch,
// or another conversation) is another message and gets a new id. Plain function, no DOM: tests
// run it under node (tests/chat/test_console_resend.py).
const HelpdeskResend = (function () {
  "use strict";
  function create(newId) {
    let pending = null;  // {key, id}: the last send that got no answer
    return {
      idFor(conversation, body, isPrivate) {
        const key = JSON.stringify([conversation, body, Boolean(isPrivate)]);
        if (!pending || pending.key !== key) pending = { key, id: newId() };
        return pending.id;
      },
      // The server answered this id (stored, or refused for good): a next send is a new message.
      answered(id) { if (pending && pending.id === id) pending = null; },
    };
  }
  return { create };
})();
if (typeof module !== "undefined" && module.exports) module.exports = HelpdeskResend;

(function () {
  "use strict";
  if (typeof io !== "function") return;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const { t, tn, label } = window.HelpdeskI18n;  // the console's words (i18n.js)
  const conv = $(".conv-layout[data-conversation]");
  const queue = $("[data-live-queue]");
  const params = new URLSearchParams(location.search);
  let me = null;

  const socket = io("/console", { transports: ["websocket", "polling"] });
  window.HelpdeskConsoleSocket = socket;  // alerts.js listens on the same connection

  const el = (tag, cls, text) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  };
  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
  const timeEl = (iso) => {
    const stamp = el("time", null, t("just_now"));
    stamp.setAttribute("datetime", iso);
    stamp.title = new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
    stamp.dataset.relative = "";
    return stamp;
  };

  function toast(text) {
    let box = $("#live-toasts");
    if (!box) { box = el("div", "live-toasts"); box.id = "live-toasts"; box.setAttribute("role", "status"); document.body.appendChild(box); }
    const item = el("div", "live-toast", text);
    box.appendChild(item);
    setTimeout(() => item.remove(), 6000);
  }

  // -- presence -----------------------------------------------------------------------------------
  const meBox = $(".me");
  let presenceButton = null;
  if (meBox) {
    presenceButton = el("button", "presence-toggle");
    presenceButton.type = "button";
    presenceButton.dataset.status = "offline";
    presenceButton.title = t("presence.connecting");
    presenceButton.appendChild(el("span", "presence-dot"));
    presenceButton.appendChild(el("span", "presence-label", "…"));
    meBox.insertBefore(presenceButton, meBox.firstChild);
    presenceButton.addEventListener("click", () => {
      const next = presenceButton.dataset.status === "online" ? "away" : "online";
      socket.emit("presence", { status: next }, (ack) => { if (ack && ack.ok) showPresence(next); });
    });
  }
  function showPresence(status) {
    if (!presenceButton) return;
    presenceButton.dataset.status = status;
    presenceButton.querySelector(".presence-label").textContent = t(status === "online" ? "presence.online" : status === "away" ? "presence.away" : "presence.offline");
    presenceButton.title = t(status === "online" ? "presence.online_hint"
      : status === "away" ? "presence.away_hint" : "presence.not_connected");
  }

  // Who else is here: a roster under the queue's views.
  const roster = new Map();
  function renderRoster() {
    const aside = $(".queue-layout .views");
    if (!aside) return;
    let box = $("#live-roster");
    if (!box) {
      aside.appendChild(el("h2", "views-sub", t("roster.title")));
      box = el("ul", "roster");
      box.id = "live-roster";
      aside.appendChild(box);
    }
    box.textContent = "";
    Array.from(roster.values()).sort((a, b) => a.name.localeCompare(b.name)).forEach((a) => {
      const li = el("li", "roster-item");
      li.dataset.status = a.status;
      li.appendChild(el("span", "presence-dot"));
      li.appendChild(el("span", null, me && a.id === me.id ? t("roster.you", { name: a.name }) : a.name));
      li.appendChild(el("span", "muted small", t(a.status === "away" ? "presence.away" : a.status === "online" ? "presence.online" : "presence.offline")));
      box.appendChild(li);
    });
  }

  socket.on("session", (s) => {
    me = s.agent;
    showPresence(s.agent.status);
    roster.clear();
    (s.agents || []).forEach((a) => roster.set(a.id, a));
    renderRoster();
  });
  // Logged out (here or elsewhere), disabled, password or role changed: the server closes us.
  socket.on("session:ended", () => { socket.disconnect(); location.reload(); });
  socket.on("disconnect", () => { showPresence("offline"); setLiveState(false); });
  socket.on("connect", () => { setLiveState(true); if (conv) subscribe(); });
  socket.on("connect_error", (err) => {
    setLiveState(false);
    const code = err && err.data && err.data.error && err.data.error.code;
    if (code === "not_logged_in") location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
  });
  socket.on("presence", (p) => {
    if (me && p.agent.id === me.id) showPresence(p.status);
    if (p.status === "offline") roster.delete(p.agent.id);
    else roster.set(p.agent.id, { id: p.agent.id, name: p.agent.name, status: p.status });
    renderRoster();
  });

  function setLiveState(live) { document.body.classList.toggle("live-off", !live); }

  // -- the queue ----------------------------------------------------------------------------------
  function matchesQueue(c) {
    if (params.get("q") || params.get("cursor")) return false;  // a search or older page gets no new rows
    const status = params.get("status") || "open";
    const view = params.get("view") || (document.querySelector(".view-link.active[href*='view=mine']") ? "mine" : "all");
    if (c.status !== status) return false;
    if (params.get("inbox") && c.inbox && c.inbox.id !== params.get("inbox")) return false;
    if (view === "mine") return !!(me && c.assignee && c.assignee.id === me.id);
    if (view === "unassigned") return !c.assignee;
    return true;
  }

  function rowsList() {
    let rows = $("#rows");
    if (!rows) {
      const empty = $(".queue .empty");
      rows = el("ul", "rows");
      rows.id = "rows";
      rows.setAttribute("data-live-queue", "");
      if (empty) empty.replaceWith(rows); else $(".queue").appendChild(rows);
    }
    return rows;
  }

  function buildRow(c) {
    const href = "/console/c/" + encodeURIComponent(c.id);
    const row = el("li", "row" + (c.assignee ? "" : " unassigned"));
    row.dataset.href = href;
    row.dataset.conversation = c.id;
    const name = (c.customer && c.customer.name) || t("visitor");
    // A tick box like the server-rendered rows', inside the bulk form (console.js counts picks).
    const pick = el("input", "pick");
    pick.type = "checkbox";
    pick.name = "ids";
    pick.value = c.id;
    pick.setAttribute("aria-label", t("select_row", { name: name }));
    pick.addEventListener("click", (e) => e.stopPropagation());
    row.appendChild(pick);
    const bar = $("#bulk-bar");
    if (bar) bar.hidden = false;
    row.appendChild(el("span", "avatar sm", name.slice(0, 1).toUpperCase()));
    const main = el("div", "row-main");
    const top = el("div", "row-top");
    const title = el("a", "row-title", name);
    title.href = href;
    top.appendChild(title);
    top.appendChild(el("span", "muted small", "#" + (c.ref || "")));
    if (c.priority && c.priority !== "normal") top.appendChild(el("span", "pill pr-" + c.priority, label(c.priority)));
    const time = el("span", "row-time muted small");
    time.appendChild(timeEl(c.last_activity_at || c.created_at));
    top.appendChild(time);
    const sub = el("div", "row-sub");
    sub.appendChild(channelIcon(c.channel));
    sub.appendChild(document.createTextNode(" "));
    sub.appendChild(el("span", "subject", c.subject || t("no_subject")));
    main.appendChild(top);
    main.appendChild(sub);
    row.appendChild(main);
    const side = el("div", "row-side");
    side.appendChild(el("span", "pill st-" + c.status, label(c.status)));
    side.appendChild(el("span", "small muted assignee", c.assignee ? c.assignee.name : t("unassigned")));
    if (!c.assignee) {
      const claim = el("button", "btn small claim", t("claim"));
      claim.type = "button";
      claim.addEventListener("click", (e) => {
        e.stopPropagation();
        socket.emit("claim", { conversation_id: c.id }, (ack) => {
          if (!ack || !ack.ok) toast((ack && ack.error && ack.error.message) || t("claim_failed"));
        });
      });
      side.appendChild(claim);
    }
    row.appendChild(side);
    return row;
  }

  // The same icons as the server-rendered rows (console/_macros.html), built without innerHTML.
  const ICONS = {
    email: "M3 5h18v14H3zm2 2v.5l7 4.5 7-4.5V7zm0 2.9V17h14V9.9l-7 4.5z",
    chat: "M4 4h16v12H8l-4 4z",
  };
  function channelIcon(channel) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "ch");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "14");
    svg.setAttribute("height", "14");
    svg.setAttribute("aria-label", label(channel === "email" ? "email" : "chat"));
    const path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", ICONS[channel === "email" ? "email" : "chat"]);
    svg.appendChild(path);
    return svg;
  }

  // Counters: capped ones ("10000+") and a search's counts are left as they are.
  function bump(n, delta) {
    if (!n || !delta || n.textContent.trim().endsWith("+")) return;
    n.textContent = String(Math.max(0, (parseInt(n.textContent, 10) || 0) + delta));
  }
  function bumpCount(view, delta) {
    const n = $(`[data-view-count="${view}"][data-live-count="1"]`);
    bump(n, delta);
  }
  function bumpStatus(status, delta) {
    if (params.get("q")) return;
    bump($(`[data-status-count="${CSS.escape(status)}"]`), delta);
  }
  function currentView() {
    return params.get("view") || (document.querySelector(".view-link.active[href*='view=mine']") ? "mine" : "all");
  }
  // Is a conversation in the current view (mine / unassigned / all, and the inbox), whatever its status?
  function inView(state) {
    if (params.get("inbox") && state.inbox && state.inbox !== params.get("inbox")) return false;
    const view = currentView();
    if (view === "mine") return state.mine;
    if (view === "unassigned") return state.unassigned;
    return true;
  }
  // Before and after a change: the update carries the new state and `changes` the old values
  // (assignee by name, status by value), enough to move every counter by the right amount.
  function countChange(c) {
    const changes = c.changes || {};
    const mineNow = !!(me && c.assignee && c.assignee.id === me.id);
    const after = { status: c.status, mine: mineNow, unassigned: !c.assignee, inbox: c.inbox && c.inbox.id };
    const before = Object.assign({}, after);
    if ("status" in changes) before.status = changes.status[0];
    if ("assignee" in changes) {
      const from = changes.assignee[0];
      before.unassigned = !from;
      before.mine = !!(me && from && from === me.name);
    }
    const open = (st) => st.status === "open";
    bumpCount("mine", (after.mine && open(after)) - (before.mine && open(before)));
    bumpCount("unassigned", (after.unassigned && open(after)) - (before.unassigned && open(before)));
    bumpCount("all", open(after) - open(before));
    if (before.status !== after.status || inView(before) !== inView(after)) {
      if (inView(before)) bumpStatus(before.status, -1);
      if (inView(after)) bumpStatus(after.status, 1);
    }
  }

  function placeRow(c, isNew) {
    if (!queue && !$(".queue")) return;
    const existing = document.querySelector(`#rows .row[data-conversation="${CSS.escape(c.id)}"]`);
    // Search results, later pages and other orders than latest activity stay put (a live row
    // would land at the top, out of its sorted place).
    if (params.get("q") || params.get("cursor") || (params.get("sort") || "activity") !== "activity") { return; }
    if (!matchesQueue(c)) { if (existing) existing.remove(); return; }
    const row = buildRow(c);
    if (existing && existing.classList.contains("live-new")) row.classList.add("fresh", "live-new");
    if (existing) {
      const moved = existing.querySelector("time") && existing.querySelector("time").getAttribute("datetime") !== (c.last_activity_at || "");
      // The SLA badge is the server's (the socket payload has none): keep it on the rebuilt row.
      const badge = existing.querySelector(".sla");
      const time = row.querySelector(".row-time");
      if (badge && time) time.before(badge);
      existing.replaceWith(row);
      if (moved) rowsList().prepend(row);
    } else {
      rowsList().prepend(row);
    }
    if (isNew || !existing) {
      row.classList.add("fresh", "live-new");
      setTimeout(() => row.classList.remove("live-new"), 4000);
    }
  }

  socket.on("conversation:new", (c) => {
    bumpCount("all", 1);
    if (!c.assignee) bumpCount("unassigned", 1);
    if (me && c.assignee && c.assignee.id === me.id) bumpCount("mine", 1);
    if ($(".queue") && inView({ status: c.status, mine: !!(me && c.assignee && c.assignee.id === me.id),
                                unassigned: !c.assignee, inbox: c.inbox && c.inbox.id })) bumpStatus(c.status, 1);
    if ($(".queue")) placeRow(c, true);
    else if (!conv) return;
    else toast(t("new_conversation_from", { name: (c.customer && c.customer.name) || t("a_visitor") }));
  });

  // A row older than one already shown is dropped: a message's row waits for the server's tick
  // (`conversations:updated`), and a change made meanwhile (`conversation:updated`) may overtake it.
  const rowSeen = new Map();
  function updatedRow(c) {
    const at = c.updated_at ? Date.parse(c.updated_at) : NaN;
    if (at < rowSeen.get(c.id)) return;
    if (!isNaN(at)) rowSeen.set(c.id, at);
    countChange(c);
    if ($(".queue")) placeRow(c, false);
    if (conv && c.id === conv.dataset.conversation) applyConversation(c);
  }

  socket.on("conversation:updated", updatedRow);
  socket.on("conversations:updated", (batch) => { ((batch && batch.conversations) || []).forEach(updatedRow); });

  // -- the open conversation ----------------------------------------------------------------------
  const thread = $("#thread");
  const composer = $("#composer");
  const typingBox = $("#typing");
  const viewersBox = $("#viewers");
  let typingTimer = null;
  let typingSent = 0;
  let typingHide = null;

  function lastSeq() {
    let max = parseInt(conv.dataset.lastSeq, 10) || 0;
    thread.querySelectorAll("[data-seq]").forEach((li) => { max = Math.max(max, parseInt(li.dataset.seq, 10) || 0); });
    return max;
  }

  function subscribe() {
    socket.emit("subscribe", { conversation_id: conv.dataset.conversation, after_seq: lastSeq() }, (ack) => {
      if (!ack || !ack.ok) { toast((ack && ack.error && ack.error.message) || t("live_off")); return; }
      ack.messages.forEach(addMessage);
      applyConversation(ack.conversation);
    });
  }

  // Email delivery of a reply: sending, then sent or failed (with the reason on hover).
  function deliveryEl(state, error) {
    const span = el("span", "delivery d-" + state, label(state));
    if (error) span.title = error;
    return span;
  }

  // A delivery change can overtake the message itself (the worker is quick, the reply's HTTP
  // answer slow): kept here until the message is on the page.
  const earlyDelivery = new Map();
  function updateDelivery(u) {
    const li = document.getElementById("m" + u.seq);
    if (!li) { earlyDelivery.set(u.seq, u); return; }
    const meta = li.querySelector(".msg-meta");
    const old = meta.querySelector(".delivery");
    const fresh = deliveryEl(u.delivery, u.delivery_error);
    if (old) old.replaceWith(fresh); else meta.appendChild(fresh);
    showFailure(li, u.delivery === "failed" ? (u.delivery_error || "") : null);
  }

  // A failed reply shows why, in the page (not only on hover), and a Retry that queues the send
  // again with the same Message-ID. Without JavaScript the same form posts and reloads.
  function showFailure(li, reason) {
    const old = li.querySelector(".delivery-failure");
    if (old) old.remove();
    if (reason === null || !li.dataset.message) return;
    const box = el("div", "delivery-failure");
    box.setAttribute("role", "alert");
    box.appendChild(el("span", "reason", reason ? t("not_delivered_because", { reason: reason }) : t("not_delivered")));
    const form = el("form", "inline retry-send");
    form.method = "post";
    form.action = `/console/m/${encodeURIComponent(li.dataset.message)}/retry-send`;
    const token = el("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = ($("input[name=csrf_token]") || {}).value || "";
    form.appendChild(token);
    form.appendChild(el("button", "btn small", t("retry")));
    form.lastChild.type = "submit";
    box.appendChild(form);
    li.querySelector(".msg-meta").after(box);
  }

  document.addEventListener("submit", (ev) => {
    const form = ev.target.closest && ev.target.closest("form.retry-send");
    if (!form) return;
    ev.preventDefault();
    const li = form.closest("li.msg");
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin",
                         headers: { Accept: "application/json" } })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) throw new Error((body.error && body.error.message) || t("retry_failed"));
        updateDelivery({ seq: parseInt(li.dataset.seq, 10), delivery: body.delivery, delivery_error: null });
      })
      .catch((err) => { if (button) button.disabled = false; toast(err.message); });
  });

  function addMessage(m) {
    if (!thread || document.getElementById("m" + m.seq)) return;
    const empty = thread.querySelector(".empty");
    if (empty) empty.remove();
    const li = el("li", `msg msg-${m.author.type}${m.private ? " msg-private" : ""}`);
    li.dataset.seq = String(m.seq);
    li.dataset.message = m.id;
    li.id = "m" + m.seq;
    const meta = el("div", "msg-meta");
    meta.appendChild(el("strong", null, m.author.name));
    if (m.private) { meta.appendChild(document.createTextNode(" ")); meta.appendChild(el("span", "pill note", t("private_note"))); }
    meta.appendChild(document.createTextNode(" "));
    const when = el("span", "muted small");
    when.appendChild(timeEl(m.created_at));
    meta.appendChild(when);
    if (m.delivery) meta.appendChild(deliveryEl(m.delivery, m.delivery_error));
    li.appendChild(meta);
    if (m.email) li.appendChild(emailHeaders(m.email));
    const text = el("div", "msg-body");
    if (window.HelpdeskLinkify) window.HelpdeskLinkify.fill(text, m.body); else text.textContent = m.body;
    li.appendChild(text);
    if (m.attachments && m.attachments.length) li.appendChild(attachmentList(m.attachments));
    // Keep seq order even if a late message arrives after a later one.
    const after = Array.from(thread.querySelectorAll("[data-seq]")).find((n) => parseInt(n.dataset.seq, 10) > m.seq);
    const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 120;
    thread.insertBefore(li, after || null);
    if (earlyDelivery.has(m.seq)) { const u = earlyDelivery.get(m.seq); earlyDelivery.delete(m.seq); updateDelivery(u); }
    if (m.delivery === "failed") showFailure(li, m.delivery_error || "");  // the reason in the page, not a tooltip
    if (nearBottom || (me && m.author.name === me.name)) thread.scrollTop = thread.scrollHeight;
    if (m.author.type === "customer") hideTyping();
    // Rooms that draw a message richer than text (a self-service request's card) hook in here.
    document.dispatchEvent(new CustomEvent("helpdesk:message", { detail: m }));
  }

  // The same as console/_email_headers.html and _attachments.html, for messages that arrive live.
  function emailHeaders(e) {
    const dl = el("dl", "email-headers small");
    const row = (label, value, cls) => {
      if (!value) return;
      dl.appendChild(el("dt", null, label));
      dl.appendChild(el("dd", cls, value));
    };
    if (e.forward) row(t("email.forwarded_to"), (e.to || []).concat(e.cc || []).join(", "));
    else {
      row(t("email.from"), e.from);
      row(t("email.to"), (e.to || []).join(", "), "h-to");
      row(t("email.cc"), (e.cc || []).join(", "), "h-cc");
      row(t("email.bcc"), (e.bcc || []).join(", "), "h-bcc");
    }
    return dl;
  }
  function attachmentList(attachments) {
    const list = el("ul", "atts");
    attachments.forEach((a) => {
      const item = el("li");
      if (/^image\/(png|jpeg|gif|webp)$/.test(a.content_type)) {
        item.className = "att-image";
        const open = el("a");
        open.href = a.url + "?inline=1";
        open.target = "_blank";
        open.rel = "noopener noreferrer";
        open.title = t("open_full_size", { name: a.filename });
        const img = el("img", "att-thumb");
        img.src = a.url + "?inline=1";
        img.alt = "";
        open.appendChild(img);
        open.appendChild(el("span", "small", a.filename));
        item.appendChild(open);
      } else {
        const link = el("a", null, a.filename);
        link.href = a.url;
        link.setAttribute("download", "");
        item.appendChild(link);
      }
      list.appendChild(item);
    });
    return list;
  }

  function applyConversation(c) {
    const pill = $(".conv-actions .pill[class*='st-']");
    if (pill) { pill.className = "pill st-" + c.status; pill.textContent = label(c.status); }
    const statusSelect = $("form select[name=status]");
    if (statusSelect && statusSelect.value !== c.status) statusSelect.value = c.status;
    const assignee = $("#assignee");
    if (assignee) {
      const id = c.assignee && c.assignee.id ? c.assignee.id : "";
      if (assignee.value !== id) assignee.value = id;
    }
    const changes = c.changes || {};
    const bits = [];
    if (changes.assignee) bits.push(changes.assignee[1] ? t("change.assigned_to", { name: changes.assignee[1] }) : t("change.unassigned"));
    if (changes.status) bits.push(t("change.status", { status: label(changes.status[1]) }));
    if (changes.priority) bits.push(t("change.priority", { priority: label(changes.priority[1]) }));
    if (bits.length) toast(t("change.toast", { changes: bits.join(", ") }));
  }

  function showTyping(author) {
    if (!typingBox) return;
    typingBox.textContent = t("typing", { name: author.name || t("someone") });
    typingBox.hidden = false;
    clearTimeout(typingHide);
    typingHide = setTimeout(hideTyping, 8000);
  }
  function hideTyping() { if (typingBox) typingBox.hidden = true; }

  if (conv) {
    socket.on("message:new", (m) => { if (m.conversation_id === conv.dataset.conversation) addMessage(m); });
    socket.on("message:updated", (u) => { if (u.conversation_id === conv.dataset.conversation) updateDelivery(u); });
    socket.on("orders:changed", (o) => {
      if (o.conversation_id !== conv.dataset.conversation) return;
      const card = document.getElementById("orders");
      if (!card) return;
      fetch(`/console/c/${encodeURIComponent(o.conversation_id)}/orders/panel`, { credentials: "same-origin" })
        .then((r) => (r.ok ? r.text() : null))
        .then((html) => {
          if (!html) return;
          const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("orders");
          if (fresh) { card.replaceWith(fresh); fresh.classList.add("fresh"); }
        })
        .catch(() => {});  // the next reload shows it anyway
    });
    socket.on("typing", (t) => {
      if (t.conversation_id !== conv.dataset.conversation) return;
      if (t.typing) showTyping(t.author); else hideTyping();
    });
    socket.on("viewers", (v) => {
      if (!viewersBox || v.conversation_id !== conv.dataset.conversation) return;
      const others = v.agents.filter((a) => !me || a.id !== me.id);
      viewersBox.hidden = others.length === 0;
      viewersBox.textContent = others.length
        ? tn("viewers", others.length, { names: others.map((a) => a.name).join(", ") })
        : "";
    });
    window.addEventListener("pagehide", () => socket.emit("unsubscribe", { conversation_id: conv.dataset.conversation }));
  }

  if (composer && conv) {
    const resend = HelpdeskResend.create(newId);
    const body = composer.elements.body;
    const isPrivate = () => (composer.querySelector("input[name=private]:checked") || {}).value === "1";
    const error = el("p", "live-error small", "");
    error.hidden = true;
    composer.insertBefore(error, composer.querySelector(".composer-foot"));

    // The socket path: no reload, the ack carries the stored message. Without a socket the form
    // posts as before, so a reply is never stuck.
    composer.addEventListener("submit", (e) => {
      // Email replies (To/Cc/Bcc) and replies with files go as multipart over HTTP (composer.js).
      const viaHttp = window.HelpdeskComposer && window.HelpdeskComposer.needsHttp(composer);
      if (!socket.connected && !viaHttp) return;
      e.preventDefault();
      e.stopImmediatePropagation();
      const text = body.value;
      if (!text.trim() && !viaHttp) return;
      const button = composer.querySelector("button[type=submit]");
      button.disabled = true;
      const id = resend.idFor(conv.dataset.conversation, text, isPrivate());
      if (viaHttp) {
        window.HelpdeskComposer.send(composer, id).then((ack) => {
          button.disabled = false;
          resend.answered(id);
          if (!ack.ok) { error.textContent = ack.error.message; error.hidden = false; return; }
          error.hidden = true;
          if (body.value === text) body.value = "";
          addMessage(ack.message);
          stopTyping();
        }).catch(() => {
          button.disabled = false;
          error.textContent = t("no_answer");
          error.hidden = false;
        });
        return;
      }
      const payload = { conversation_id: conv.dataset.conversation, client_msg_id: id, body: text, private: isPrivate() };
      socket.timeout(15000).emit("message:send", payload, (err, ack) => {
        button.disabled = false;
        if (err) { error.textContent = t("no_answer"); error.hidden = false; return; }
        resend.answered(id);
        if (!ack.ok) { error.textContent = ack.error.message; error.hidden = false; return; }
        error.hidden = true;
        if (body.value === text) body.value = "";  // not what the agent has typed since
        addMessage(ack.message);
        stopTyping();
      });
    }, true);

    body.addEventListener("input", () => {
      const now = Date.now();
      if (now - typingSent > 2500) {
        typingSent = now;
        socket.emit("typing", { conversation_id: conv.dataset.conversation, typing: true, private: isPrivate() });
      }
      clearTimeout(typingTimer);
      typingTimer = setTimeout(stopTyping, 4000);
    });
    function stopTyping() {
      clearTimeout(typingTimer);
      if (typingSent) socket.emit("typing", { conversation_id: conv.dataset.conversation, typing: false, private: isPrivate() });
      typingSent = 0;
    }
  }
})();
