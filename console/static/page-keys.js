// API keys: create one with scopes (its secret is shown once), rotate, revoke.
import { del, get, messages, post } from "./api.js";
import { clear, errorBox, field, h, main, notice, showErrors, table, when } from "./dom.js";

export async function render() {
  const scopes = JSON.parse(document.body.dataset.scopes || "[]");
  const status = h("div", { id: "key-status" });
  const list = h("div", { id: "keys" });

  function reveal(created) {
    clear(status, h("div", { class: "notice ok", role: "status" },
      h("p", {}, `Key “${created.name}” created. Copy it now: it is not shown again.`),
      h("code", { class: "secret", id: "new-key" }, created.key)));
  }

  async function load() {
    const r = await get("/api/api-keys");
    if (!r.ok) return clear(list, notice(messages(r).join(" "), "bad"));
    const rows = r.data.map((k) => h("tr", { dataset: { keyId: k.id } },
      h("td", {}, k.name), h("td", {}, h("code", {}, k.masked)),
      h("td", {}, k.scopes.join(", ")), h("td", {}, when(k.created_at)),
      h("td", {}, when(k.last_used_at)),
      h("td", {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : [
        h("button", { type: "button", onclick: async () => {
          const rot = await post(`/api/api-keys/${k.id}/rotate`);
          if (rot.ok) { reveal(rot.data); load(); }
        } }, "Rotate"), " ",
        h("button", { type: "button", class: "danger", onclick: async () => {
          const gone = await del(`/api/api-keys/${k.id}`);
          if (gone.ok) load();
        } }, "Revoke")])));
    clear(list, rows.length ? table(["Name", "Key", "Scopes", "Created", "Last used", ""], rows,
      { class: "list" }) : h("p", { class: "empty" }, "No keys yet."));
  }

  const name = h("input", { name: "name", required: true, maxlength: 100 });
  const boxes = scopes.map((s) => h("label", { class: "check" },
    h("input", { type: "checkbox", value: s, checked: s.startsWith("read:") }), s));
  const errors = errorBox();
  const form = h("form", { class: "card", id: "new-key-form", novalidate: true }, h("h2", {}, "New key"),
    field("Name", name), h("fieldset", {}, h("legend", {}, "Scopes"), boxes),
    h("button", { type: "submit" }, "Create key"), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await post("/api/api-keys", { name: name.value,
      scopes: boxes.map((l) => l.firstChild).filter((i) => i.checked).map((i) => i.value) });
    if (!r.ok) return showErrors(errors, messages(r));
    showErrors(errors, []);
    reveal(r.data);
    load();
  });
  main(status, list, form);
  await load();
}
