// Which page this is (the shell says, in <body data-page>), who is signed in, sign out.
import { api, csrfToken } from "./api.js";

const PAGES = {
  login: () => import("./page-login.js"),
  live: () => import("./page-live.js"),
  calls: () => import("./page-calls.js"),
  call: () => import("./page-call.js"),
  appointments: () => import("./page-appointments.js"),
  contacts: () => import("./page-contacts.js"),
  clients: () => import("./page-clients.js"),
  keys: () => import("./page-keys.js"),
  webhooks: () => import("./page-webhooks.js"),
  analytics: () => import("./page-analytics.js"),
  team: () => import("./page-team.js"),
  billing: () => import("./page-billing.js"),
};

async function signOut() {
  await fetch("/api/auth/logout", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: "{}",
  });
  location.assign("/console/login");
}

async function start() {
  const page = document.body.dataset.page;
  const load = PAGES[page];
  if (!load) return;
  let me = null;
  if (page !== "login") {
    const who = await api("GET", "/api/auth/me");
    if (!who.ok) return;
    me = who.data;
    document.getElementById("who").textContent = `${me.email} · ${me.organization.name}`;
    const out = document.getElementById("sign-out");
    out.hidden = false;
    out.addEventListener("click", signOut);
  }
  const module = await load();
  await module.render(document.body.dataset, me);
  document.body.dataset.ready = "true";
}

start();
