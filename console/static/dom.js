// Building the page: every piece of data goes in as text (textContent), never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function main(...children) {
  const root = document.getElementById("main");
  const title = root.querySelector("h1");
  root.replaceChildren(title);
  append(root, children);
  return root;
}

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  const s = Math.max(0, Math.round(value));
  const m = Math.floor(s / 60);
  return m ? `${m}m ${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function table(headers, rows, attrs = {}) {
  return h("table", attrs,
    h("thead", {}, h("tr", {}, headers.map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

// An error area whose text is the API's message(s): a 422's field errors one per line.
export function errorBox() {
  return h("div", { class: "errors", role: "alert", hidden: true });
}

export function showErrors(box, messages) {
  clear(box, messages.map((m) => h("p", {}, m)));
  box.hidden = messages.length === 0;
}

export function notice(text, kind = "ok") {
  return h("p", { class: `notice ${kind}`, role: "status" }, text);
}

export function field(label, input, hint) {
  return h("label", { class: "field" }, h("span", {}, label), input,
    hint ? h("small", { class: "muted" }, hint) : null);
}

export function options(select, items, selected) {
  clear(select, items.map(([value, label]) =>
    h("option", { value: String(value), selected: String(value) === String(selected) }, label)));
  return select;
}

// "2026-12-07T09:30" in the browser's zone, for <input type="datetime-local">.
export function localInput(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function dayKey(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}
