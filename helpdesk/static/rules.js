// The rule and macro builder: rows of selects instead of typed JSON. The vocabulary comes from
// the server (data-schema); on submit the rows are written into hidden JSON fields.
(() => {
  "use strict";
  const form = document.querySelector("form[data-builder]");
  if (!form) return;
  const { t, label } = window.HelpdeskI18n;  // the console's words (i18n.js)
  const schema = JSON.parse(form.dataset.schema);
  const draft = JSON.parse(form.dataset.draft || "{}");

  const el = (tag, attrs = {}, children = []) => {
    const node = document.createElement(tag);
    Object.entries(attrs).forEach(([k, v]) => { if (k === "text") node.textContent = v; else node.setAttribute(k, v); });
    children.forEach((c) => node.appendChild(c));
    return node;
  };
  const select = (options, value, cls) => {
    const s = el("select", { class: cls });
    options.forEach(([v, label]) => {
      const o = el("option", { value: v, text: label });
      if (String(v) === String(value)) o.selected = true;
      s.appendChild(o);
    });
    return s;
  };
  const opLabels = { is: t("op.is"), is_not: t("op.is_not"), contains: t("op.contains"),
                     not_contains: t("op.not_contains"), gt: t("op.gt"), lt: t("op.lt") };

  const valueInput = (kind, choices, value) => {
    if (choices && choices.length) return select(choices.map((c) => [c, label(c)]), value, "b-value");
    if (kind === "number") return el("input", { type: "number", step: "any", class: "b-value", value: value ?? "" });
    if (kind === "text") return el("textarea", { rows: "2", class: "b-value", maxlength: "5000" }, []);
    return el("input", { type: kind === "url" ? "url" : "text", class: "b-value", value: value ?? "" });
  };

  const conditionRow = (c = {}) => {
    const fields = Object.entries(schema.fields).map(([name, f]) => [name, f.label || name]);
    const row = el("div", { class: "builder-row", "data-kind": "condition" });
    const field = select(fields, c.field || fields[0][0], "b-field");
    const paint = (keep) => {
      const f = schema.fields[field.value];
      row.querySelectorAll(".b-op, .b-value").forEach((n) => n.remove());
      const op = select(f.ops.map((o) => [o, opLabels[o] || o]), keep ? c.op : f.ops[0], "b-op");
      row.insertBefore(op, remove);
      row.insertBefore(valueInput(f.kind === "number" ? "number" : "line", f.choices, keep ? c.value : ""), remove);
    };
    const remove = el("button", { type: "button", class: "btn small", title: t("rules.remove"), "aria-label": t("rules.remove"), text: "×" });
    remove.addEventListener("click", () => row.remove());
    row.append(field, remove);
    field.addEventListener("change", () => paint(false));
    paint(true);
    return row;
  };

  const actionChoices = (kind) => {
    if (kind === "priority") return schema.priorities;
    if (kind === "status") return schema.statuses;
    return null;
  };
  const actionRow = (a = {}) => {
    const types = Object.entries(schema.actions)
      .filter(([name]) => form.dataset.builder === "rule" || name !== "webhook")
      .map(([name, x]) => [name, x.label]);
    const row = el("div", { class: "builder-row", "data-kind": "action" });
    const type = select(types, a.type || types[0][0], "b-type");
    const remove = el("button", { type: "button", class: "btn small", title: t("rules.remove"), "aria-label": t("rules.remove"), text: "×" });
    remove.addEventListener("click", () => row.remove());
    const paint = (keep) => {
      row.querySelectorAll(".b-value").forEach((n) => n.remove());
      const kind = schema.actions[type.value].kind;
      const value = keep ? a.value : "";
      let input;
      if (kind === "agent") input = select(schema.agents.map((x) => [x.id, x.name]), value, "b-value");
      else if (kind === "team") input = select(schema.teams.map((x) => [x.id, x.name]), value, "b-value");
      else if (actionChoices(kind)) input = select(actionChoices(kind).map((x) => [x, label(x)]), value, "b-value");
      else input = valueInput(kind, null, value);
      if (input.tagName === "TEXTAREA") input.value = value || "";
      row.insertBefore(input, remove);
    };
    row.append(type, remove);
    type.addEventListener("change", () => paint(false));
    paint(true);
    return row;
  };

  const holders = {};
  form.querySelectorAll("[data-rows]").forEach((h) => { holders[h.dataset.rows] = h; });
  const makers = { conditions: conditionRow, actions: actionRow };
  Object.entries(holders).forEach(([name, holder]) => {
    (draft[name] || []).forEach((item) => holder.appendChild(makers[name](item)));
    if (name === "actions" && !holder.children.length) holder.appendChild(actionRow());
  });
  form.querySelectorAll("[data-add]").forEach((b) =>
    b.addEventListener("click", () => holders[b.dataset.add].appendChild(makers[b.dataset.add]())));

  form.addEventListener("submit", () => {
    if (holders.conditions) {
      const conditions = [...holders.conditions.querySelectorAll(".builder-row")].map((r) => {
        const field = r.querySelector(".b-field").value;
        const raw = r.querySelector(".b-value").value;
        const value = schema.fields[field].kind === "number" && raw !== "" ? Number(raw) : raw;
        return { field, op: r.querySelector(".b-op").value, value };
      });
      form.querySelector("[name=conditions_json]").value = JSON.stringify(conditions);
    }
    const actions = [...holders.actions.querySelectorAll(".builder-row")].map((r) =>
      ({ type: r.querySelector(".b-type").value, value: r.querySelector(".b-value").value }));
    form.querySelector("[name=actions_json]").value = JSON.stringify(actions);
  });
})();
