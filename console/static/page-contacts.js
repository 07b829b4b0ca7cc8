// Contacts of one client: add, change, delete.
import { allClients, del, get, messages, post, put, query } from "./api.js";
import { clear, errorBox, field, h, main, notice, options, showErrors } from "./dom.js";

function contactForm(contact, onSave, label) {
  const phone = h("input", { type: "tel", name: "phone_number", value: contact.phone_number || "",
    required: true });
  const name = h("input", { name: "name", value: contact.name || "" });
  const email = h("input", { type: "email", name: "email", value: contact.email || "" });
  const notes = h("textarea", { name: "notes", rows: 1 }, contact.notes || "");
  const errors = errorBox();
  const form = h("form", { class: "inline contact", novalidate: true }, field("Phone", phone), field("Name", name),
    field("E-mail", email), field("Notes", notes), h("button", { type: "submit" }, label), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await onSave({ phone_number: phone.value, name: name.value || null,
      email: email.value || null, notes: notes.value });
    if (!r.ok) showErrors(errors, messages(r));
  });
  return form;
}

export async function render() {
  const clients = await allClients();
  if (!clients.length) {
    main(notice("Add a client first: contacts belong to a client.", "warn"));
    return;
  }
  const params = new URLSearchParams(location.search);
  const client = options(h("select", { name: "client_id", id: "contacts-client" }),
    clients.map((c) => [c.id, c.name]), params.get("client_id"));
  const search = h("input", { type: "search", name: "q", placeholder: "Search" });
  const list = h("div", { id: "contacts" });
  const status = h("div");

  async function load() {
    const r = await get(`/api/clients/${client.value}/contacts${query({ limit: 100,
      search: search.value })}`);
    if (!r.ok) return clear(list, notice(messages(r).join(" "), "bad"));
    clear(list, r.data.items.length ? h("ul", { class: "rows" }, r.data.items.map((c) =>
      h("li", { dataset: { contactId: c.id } },
        contactForm(c, async (body) => {
          const saved = await put(`/api/contacts/${c.id}`, body);
          if (saved.ok) clear(status, notice(`Saved ${saved.data.name || saved.data.phone_number}.`));
          return saved;
        }, "Save"),
        h("button", { type: "button", class: "danger", onclick: async () => {
          const gone = await del(`/api/contacts/${c.id}`);
          if (gone.ok) load();
        } }, "Delete")))) : h("p", { class: "empty" }, "No contacts yet."),
    h("p", { class: "muted" }, `${r.data.total} contacts`));
  }

  client.addEventListener("change", load);
  search.addEventListener("change", load);
  const add = contactForm({}, async (body) => {
    const r = await post("/api/contacts", { ...body, client_id: Number(client.value) });
    if (r.ok) {
      clear(status, notice("Contact added."));
      load();
    }
    return r;
  }, "Add contact");
  main(h("div", { class: "toolbar" }, field("Client", client), field("Search", search)),
    status, h("section", { class: "card" }, h("h2", {}, "New contact"), add), list);
  await load();
}
