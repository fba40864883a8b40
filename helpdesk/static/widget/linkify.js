/* Links in message text, as DOM nodes (never innerHTML): http, https and mailto URLs become links
   with target=_blank and rel="noopener noreferrer nofollow"; anything else (javascript:, data:,
   ...) stays text. The same rules as helpdesk/tickets/links.py, which renders the console's
   server-side thread. Loaded by the widget frame and the console; node runs it in the tests. */
var HelpdeskLinkify = (function () {
  "use strict";
  var URL_RE = /\b(?:https?:\/\/[^\s<>"'`]+|mailto:[^\s<>"'`\/]+@[^\s<>"'`]+)/gi;
  var TRAILING = ".,;:!?'\"*_";
  var CLOSERS = { ")": "(", "]": "[", "}": "{" };
  var REL = "noopener noreferrer nofollow";

  function count(s, ch) { return s.split(ch).length - 1; }
  function trim(url) {
    while (url) {
      var last = url.charAt(url.length - 1);
      if (TRAILING.indexOf(last) >= 0) url = url.slice(0, -1);
      else if (CLOSERS[last] && count(url, last) > count(url, CLOSERS[last])) url = url.slice(0, -1);
      else break;
    }
    return url;
  }
  // [{text}] and [{href}] pieces of a text, in order.
  function parts(text) {
    text = String(text || "");
    var out = [], pos = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      var url = trim(m[0]);
      if (url.length <= 8 && !/^mailto:/i.test(url)) continue;
      if (m.index > pos) out.push({ text: text.slice(pos, m.index) });
      out.push({ href: url });
      pos = m.index + url.length;
      URL_RE.lastIndex = pos;
    }
    if (pos < text.length) out.push({ text: text.slice(pos) });
    return out;
  }
  // Fill `node` (emptied first) with the text and its links.
  function fill(node, text) {
    var doc = node.ownerDocument;
    node.textContent = "";
    parts(text).forEach(function (p) {
      if (p.text !== undefined) { node.appendChild(doc.createTextNode(p.text)); return; }
      var a = doc.createElement("a");
      a.href = p.href;
      a.textContent = p.href;
      a.target = "_blank";
      a.rel = REL;
      node.appendChild(a);
    });
    return node;
  }
  return { parts: parts, fill: fill, trim: trim, REL: REL };
})();
if (typeof module !== "undefined" && module.exports) module.exports = HelpdeskLinkify;
