/* Helpdesk chat loader: <script src="https://HELPDESK/widget.js" data-site="SITE_KEY" async></script>
 * (optional data-locale="de": en, de, fr, es, it, nl, pt or pl instead of the shopper's browser language)
 * Adds one iframe served by the helpdesk. Everything the shopper sees lives inside it, so the shop's
 * styles cannot reach it and it cannot read the shop page; this script only places and sizes it. */
(function () {
  "use strict";
  if (window.__helpdeskWidget) return;
  var script = document.currentScript || document.querySelector("script[data-site][src*='widget.js']");
  if (!script || !script.getAttribute("data-site")) return;
  window.__helpdeskWidget = true;

  var site = script.getAttribute("data-site");
  var origin = new URL(script.src, location.href).origin;
  var queued = (window.helpdesk && window.helpdesk.q) || [];
  var frame = document.createElement("iframe");
  var ready = false;
  var outbox = [];
  var state = "closed";

  function css(el, rules) {
    for (var key in rules) el.style.setProperty(key, rules[key], "important");
  }

  function phone() { return window.innerWidth <= 520; }

  function layout() {
    var open = state === "open";
    var full = open && phone();
    css(frame, {
      position: "fixed", "z-index": "2147483000", border: "0", margin: "0", padding: "0",
      background: "transparent", "color-scheme": "normal", "max-width": "100vw", "max-height": "100vh",
      right: full ? "0" : "8px", bottom: full ? "0" : "8px",
      width: full ? "100vw" : open ? "408px" : "88px",
      height: full ? "100%" : open ? "min(704px, calc(100vh - 16px))" : "88px",
      "box-shadow": "none", "border-radius": "0", display: "block", opacity: "1"
    });
    post({ type: "helpdesk:layout", phone: phone() });
  }

  function post(message) {
    if (!ready) { outbox.push(message); return; }
    frame.contentWindow.postMessage(message, origin);
  }

  // The chat events the frame may hand to the page's dataLayer (the shop turns them on in its chat
  // settings), each with the only fields it may carry: no name, email or message text can pass.
  var DATA_LAYER_EVENTS = {
    helpdesk_chat_opened: [],
    helpdesk_chat_started: ["conversation_id"],
    helpdesk_chat_rated: ["conversation_id", "rating"]
  };

  function pushDataLayer(data) {
    if (!data || !Object.prototype.hasOwnProperty.call(DATA_LAYER_EVENTS, data.event)) return;
    var out = { event: data.event };
    DATA_LAYER_EVENTS[data.event].forEach(function (key) {
      var value = data[key];
      if ((typeof value === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(value)) ||
          (typeof value === "number" && isFinite(value))) out[key] = value;
    });
    (window.dataLayer = window.dataLayer || []).push(out);
  }

  function command(name, arg) {
    if (typeof name !== "string") return;
    post({ type: "helpdesk:command", command: name, arg: arg === undefined ? null : arg });
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "helpdesk:ready") {
      ready = true;
      var pending = outbox;
      outbox = [];
      post({ type: "helpdesk:layout", phone: phone() });
      pending.forEach(post);
    } else if (data.type === "helpdesk:state" && (data.state === "open" || data.state === "closed")) {
      state = data.state;
      layout();
    } else if (data.type === "helpdesk:datalayer") {
      pushDataLayer(data.data);
    }
  });
  window.addEventListener("resize", layout);

  window.helpdesk = function () { command(arguments[0], arguments[1]); };
  queued.forEach(function (args) { command(args[0], args[1]); });

  // data-locale="pl" picks the widget's language; without it the shopper's browser decides.
  // The page and referrer go to the frame (it cannot read this page) for the agent's sidebar.
  var locale = script.getAttribute("data-locale");
  frame.src = origin + "/widget/frame?site=" + encodeURIComponent(site) +
    (locale ? "&locale=" + encodeURIComponent(locale) : "") +
    "#page=" + encodeURIComponent(location.href.slice(0, 1000)) +
    "&referrer=" + encodeURIComponent((document.referrer || "").slice(0, 1000));
  frame.title = "Chat";
  frame.setAttribute("allow", "clipboard-write");
  frame.setAttribute("data-helpdesk-widget", "");
  layout();
  function mount() { document.body.appendChild(frame); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
