// Console behaviour that needs no server round trip: keyboard shortcuts, auto-submitting
// selects, relative times, the one-click-once send button.
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const { t, tn } = window.HelpdeskI18n;
  const typingTarget = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

  // Relative times ("5 min ago"), refreshed every minute.
  // In the console's language (<html lang>: the agent's choice or the browser's), like the page.
  const rtf = new Intl.RelativeTimeFormat(document.documentElement.lang || navigator.language || "en",
                                          { numeric: "auto" });
  function relative() {
    const now = Date.now();
    $$("time[data-relative]").forEach((t) => {
      const secs = (new Date(t.getAttribute("datetime")).getTime() - now) / 1000;
      const abs = Math.abs(secs);
      const [value, unit] = abs < 60 ? [secs, "second"] : abs < 3600 ? [secs / 60, "minute"]
        : abs < 86400 ? [secs / 3600, "hour"] : [secs / 86400, "day"];
      t.textContent = abs < 45 ? rtf.format(0, "second") : rtf.format(Math.round(value), unit);
    });
  }
  relative();
  setInterval(relative, 60000);

  // Absolute times in the agent's own zone ("Snoozed until Thu 3 Dec, 09:00").
  const local = new Intl.DateTimeFormat(document.documentElement.lang || navigator.language || "en", { weekday: "short", day: "numeric",
    month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  $$("time[data-local]").forEach((t) => { t.textContent = local.format(new Date(t.getAttribute("datetime"))); });
  // A picked snooze time is the browser's local time: send its offset to UTC (on that date) with it.
  $$("input[data-tz-offset]").forEach((i) => {
    const picked = i.form.elements.snooze_until;
    const fill = () => { i.value = String(new Date(picked.value || Date.now()).getTimezoneOffset()); };
    fill();
    i.form.addEventListener("submit", fill);
  });

  // Selects in .autosubmit forms save on change.
  $$("form.autosubmit select, select.autosubmit-select").forEach((s) =>
    s.addEventListener("change", () => { if (s.value) s.form.requestSubmit(); }));

  // Forms that ask first (data-confirm), and copy buttons (data-copy="#selector"): no inline
  // handlers, so the Content-Security-Policy can forbid them all.
  document.addEventListener("submit", (e) => {
    const form = e.target.closest && e.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.dataset.confirm)) e.preventDefault();
  }, true);
  document.addEventListener("click", (e) => {
    const button = e.target.closest && e.target.closest("[data-copy]");
    if (!button) return;
    const source = $(button.dataset.copy);
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = t("copied"); });
    }
  });

  // Rows are links; j/k move the selection.
  const rows = () => $$("#rows .row");
  let selected = -1;
  function select(i) {
    const list = rows();
    if (!list.length) return;
    selected = Math.max(0, Math.min(list.length - 1, i));
    list.forEach((r, n) => r.classList.toggle("selected", n === selected));
    list[selected].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("click", (e) => {
    const row = e.target.closest && e.target.closest("#rows .row");
    if (row && !e.target.closest("a,button,input,label")) location.href = row.dataset.href;
  });

  // Bulk selection: the bar shows how many are ticked; x ticks the selected row.
  const bulk = $("#bulk");
  function updateBulk() {
    if (!bulk) return;
    const n = $$("input.pick:checked", bulk).length;
    bulk.classList.toggle("has-picks", n > 0);
    $("#bulk-count").textContent = n ? tn("bulk.selected", n) : t("bulk.select");
  }
  if (bulk) {
    bulk.addEventListener("change", (e) => {
      if (e.target.id === "select-all") $$("input.pick", bulk).forEach((c) => { c.checked = e.target.checked; });
      updateBulk();
    });
    updateBulk();
  }

  // Composer: a client_msg_id per send so a double submit stores one message.
  const composer = $("#composer");
  if (composer) {
    composer.addEventListener("submit", () => {
      composer.elements.client_msg_id.value = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now() + Math.random());
      $("button[type=submit]", composer).disabled = true;
    });
    composer.elements.body.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); composer.requestSubmit(); }
    });
    // Canned replies: pick from the list, or type /shortcut and Tab in the reply box.
    const canned = $("#canned");
    const insert = (text) => {
      const box = composer.elements.body;
      box.value = box.value.replace(/(^|\s)\/[\w-]*$/, "$1") + text;
      box.focus();
    };
    if (canned) {
      canned.addEventListener("change", () => { if (canned.value) insert(canned.value); canned.value = ""; });
      composer.elements.body.addEventListener("keydown", (e) => {
        if (e.key !== "Tab") return;
        const m = composer.elements.body.value.match(/(?:^|\s)\/([\w-]+)$/);
        const opt = m && $(`option[data-shortcut="${m[1]}"]`, canned);
        if (opt) { e.preventDefault(); insert(opt.value); }
      });
    }
    const thread = $("#thread");
    if (thread) thread.scrollTop = thread.scrollHeight;
  }

  // The help dialog takes focus when it opens (and keeps Tab inside), and gives it back on close.
  const help = $("#help");
  let helpOpener = null;
  const toggleHelp = (show) => {
    if (!help || help.hidden === !show) return;
    if (show) helpOpener = document.activeElement;
    help.hidden = !show;
    if (show) $(".help-card", help).focus();
    else if (helpOpener && helpOpener.focus) { helpOpener.focus(); helpOpener = null; }
  };
  if (help) {
    help.addEventListener("keydown", (e) => {
      if (e.key !== "Tab") return;
      const close = $("[data-close-help]", help);
      e.preventDefault();  // one control inside: Tab stays on it
      close.focus();
    });
    help.addEventListener("click", (e) => { if (e.target === help) toggleHelp(false); });
  }
  $$("[data-close-help]").forEach((b) => b.addEventListener("click", () => toggleHelp(false)));

  let pendingG = false;
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { toggleHelp(false); if (typingTarget(e.target)) e.target.blur(); return; }
    if (typingTarget(e.target) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (pendingG) {
      pendingG = false;
      if (e.key === "c") { location.href = "/console"; }
      return;
    }
    const click = (sel) => { const el = $(sel); if (el) { e.preventDefault(); el.click(); } };
    switch (e.key) {
      case "?": toggleHelp(help && help.hidden); break;
      case "j": select(selected + 1); break;
      case "k": select(selected - 1); break;
      case "o": case "Enter": if (selected >= 0) location.href = rows()[selected].dataset.href; break;
      case "/": { const s = $("#search"); if (s) { e.preventDefault(); s.focus(); } break; }
      case "r": { const r = $("#reply"); if (r) { e.preventDefault(); $("input[name=private][value='0']").checked = true; r.focus(); } break; }
      case "n": { const r = $("#reply"); if (r) { e.preventDefault(); $("input[name=private][value='1']").checked = true; r.focus(); } break; }
      case "e": click("[data-shortcut=e]"); break;
      case "a": click("[data-shortcut=a]"); break;
      case "x": { const r = rows()[selected]; if (r) { const c = $("input.pick", r); c.checked = !c.checked; updateBulk(); } break; }
      case "s": { const el = $("[data-shortcut-focus=s]"); if (el) { e.preventDefault(); el.focus(); } break; }
      case "m": { const el = $("[data-shortcut-focus=m]"); if (el) { e.preventDefault(); el.focus(); } break; }
      case "g": pendingG = true; break;
      default: break;
    }
  });
})();
