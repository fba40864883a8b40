// The console scripts' words in the page's language: one catalogue for every script, rendered
// by the server into #console-strings (helpdesk/i18n/js.py). Loaded before the other scripts.
//   HelpdeskI18n.t("key", {name: "Ann"})        a message, its "%(name)s" filled in
//   HelpdeskI18n.tn("key", 3, {names: "…"})      a plural message, %(count)s is the count
//   HelpdeskI18n.label("open")                   a status, priority, channel or role
//   HelpdeskI18n.span(ms)                        "5d 16h", "2 Std. 5 Min.": an SLA countdown
(function () {
  "use strict";
  const node = document.getElementById("console-strings");
  let strings = {};
  try { strings = node ? JSON.parse(node.textContent) : {}; } catch (e) { strings = {}; }
  const lang = document.documentElement.lang || "en";
  const plurals = new Intl.PluralRules(lang);
  const fill = (text, vars) => String(text).replace(/%\((\w+)\)s/g,
    (m, name) => (vars && name in vars ? String(vars[name]) : m));
  function t(key, vars) {
    const text = strings[key];
    return fill(typeof text === "string" ? text : key, vars);
  }
  function tn(key, count, vars) {
    const forms = strings[key] || {};
    const text = forms[plurals.select(count)] || forms.other || key;
    return fill(text, Object.assign({ count: count }, vars || {}));
  }
  function label(value) {
    const text = strings["label." + value];
    return typeof text === "string" ? text : String(value);
  }
  const units = {};
  function unit(value, name) {
    try {
      units[name] = units[name] || new Intl.NumberFormat(lang, { style: "unit", unit: name, unitDisplay: "narrow" });
      return units[name].format(value);
    } catch (e) {
      return value + name.charAt(0);
    }
  }
  // The same two-unit countdown as the server's (helpdesk.i18n.format_span).
  function span(ms) {
    const minutes = Math.max(0, Math.floor(ms / 60000));
    const days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), rest = minutes % 60;
    if (days) return unit(days, "day") + " " + unit(hours, "hour");
    if (hours) return unit(hours, "hour") + " " + unit(rest, "minute");
    return unit(rest, "minute");
  }
  window.HelpdeskI18n = { t: t, tn: tn, label: label, span: span, lang: lang };
})();
