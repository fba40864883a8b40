// Agent alerts: a desktop notification (after the agent asked for it with the "Enable
// notifications" control, never on page load), an optional sound (toggle kept in localStorage)
// and an unread count in the tab title, for new chats, conversations given to me, customers'
// replies on my conversations and @mentions of me in private notes. The server sends the last
// three to my own room only (helpdesk/chat/alerts.py); console-live.js owns the socket.
(function () {
  "use strict";
  const socket = window.HelpdeskConsoleSocket;
  const { t } = window.HelpdeskI18n;
  const box = document.querySelector("[data-alerts]");
  if (!socket || !box) return;
  const SOUND_KEY = "helpdesk.alerts.sound";
  const enable = box.querySelector("[data-alerts-enable]");
  const state = box.querySelector("[data-alerts-state]");
  const sound = box.querySelector("[data-alerts-sound]");
  const baseTitle = document.title;
  let unread = 0;
  let me = null;
  let audio = null;

  function renderTitle() {
    document.title = unread > 0 ? "(" + unread + ") " + baseTitle : baseTitle;
  }
  function clearUnread() { unread = 0; renderTitle(); }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) clearUnread(); });
  window.addEventListener("focus", clearUnread);

  function renderPermission() {
    if (!("Notification" in window)) {
      enable.hidden = true;
      state.textContent = t("alerts.unavailable");
      return;
    }
    enable.hidden = Notification.permission !== "default";
    state.textContent = Notification.permission === "granted" ? t("alerts.on")
      : Notification.permission === "denied" ? t("alerts.blocked") : "";
  }
  enable.addEventListener("click", () => {
    const asked = Notification.requestPermission(renderPermission);  // old Safari: callback only
    if (asked && asked.then) asked.then(renderPermission);
  });

  sound.checked = localStorage.getItem(SOUND_KEY) === "on";
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
    if (sound.checked) play();  // a click: the browser lets the page play from now on
  });
  function play() {
    if (!audio) audio = new Audio(box.dataset.soundSrc);
    audio.currentTime = 0;
    const played = audio.play();
    if (played && played.catch) played.catch(() => {});  // autoplay refused: the title still counts
  }

  function alertAgent(title, body, conversationId) {
    unread += 1;
    renderTitle();
    if (sound.checked) play();
    if ("Notification" in window && Notification.permission === "granted" && (document.hidden || !document.hasFocus())) {
      const n = new Notification(title, { body: body || "", tag: conversationId || undefined });
      n.onclick = () => {
        window.focus();
        if (conversationId) location.href = "/console/c/" + encodeURIComponent(conversationId);
        n.close();
      };
    }
  }
  const label = (a) => (a.ref ? "#" + a.ref + " " : "") + (a.subject || "");

  socket.on("session", (s) => { me = s.agent; });
  socket.on("conversation:new", (c) => {
    const who = (c.customer && c.customer.name) || t("a_visitor");
    if (c.assignee && me && c.assignee.id && c.assignee.id !== me.id) return;  // someone else's already
    alertAgent(t("new_conversation_from", { name: who }), c.subject || "", c.id);
  });
  socket.on("alert", (a) => {
    if (a.kind === "assigned") alertAgent(t("alerts.assigned", { conversation: label(a) }), "", a.conversation_id);
    else if (a.kind === "reply") alertAgent(t("alerts.replied", { name: a.by || t("alerts.the_customer") }), a.excerpt, a.conversation_id);
  });
  socket.on("mention", (m) => {
    alertAgent(t("alerts.mentioned", { name: m.by || t("someone"), conversation: label(m) }), m.excerpt, m.conversation_id);
  });
  renderPermission();
})();
