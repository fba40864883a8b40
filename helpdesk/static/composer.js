// The reply box's email side and files: Reply / Reply all fill To and Cc, files come from the
// button, drag-and-drop or paste (shown with thumbnails before sending), and the Forward links
// open the forward form on their message. Works on the conversation page's composer and on the
// "New email" page. Everything is built with textContent; the server checks every file again.
(function () {
  "use strict";
  const IMAGE = /^image\/(png|jpeg|gif|webp)$/;
  const ACCEPTED = /^(image\/(png|jpeg|gif|webp)|application\/pdf|text\/plain|text\/csv)$/;
  const MAX_FILES = 5;
  // The page's words in the console's language (i18n.js, the console's one catalogue).
  const { t, tn } = window.HelpdeskI18n;

  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  // Files live in the form's own <input type=file>: a DataTransfer holds the list, so a plain
  // form post (no socket, no JavaScript fetch) sends them too.
  function fileBox(form) {
    const input = form.querySelector("input[type=file][name=files]");
    const list = form.querySelector(".attach-list");
    if (!input || !list) return null;
    const maxBytes = parseInt(form.dataset.maxFile, 10) || 5 * 1048576;
    let files = [];
    const error = form.querySelector(".live-error") || (() => {
      const p = el("p", "live-error small", ""); p.hidden = true;
      form.insertBefore(p, form.querySelector(".composer-foot")); return p;
    })();
    function complain(text) { error.textContent = text; error.hidden = !text; }
    function sync() {
      const dt = new DataTransfer();
      files.forEach((f) => dt.items.add(f));
      input.files = dt.files;
      render();
    }
    function render() {
      list.textContent = "";
      list.hidden = files.length === 0;
      files.forEach((f, i) => {
        const item = el("li", "attach-item");
        if (IMAGE.test(f.type)) {
          const img = el("img");
          img.alt = "";
          img.src = URL.createObjectURL(f);
          img.addEventListener("load", () => URL.revokeObjectURL(img.src), { once: true });
          item.appendChild(img);
        } else {
          item.appendChild(el("span", "attach-kind", (f.name.split(".").pop() || "file").slice(0, 4).toUpperCase()));
        }
        item.appendChild(el("span", "attach-name", f.name + " · " + Math.max(1, Math.round(f.size / 1024)) + " kB"));
        const remove = el("button", null, "✕");
        remove.type = "button";
        remove.setAttribute("aria-label", t("composer.remove", { name: f.name }));
        remove.addEventListener("click", () => { files.splice(i, 1); sync(); });
        item.appendChild(remove);
        list.appendChild(item);
      });
    }
    function add(incoming) {
      complain("");
      Array.from(incoming || []).forEach((f) => {
        if (files.length >= MAX_FILES) { complain(tn("composer.too_many", MAX_FILES)); return; }
        if (f.size > maxBytes) { complain(t("composer.too_big", { name: f.name, size: Math.round(maxBytes / 1048576) })); return; }
        if (f.type && !ACCEPTED.test(f.type)) { complain(t("composer.bad_type", { name: f.name })); return; }
        // A pasted screenshot has no useful name: give it one with the right extension.
        const name = f.name && f.name !== "image.png" ? f.name : "pasted-" + Date.now() + "." + (f.type.split("/")[1] || "png");
        files.push(f.name === name ? f : new File([f], name, { type: f.type }));
      });
      sync();
    }
    // The browser replaced the input's list with the new pick: add it to ours (sync writes both back).
    input.addEventListener("change", () => add(Array.from(input.files)));
    form.addEventListener("dragover", (e) => {
      if (!e.dataTransfer || !Array.from(e.dataTransfer.types || []).includes("Files")) return;
      e.preventDefault();
      form.classList.add("dragging");
    });
    form.addEventListener("dragleave", (e) => { if (!form.contains(e.relatedTarget)) form.classList.remove("dragging"); });
    form.addEventListener("drop", (e) => {
      if (!e.dataTransfer || !e.dataTransfer.files.length) return;
      e.preventDefault();
      form.classList.remove("dragging");
      add(e.dataTransfer.files);
    });
    form.addEventListener("paste", (e) => {
      const pasted = e.clipboardData && Array.from(e.clipboardData.files || []);
      if (!pasted || !pasted.length) return;  // text pastes as text
      e.preventDefault();
      add(pasted);
    });
    return { count: () => files.length, clear: () => { files = []; sync(); }, complain };
  }

  // -- recipients --------------------------------------------------------------------------------
  function recipients(form) {
    const box = form.querySelector("#recipients");
    if (!box) return;
    const to = box.querySelector("input[name=to]");
    const cc = box.querySelector("input[name=cc]");
    const modes = { reply: JSON.parse(box.dataset.reply || "{}"), reply_all: JSON.parse(box.dataset.replyAll || "{}") };
    box.querySelectorAll("input[name=reply_mode]").forEach((radio) => radio.addEventListener("change", () => {
      const pick = modes[radio.value] || {};
      to.value = (pick.to || []).join(", ");
      cc.value = (pick.cc || []).join(", ");
    }));
  }

  // -- the conversation composer: the live console sends through here when a reply is more than text
  const composer = document.getElementById("composer");
  const box = composer ? fileBox(composer) : null;
  if (composer) recipients(composer);
  window.HelpdeskComposer = {
    // An email reply (recipients) or any reply with files goes as multipart over HTTP.
    needsHttp(form) { return !!(form.querySelector("#recipients") || (box && box.count())); },
    send(form, clientMsgId) {
      const data = new FormData(form);
      data.set("client_msg_id", clientMsgId);
      data.delete("reply_mode");
      return fetch(form.action, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json" } })
        .then((r) => r.json().then((body) => (r.ok ? { ok: true, message: body.message }
          : { ok: false, error: body.error || { message: t("composer.send_failed", { status: r.status }) } })))
        .then((ack) => { if (ack.ok && box) box.clear(); return ack; });
    },
  };

  // -- the "New email" page -----------------------------------------------------------------------
  const compose = document.getElementById("compose-form");
  if (compose) {
    fileBox(compose);
    const inbox = compose.querySelector("select[name=inbox]");
    const preview = compose.querySelector("#signature-preview .signature-text");
    const signatures = JSON.parse(compose.dataset.signatures || "{}");
    const show = () => {
      if (!preview) return;
      const text = signatures[inbox.value] || "";
      preview.textContent = text ? "-- \n" + text : t("composer.no_signature");
    };
    if (inbox) { inbox.addEventListener("change", show); show(); }
  }

  // -- Forward links: open the forward form on that message ----------------------------------------
  document.addEventListener("click", (e) => {
    const link = e.target.closest && e.target.closest("a[data-forward]");
    if (!link) return;
    const details = document.getElementById("forward");
    const what = document.getElementById("forward-what");
    if (!details || !what) return;
    e.preventDefault();
    details.open = true;
    what.value = link.dataset.forward;
    details.scrollIntoView({ block: "nearest" });
    const to = details.querySelector("input[name=to]");
    if (to) to.focus();
  });
})();
