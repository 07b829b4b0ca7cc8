// The REST API through the browser session: HttpOnly cookies, and on every write the
// fd_csrf cookie's value in X-CSRF-Token (api/cookies.py). An expired access token is
// refreshed once; a session that cannot be refreshed goes back to the sign-in page.

const SAFE = new Set(["GET", "HEAD"]);

export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "fd_csrf") return decodeURIComponent(rest.join("="));
  }
  return "";
}

let refreshing = null;

export function refresh() {
  if (!refreshing) {
    refreshing = fetch("/api/auth/refresh", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: "{}",
    }).then((r) => r.ok).catch(() => false).finally(() => { refreshing = null; });
  }
  return refreshing;
}

export function toSignIn() {
  const back = location.pathname + location.search;
  location.assign(`/console/login?next=${encodeURIComponent(back)}`);
}

async function send(method, path, body) {
  const headers = { Accept: "application/json" };
  if (!SAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

// -> { ok, status, data }; data is the parsed JSON body (or null).
export async function api(method, path, body, { signIn = true } = {}) {
  let response = await send(method, path, body);
  if (response.status === 401 && signIn) {
    if (await refresh()) response = await send(method, path, body);
    if (response.status === 401) {
      toSignIn();
      return new Promise(() => {});   // the page is going away
    }
  }
  let data = null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    try { data = await response.json(); } catch { data = null; }
  }
  return { ok: response.ok, status: response.status, data };
}

export const get = (path) => api("GET", path);
export const post = (path, body = {}) => api("POST", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);

// The API's error messages as lines: a 422 names each field it refused.
export function messages(result) {
  const detail = result && result.data ? result.data.detail : null;
  if (Array.isArray(detail)) {
    return detail.map((e) => (e.field ? `${e.field}: ${e.message}` : String(e.message)));
  }
  if (typeof detail === "string") return [detail];
  return [`The server answered ${result ? result.status : "nothing"}.`];
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== "" && value !== null && value !== undefined) q.set(key, String(value));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// Every page but sign-in lists the clients (names, filters).
export async function allClients() {
  const items = [];
  for (let offset = 0; ; offset += 100) {
    const r = await get(`/api/clients?limit=100&offset=${offset}`);
    if (!r.ok) return items;
    items.push(...r.data.items);
    if (items.length >= r.data.total || r.data.items.length === 0) return items;
  }
}
