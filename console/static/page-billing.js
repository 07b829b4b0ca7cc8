// Billing (owners only: read:billing): the plan and subscription, this period's usage and
// the prepaid balance, plans and minute packs bought through Stripe Checkout, invoices.
// Checkout sends the browser back here with ?checkout=success or ?checkout=cancelled.
import { allClients, get, messages, post } from "./api.js";
import { clear, errorBox, field, h, main, notice, options, showErrors, table, when } from "./dom.js";

const LIVE = new Set(["active", "trialing", "past_due", "unpaid", "incomplete"]);

function refusal(r) {
  if (r.data && r.data.error_code === "billing_not_configured") {
    return ["Billing is not configured on this server.", ...messages(r)];
  }
  return messages(r);
}

function money(cents, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency: currency.toUpperCase() })
      .format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

export async function render() {
  const outcome = new URLSearchParams(location.search).get("checkout");
  const returned = outcome === "success"
    ? notice("Payment received: the minutes appear once Stripe confirms it.")
    : outcome === "cancelled" ? notice("Checkout was cancelled.", "warn") : null;
  if (returned) returned.id = "checkout-notice";

  const sub = await get("/api/billing/subscription");
  if (!sub.ok) {
    const text = sub.status === 403
      ? "Only the organisation's owners see billing." : refusal(sub).join(" ");
    const why = sub.status === 403 ? h("p", { class: "muted" }, messages(sub).join(" ")) : null;
    return main(returned, h("div", { id: "billing-refused" }, notice(text, "bad"), why));
  }

  const errors = errorBox();
  errors.id = "billing-errors";
  const plan = h("section", { class: "card", id: "plan" });
  const usage = h("section", { class: "card", id: "usage" });
  const buy = h("section", { class: "card", id: "packs" });
  const invoices = h("section", { class: "card", id: "invoices" });
  const configured = h("div", { id: "billing-not-configured" });
  const [catalog, clients] = await Promise.all([get("/api/billing/plans"), allClients()]);

  async function go(path, body) {   // a Checkout Session: send the browser there
    showErrors(errors, []);
    const r = await post(path, body);
    if (!r.ok) return fail(r);
    location.assign(r.data.url);
  }

  function fail(r) {
    if (r.data && r.data.error_code === "billing_not_configured") {
      clear(configured, notice("Billing is not configured on this server: plans and minutes"
        + " cannot be bought here until Stripe is set up (STRIPE_SECRET_KEY).", "warn"));
    }
    showErrors(errors, refusal(r));
  }

  function drawPlan(s) {
    const running = s.status && LIVE.has(s.status);
    const plans = catalog.ok ? catalog.data.plans : [];
    const paid = plans.filter((p) => p.name !== "free");
    clear(plan, h("h2", {}, "Plan"),
      h("dl", { class: "facts" },
        h("dt", {}, "Plan"), h("dd", { id: "plan-name" }, s.plan),
        h("dt", {}, "Subscription"), h("dd", { id: "subscription-status" },
          s.status ? `${s.subscription_plan || ""} ${s.status}`.trim() : "none"),
        h("dt", {}, "Period"), h("dd", {}, s.current_period_end
          ? `${when(s.current_period_start)} – ${when(s.current_period_end)}` : "–"),
        s.cancel_at_period_end ? [h("dt", {}, "Ends"),
          h("dd", {}, `cancelled: ends ${when(s.current_period_end)}`)] : null,
        s.downgrade_at ? [h("dt", {}, "Falls back to free"), h("dd", {}, when(s.downgrade_at))] : null),
      catalog.ok ? table(["Plan", "Included minutes / month", "API requests / hour", ""],
        plans.map((p) => h("tr", { dataset: { plan: p.name } },
          h("td", {}, p.title), h("td", {}, String(p.included_minutes)),
          h("td", {}, p.api_requests_per_hour === null ? "unlimited" : String(p.api_requests_per_hour)),
          h("td", {}, p.name === "free" || (p.name === s.plan && running) ? null
            : !p.available ? h("span", { class: "muted" }, "not sold on this server")
              : running ? h("button", { type: "button", class: "upgrade", onclick: async () => {
                showErrors(errors, []);
                const r = await post("/api/billing/subscription/upgrade", { plan: p.name });
                if (!r.ok) return fail(r);
                drawPlan(r.data);
              } }, `Switch to ${p.title}`)
                : h("button", { type: "button", class: "subscribe",
                  onclick: () => go("/api/billing/subscription/checkout", { plan: p.name }) },
                `Subscribe to ${p.title}`)))), { class: "list" })
        : notice(messages(catalog).join(" "), "bad"),
      h("div", { class: "actions" },
        running && !s.cancel_at_period_end ? h("button", { type: "button", class: "danger",
          id: "cancel-subscription", onclick: async () => {
            showErrors(errors, []);
            const r = await post("/api/billing/subscription/cancel");
            if (!r.ok) return fail(r);
            drawPlan(r.data);
          } }, "Cancel at the end of the period") : null,
        h("button", { type: "button", id: "payment-method",
          onclick: () => go("/api/billing/payment-method") }, "Change card")),
      paid.length ? null : h("p", { class: "empty" }, "No paid plans."));
  }

  async function loadUsage() {
    const r = await get("/api/billing/usage");
    if (!r.ok) { clear(usage, notice(messages(r).join(" "), "bad")); return null; }
    const u = r.data;
    const pct = u.percentage === null ? null : Math.min(100, u.percentage);
    clear(usage, h("h2", {}, "Usage"),
      h("p", { id: "usage-text" }, u.minutes_limit
        ? `${u.minutes_used} of ${u.minutes_limit} included minutes used (${u.percentage}%)`
        : `${u.minutes_used} minutes used; the ${u.plan} plan includes none, calls use the`
          + " prepaid balance", ` · resets ${when(u.resets_at)}`),
      pct === null ? null : h("progress", { id: "usage-bar", max: "100", value: String(pct),
        class: u.percentage >= 100 ? "over" : u.percentage >= 80 ? "near" : "" }, `${u.percentage}%`),
      h("p", {}, "Prepaid balance: ", h("strong", { id: "balance-minutes" }, String(u.balance_minutes)),
        " minutes"));
    return u.balance_minutes;
  }

  function drawPacks() {
    if (!catalog.ok) return clear(buy, notice(messages(catalog).join(" "), "bad"));
    const client = options(h("select", { id: "top-up-client", name: "client_id" }),
      clients.map((c) => [c.id, c.name]), clients[0]?.id);
    clear(buy, h("h2", {}, "Buy minutes"),
      clients.length ? null
        : h("p", { class: "empty" }, "Add a client first: minutes are bought for one client."),
      h("div", { class: "toolbar" }, clients.length ? field("For client", client) : null,
        catalog.data.packs.map((p) => h("button", {
          type: "button", class: "buy-pack", dataset: { pack: p.name }, disabled: !clients.length,
          onclick: () => go("/api/billing/top-ups/checkout",
            { client_id: Number(client.value), pack: p.name }),
        }, `${p.minutes} minutes · ${money(p.price_cents, p.currency)}`))));
  }

  async function loadInvoices() {
    const r = await get("/api/billing/invoices");
    if (!r.ok) {
      if (r.data && r.data.error_code === "billing_not_configured") fail(r);
      return clear(invoices, h("h2", {}, "Invoices"), notice(refusal(r).join(" "), "bad"));
    }
    clear(invoices, h("h2", {}, "Invoices"), r.data.length ? table(
      ["Number", "Date", "Status", "Amount due", "Paid", ""],
      r.data.map((i) => h("tr", { dataset: { invoiceId: i.id } },
        h("td", {}, i.number || i.id), h("td", {}, when(i.created)), h("td", {}, i.status || "–"),
        h("td", {}, money(i.amount_due, i.currency)), h("td", {}, money(i.amount_paid, i.currency)),
        h("td", {}, i.hosted_invoice_url ? h("a", { href: i.hosted_invoice_url, rel: "noopener" },
          "View") : null))), { class: "list" })
      : h("p", { class: "empty" }, "No invoices yet."));
  }

  main(returned, configured, errors, plan, usage, buy, invoices);
  drawPlan(sub.data);
  drawPacks();
  const [balance] = await Promise.all([loadUsage(), loadInvoices()]);
  if (outcome === "success") {
    // Stripe's webhook may land a moment after the browser: look again a few times.
    let tries = 0;
    const again = async () => {
      const now = await loadUsage();
      if (now === balance && ++tries < 10) setTimeout(again, 3000);
    };
    setTimeout(again, 3000);
  }
}
