// Appointments by day or by week: book one, move one, cancel one. The API checks the
// slot (business hours, conflicts) and its answer is shown as it gives it.
import { allClients, del, get, messages, patch, post, query } from "./api.js";
import {
  clear, dayKey, errorBox, field, h, localInput, main, notice, options, showErrors,
} from "./dom.js";

function startOfDay(d) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

function addDays(d, n) {
  return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n);
}

function startOfWeek(d) {
  const day = (d.getDay() + 6) % 7;   // Monday first
  return addDays(startOfDay(d), -day);
}

function alternatives(r) {
  const alts = r.data && r.data.alternatives;
  if (!alts || !alts.length) return [];
  return [`Free nearby: ${alts.map((a) => new Date(a.starts_at).toLocaleString()).join(", ")}`];
}

export async function render() {
  const clients = await allClients();
  const names = new Map(clients.map((c) => [c.id, c.name]));
  const params = new URLSearchParams(location.search);
  let view = params.get("view") === "week" ? "week" : "day";
  let anchor = params.get("date") ? new Date(`${params.get("date")}T00:00:00`) : new Date();
  const client = options(h("select", { name: "client_id", id: "filter-client" }),
    [["", "All clients"], ...clients.map((c) => [c.id, c.name])], params.get("client_id"));
  const date = h("input", { type: "date", id: "day", value: dayKey(anchor) });
  const title = h("h2", { id: "range" });
  const board = h("div", { id: "appointments" });
  const status = h("div", { id: "appointment-status" });

  function range() {
    const since = view === "week" ? startOfWeek(anchor) : startOfDay(anchor);
    return [since, addDays(since, view === "week" ? 7 : 1)];
  }

  function moveForm(appt) {
    const when = h("input", { type: "datetime-local", name: "starts_at", class: "move-to",
      value: localInput(appt.starts_at), required: true });
    const errors = errorBox();
    const form = h("form", { class: "inline move", hidden: true, novalidate: true },
      field("New time", when), h("button", { type: "submit", class: "save-move" }, "Save"),
      errors);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await patch(`/api/calendar/appointments/${appt.id}`,
        { starts_at: new Date(when.value).toISOString() });
      if (!r.ok) return showErrors(errors, [...messages(r), ...alternatives(r)]);
      await load();
      clear(status, notice(`Moved ${appt.name} to ${new Date(r.data.starts_at).toLocaleString()}.`));
    });
    return form;
  }

  function row(appt) {
    const move = moveForm(appt);
    const errors = errorBox();
    const start = new Date(appt.starts_at);
    const end = new Date(appt.ends_at);
    return h("li", { class: `appointment ${appt.status}`, dataset: { appointmentId: appt.id } },
      h("span", { class: "time" },
        `${start.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}–` +
        `${end.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`),
      h("strong", {}, appt.name), h("span", {}, appt.phone),
      h("span", { class: "muted" }, names.get(appt.client_id) || ""),
      appt.notes ? h("span", { class: "muted" }, appt.notes) : null,
      h("span", { class: "badge" }, appt.status === "booked" ? `by ${appt.booked_by}` : appt.status),
      appt.status === "booked" ? [
        h("button", { type: "button", class: "move-open",
          onclick: () => { move.hidden = !move.hidden; } }, "Move"),
        h("button", { type: "button", class: "danger cancel",
          onclick: async () => {
            const r = await del(`/api/calendar/appointments/${appt.id}`);
            if (!r.ok) return showErrors(errors, messages(r));
            await load();
            clear(status, notice(`Cancelled ${appt.name}.`));
          } }, "Cancel"),
      ] : null,
      move, errors);
  }

  async function load() {
    const [since, until] = range();
    title.textContent = view === "week"
      ? `Week of ${since.toLocaleDateString()}` : since.toLocaleDateString(undefined,
        { weekday: "long", year: "numeric", month: "long", day: "numeric" });
    const items = [];
    for (let offset = 0; ; offset += 100) {
      const r = await get(`/api/appointments${query({
        client_id: client.value, since: since.toISOString(), until: until.toISOString(),
        limit: 100, offset })}`);
      if (!r.ok) {
        clear(board, notice(messages(r).join(" "), "bad"));
        return;
      }
      items.push(...r.data.items);
      if (items.length >= r.data.total || !r.data.items.length) break;
    }
    const days = [];
    for (let d = since; d < until; d = addDays(d, 1)) days.push(d);
    clear(board, h("div", { class: `days ${view}` }, days.map((d) => {
      const mine = items.filter((a) => dayKey(new Date(a.starts_at)) === dayKey(d));
      return h("section", { class: "day", dataset: { day: dayKey(d) } },
        h("h3", {}, d.toLocaleDateString(undefined, { weekday: "short", month: "short",
          day: "numeric" })),
        mine.length ? h("ul", { class: "appointments" }, mine.map(row))
          : h("p", { class: "empty" }, "Nothing booked."));
    })));
  }

  function go(days) {
    anchor = addDays(anchor, days);
    date.value = dayKey(anchor);
    load();
  }

  const step = () => (view === "week" ? 7 : 1);
  const dayButton = h("button", { type: "button", "aria-pressed": String(view === "day") }, "Day");
  const weekButton = h("button", { type: "button", "aria-pressed": String(view === "week") }, "Week");
  const setView = (v) => {
    view = v;
    dayButton.setAttribute("aria-pressed", String(v === "day"));
    weekButton.setAttribute("aria-pressed", String(v === "week"));
    load();
  };
  dayButton.addEventListener("click", () => setView("day"));
  weekButton.addEventListener("click", () => setView("week"));
  date.addEventListener("change", () => {
    if (date.value) anchor = new Date(`${date.value}T00:00:00`);
    load();
  });
  client.addEventListener("change", load);

  // Booking as staff.
  const bookClient = options(h("select", { name: "client_id" }),
    clients.map((c) => [c.id, c.name]), client.value);
  const bookAt = h("input", { type: "datetime-local", name: "starts_at", required: true });
  const bookName = h("input", { name: "name", required: true, maxlength: 100 });
  const bookPhone = h("input", { type: "tel", name: "phone", required: true });
  const bookNotes = h("input", { name: "notes" });
  const bookErrors = errorBox();
  const book = h("form", { class: "card inline", id: "book", novalidate: true },
    h("h2", {}, "Book an appointment"), field("Client", bookClient), field("When", bookAt),
    field("Name", bookName), field("Phone", bookPhone), field("Notes", bookNotes),
    h("button", { type: "submit" }, "Book"), bookErrors);
  book.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await post("/api/calendar/appointments", {
      client_id: Number(bookClient.value), name: bookName.value, phone: bookPhone.value,
      notes: bookNotes.value, starts_at: bookAt.value ? new Date(bookAt.value).toISOString() : "",
    });
    if (!r.ok) return showErrors(bookErrors, [...messages(r), ...alternatives(r)]);
    showErrors(bookErrors, []);
    anchor = new Date(r.data.starts_at);
    date.value = dayKey(anchor);
    await load();
    clear(status, notice(`Booked ${r.data.name}.`));
  });

  main(
    h("div", { class: "toolbar" },
      h("button", { type: "button", onclick: () => go(-step()) }, "←"),
      date,
      h("button", { type: "button", onclick: () => go(step()) }, "→"),
      h("button", { type: "button", onclick: () => { anchor = new Date(); date.value = dayKey(anchor); load(); } }, "Today"),
      dayButton, weekButton, field("Client", client)),
    status, title, board, clients.length ? book : null);
  await load();
}
