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
  if (page !== "login") {
    const me = await api("GET", "/api/auth/me");
    if (!me.ok) return;
    document.getElementById("who").textContent =
      `${me.data.email} · ${me.data.organization.name}`;
    const out = document.getElementById("sign-out");
    out.hidden = false;
    out.addEventListener("click", signOut);
  }
  const module = await load();
  await module.render(document.body.dataset);
  document.body.dataset.ready = "true";
}

start();
