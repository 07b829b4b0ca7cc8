// Analytics: the totals over a period and the charts per day and per hour.
import { allClients, get, messages, query } from "./api.js";
import { barChart } from "./charts.js";
import { clear, field, h, main, notice, options, seconds } from "./dom.js";

function tile(label, value, id) {
  return h("div", { class: "tile", id }, h("span", { class: "value" }, value),
    h("span", { class: "label" }, label));
}

export async function render() {
  const clients = await allClients();
  const params = new URLSearchParams(location.search);
  const client = options(h("select", { name: "client_id" }),
    [["", "All clients"], ...clients.map((c) => [c.id, c.name])], params.get("client_id"));
  const days = options(h("select", { name: "days" }),
    [[7, "7 days"], [30, "30 days"], [90, "90 days"]], params.get("days") || 30);
  const board = h("div", { id: "analytics" });

  async function load() {
    const q = query({ days: days.value, client_id: client.value });
    const [stats, daily] = await Promise.all([get(`/api/analytics/stats${q}`),
      get(`/api/analytics/metrics/daily${q}`)]);
    if (!stats.ok || !daily.ok) {
      return clear(board, notice(messages(stats.ok ? daily : stats).join(" "), "bad"));
    }
    const s = stats.data;
    const rows = daily.data.days;
    const labels = rows.map((d) => d.date.slice(5));
    const hours = Array.from({ length: 24 }, (_, hour) =>
      (s.busiest_hours.find((b) => b.hour === hour) || { calls: 0 }).calls);
    const rate = s.booking_rate === null ? "–" : `${Math.round(s.booking_rate * 100)}%`;
    clear(board,
      h("div", { class: "tiles" },
        tile("Calls", s.calls, "stat-calls"), tile("Bookings", s.bookings, "stat-bookings"),
        tile("Booking rate", rate, "stat-booking-rate"),
        tile("Transfers", s.transfers, "stat-transfers"),
        tile("Messages taken", s.messages, "stat-messages"),
        tile("Average duration", seconds(s.avg_duration_seconds), "stat-avg-duration"),
        tile("Minutes used", Math.round(s.minutes_used * 10) / 10, "stat-minutes")),
      h("p", { class: "muted" }, `Times in ${daily.data.timezone}.`),
      h("div", { class: "charts" },
        barChart("Calls per day", labels, rows.map((d) => d.calls), { id: "chart-calls" }),
        barChart("Bookings per day", labels, rows.map((d) => d.bookings), { id: "chart-bookings" }),
        barChart("Booking rate per day (%)", labels, rows.map((d) => (d.calls
          ? Math.round((d.bookings / d.calls) * 100) : 0)), { id: "chart-booking-rate" }),
        barChart("Transfers per day", labels, rows.map((d) => d.transfers), { id: "chart-transfers" }),
        barChart("Messages taken per day", labels, rows.map((d) => d.messages),
          { id: "chart-messages" }),
        barChart("Average duration per day (s)", labels,
          rows.map((d) => Math.round(d.avg_duration_seconds || 0)), { id: "chart-duration" }),
        barChart("Minutes used per day", labels, rows.map((d) => d.minutes_used),
          { id: "chart-minutes" }),
        barChart("Busiest hours (calls by hour of day)", hours.map((_, i) => String(i)), hours,
          { id: "chart-hours" })));
  }

  client.addEventListener("change", load);
  days.addEventListener("change", load);
  main(h("div", { class: "toolbar" }, field("Client", client), field("Period", days)), board);
  await load();
}
