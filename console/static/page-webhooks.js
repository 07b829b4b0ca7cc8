// Webhook endpoints: register one (its signing secret is shown once), test, enable,
// remove, and see its recent deliveries.
import { allClients, del, get, messages, post } from "./api.js";
import { clear, errorBox, field, h, main, notice, options, showErrors, table, when } from "./dom.js";

export async function render() {
  const events = JSON.parse(document.body.dataset.events || "[]");
  const clients = await allClients();
  const status = h("div", { id: "webhook-status" });
  const list = h("div", { id: "webhooks" });

  async function deliveries(endpoint, into) {
    const r = await get(`/api/webhooks/${endpoint.id}/deliveries?limit=20`);
    if (!r.ok) return clear(into, notice(messages(r).join(" "), "bad"));
    clear(into, r.data.items.length ? table(["Event", "Status", "Attempts", "Delivered", "Created"],
      r.data.items.map((d) => h("tr", {}, h("td", {}, d.event_type), h("td", {}, d.status),
        h("td", {}, String(d.attempts.length)), h("td", {}, when(d.delivered_at)),
        h("td", {}, when(d.created_at)))), { class: "list" })
      : h("p", { class: "empty" }, "No deliveries yet."));
  }

  async function load() {
    const r = await get("/api/webhooks");
    if (!r.ok) return clear(list, notice(messages(r).join(" "), "bad"));
    clear(list, r.data.length ? r.data.map((e) => {
      const log = h("div");
      const errors = errorBox();
      return h("section", { class: "card", dataset: { endpointId: e.id } },
        h("h3", {}, h("code", {}, e.url)),
        h("p", {}, e.events.join(", ")),
        h("p", { class: "muted" }, e.is_active ? "active" : `disabled: ${e.disabled_reason || ""}`,
          e.client_id ? ` · ${clients.find((c) => c.id === e.client_id)?.name || e.client_id}` : ""),
        h("div", { class: "actions" },
          h("button", { type: "button", onclick: async () => {
            const t = await post(`/api/webhooks/${e.id}/test`);
            showErrors(errors, t.ok ? [] : messages(t));
            if (t.ok) clear(status, notice(`Test sent: ${JSON.stringify(t.data)}`));
          } }, "Send test"),
          e.is_active ? null : h("button", { type: "button", onclick: async () => {
            const en = await post(`/api/webhooks/${e.id}/enable`);
            if (en.ok) load(); else showErrors(errors, messages(en));
          } }, "Enable"),
          h("button", { type: "button", onclick: () => deliveries(e, log) }, "Deliveries"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            const gone = await del(`/api/webhooks/${e.id}`);
            if (gone.ok) load(); else showErrors(errors, messages(gone));
          } }, "Remove")),
        errors, log);
    }) : h("p", { class: "empty" }, "No webhook endpoints yet."));
  }

  const url = h("input", { type: "url", name: "url", required: true,
    placeholder: "https://example.com/hooks/frontdesk" });
  const description = h("input", { name: "description" });
  const client = options(h("select", { name: "client_id" }),
    [["", "All clients"], ...clients.map((c) => [c.id, c.name])], "");
  const boxes = events.map((ev) => h("label", { class: "check" },
    h("input", { type: "checkbox", value: ev, checked: ev === "call.ended" }), ev));
  const errors = errorBox();
  const form = h("form", { class: "card", novalidate: true }, h("h2", {}, "New endpoint"), field("URL", url),
    field("Description", description), field("Client", client),
    h("fieldset", {}, h("legend", {}, "Events"), boxes),
    h("button", { type: "submit" }, "Add endpoint"), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await post("/api/webhooks", { url: url.value, description: description.value,
      client_id: client.value ? Number(client.value) : null,
      events: boxes.map((l) => l.firstChild).filter((i) => i.checked).map((i) => i.value) });
    if (!r.ok) return showErrors(errors, messages(r));
    showErrors(errors, []);
    clear(status, h("div", { class: "notice ok", role: "status" },
      h("p", {}, "Endpoint added. Its signing secret, shown once:"),
      h("code", { class: "secret" }, r.data.secret)));
    load();
  });
  main(status, list, form);
  await load();
}
