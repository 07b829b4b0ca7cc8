// Call history: every call across the clients, newest first, with filters and pages.
import { allClients, get, messages, query } from "./api.js";
import { clear, errorBox, field, h, main, options, seconds, showErrors, table, when } from "./dom.js";

export async function render() {
  const clients = await allClients();
  const names = new Map(clients.map((c) => [c.id, c.name]));
  const params = new URLSearchParams(location.search);
  const client = options(h("select", { name: "client_id" }),
    [["", "All clients"], ...clients.map((c) => [c.id, c.name])], params.get("client_id"));
  const status = options(h("select", { name: "status" }),
    [["", "Any status"], ["active", "In progress"], ["ended", "Ended"], ["pending", "Ringing"]],
    params.get("status"));
  const sentiment = options(h("select", { name: "sentiment" }),
    [["", "Any sentiment"], ["positive", "Positive"], ["neutral", "Neutral"],
      ["negative", "Negative"], ["none", "None"]], params.get("sentiment"));
  const from = h("input", { type: "date", name: "date_from", value: params.get("date_from") || "" });
  const to = h("input", { type: "date", name: "date_to", value: params.get("date_to") || "" });
  const errors = errorBox();
  const results = h("div", { id: "call-list" });
  let page = Number(params.get("page") || 1);

  async function load() {
    const q = {
      page, per_page: 25, client_id: client.value, status: status.value,
      sentiment: sentiment.value,
      date_from: from.value ? new Date(`${from.value}T00:00:00`).toISOString() : "",
      date_to: to.value ? new Date(`${to.value}T23:59:59`).toISOString() : "",
    };
    const r = await get(`/api/calls${query(q)}`);
    if (!r.ok) {
      showErrors(errors, messages(r));
      return;
    }
    showErrors(errors, []);
    const rows = r.data.items.map((c) => h("tr", { dataset: { callId: c.id } },
      h("td", {}, h("a", { href: `/console/calls/${c.id}` }, when(c.started_at || c.created_at))),
      h("td", {}, c.caller_phone),
      h("td", {}, names.get(c.client_id) || String(c.client_id)),
      h("td", {}, c.direction),
      h("td", {}, c.status),
      h("td", {}, seconds(c.duration_seconds)),
      h("td", {}, (c.end_reason || "").replaceAll("_", " ")),
      h("td", {}, c.sentiment)));
    const pager = h("div", { class: "pager" },
      h("button", { type: "button", disabled: page <= 1,
        onclick: () => { page -= 1; load(); } }, "Newer"),
      ` Page ${r.data.page} of ${Math.max(1, r.data.pages)} (${r.data.total} calls) `,
      h("button", { type: "button", disabled: page >= r.data.pages,
        onclick: () => { page += 1; load(); } }, "Older"));
    clear(results, rows.length
      ? table(["When", "Caller", "Client", "Direction", "Status", "Duration", "Ended by",
        "Sentiment"], rows, { class: "list" })
      : h("p", { class: "empty" }, "No calls match."), pager);
  }

  const form = h("form", { class: "filters" },
    field("Client", client), field("Status", status), field("Sentiment", sentiment),
    field("From", from), field("To", to), h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    load();
  });
  main(form, errors, results);
  await load();
}
