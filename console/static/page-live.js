// Live calls: the calls in progress across every server process, kept current by the
// event stream (/console/api/live): new calls, each finished turn, each tool run, the end.
import { allClients, get, messages, post } from "./api.js";
import { clear, errorBox, h, main, seconds, showErrors } from "./dom.js";
import { toolLine, turnKey, turnLine } from "./transcript.js";

const cards = new Map();          // call_sid -> card state
let clientNames = new Map();
let list;
let ended;
let status;

function card(sid) {
  return cards.get(sid);
}

function addCard(info) {
  let c = card(info.call_sid);
  if (c) return c;
  const transcript = h("ol", { class: "transcript" });
  const tools = h("ul", { class: "tools" });
  const duration = h("span", { class: "duration" }, "0s");
  const state = h("span", { class: "badge live" }, "live");
  const errors = errorBox();
  const to = h("input", { type: "tel", name: "to", placeholder: "+14155550142",
    "aria-label": "Transfer to number", class: "transfer-to" });
  const endButton = h("button", { type: "button", class: "danger end-call" }, "End call");
  const transferButton = h("button", { type: "button", class: "transfer" }, "Transfer");
  const actions = h("div", { class: "actions" }, endButton, to, transferButton);
  const el = h("article", { class: "card call live", dataset: { callSid: info.call_sid } },
    h("header", {},
      h("strong", { class: "caller" }, info.caller_phone || "unknown caller"),
      h("span", { class: "client muted" }, info.client_name || clientNames.get(info.client_id) || ""),
      duration, state),
    h("h3", {}, "Transcript"), transcript,
    h("h3", {}, "Tools"), tools,
    actions, errors);
  c = {
    sid: info.call_sid, id: info.conversation_id ?? info.id, clientId: info.client_id,
    startedAt: info.started_at ? new Date(info.started_at) : new Date(), el, transcript,
    tools, duration, state, actions, errors, keys: new Set(), toolIds: new Set(),
    live: true, detailLoaded: false,
  };
  endButton.addEventListener("click", async () => {
    endButton.disabled = true;
    const r = await post(`/api/calls/${c.id}/end`);
    if (r.ok) {
      state.textContent = "ending…";
    } else {
      endButton.disabled = false;
      showErrors(errors, messages(r));
    }
  });
  transferButton.addEventListener("click", async () => {
    const r = await post(`/api/calls/${c.id}/transfer`, { to: to.value });
    if (r.ok) {
      state.textContent = "transferring…";
      showErrors(errors, []);
    } else {
      showErrors(errors, messages(r));
    }
  });
  cards.set(c.sid, c);
  list.prepend(el);
  updateEmpty();
  loadDetail(c);
  return c;
}

function addTurn(c, turn) {
  const key = turnKey(turn);
  if (c.keys.has(key)) return;
  c.keys.add(key);
  c.transcript.append(turnLine(turn));
}

function addTool(c, run) {
  const key = run.id ? `id:${run.id}` : `${run.tool_name}|${run.status}|${run.execution_time_ms}`;
  if (c.toolIds.has(key)) return;
  c.toolIds.add(key);
  c.tools.append(toolLine(run));
}

async function loadDetail(c) {
  if (!c.id) return;
  const r = await get(`/api/calls/${c.id}`);
  if (!r.ok) return;
  const detail = r.data;
  if (detail.started_at) c.startedAt = new Date(detail.started_at);
  // The stored transcript comes first; lines that arrived as events meanwhile follow.
  const arrived = [...c.transcript.children];
  const arrivedKeys = [...c.keys];
  c.keys = new Set();
  clear(c.transcript);
  for (const turn of detail.transcript) addTurn(c, turn);
  arrived.forEach((line, i) => {
    if (!c.keys.has(arrivedKeys[i])) {
      c.keys.add(arrivedKeys[i]);
      c.transcript.append(line);
    }
  });
  const runs = await get(`/api/clients/${c.clientId}/conversations/${c.id}/tool-executions`);
  if (runs.ok && c.tools.children.length === 0) {
    for (const run of runs.data) addTool(c, run);
  }
  c.detailLoaded = true;
  if (!detail.live && detail.status === "ended") finish(c, detail.end_reason);
}

function finish(c, reason) {
  if (!c.live) return;
  c.live = false;
  c.el.classList.remove("live");
  c.el.classList.add("ended");
  c.state.className = "badge";
  c.state.textContent = `ended${reason ? `: ${reason.replaceAll("_", " ")}` : ""}`;
  clear(c.actions, h("a", { href: `/console/calls/${c.id}` }, "Open in call history"));
  ended.prepend(c.el);
  updateEmpty();
}

function updateEmpty() {
  const live = [...cards.values()].filter((c) => c.live).length;
  list.dataset.count = String(live);
  document.getElementById("no-calls").hidden = live > 0;
}

function tick() {
  const now = Date.now();
  for (const c of cards.values()) {
    if (c.live) c.duration.textContent = seconds((now - c.startedAt.getTime()) / 1000);
  }
}

async function resync() {
  const r = await get("/api/calls?status=active&per_page=100");
  if (!r.ok) return;
  const liveSids = new Set();
  for (const row of r.data.items) {
    liveSids.add(row.call_sid);
    const c = card(row.call_sid) || addCard({ ...row, conversation_id: row.id });
    if (c.detailLoaded) loadDetail(c);    // lines may have been missed while away
  }
  for (const c of cards.values()) {
    if (c.live && !liveSids.has(c.sid)) loadDetail(c);   // ended meanwhile
  }
}

function onEvent(kind, event) {
  if (kind === "started") {
    addCard(event);
    return;
  }
  const c = card(event.call_sid);
  if (!c) {
    if (kind !== "ended") addCard(event);
    return;
  }
  if (kind === "turn") {
    addTurn(c, { role: event.role, content: event.text, timestamp: event.timestamp,
      interrupted: event.interrupted });
  } else if (kind === "tool") {
    addTool(c, event);
  } else if (kind === "ended") {
    // The last lines are written before the end: read them back, then close the card.
    loadDetail(c).then(() => finish(c, event.end_reason));
  }
}

function connect() {
  const source = new EventSource("/console/api/live");
  source.addEventListener("hello", () => {
    status.textContent = "● live";
    status.dataset.state = "connected";
    resync();
  });
  source.addEventListener("resync", resync);
  for (const kind of ["started", "turn", "tool", "ended"]) {
    source.addEventListener(kind, (message) => onEvent(kind, JSON.parse(message.data)));
  }
  source.addEventListener("error", () => {
    if (leaving) return;
    status.textContent = "reconnecting…";
    status.dataset.state = "reconnecting";
    if (source.readyState === EventSource.CLOSED) {
      // Refused, most likely because the session expired: asking who we are refreshes
      // it (or goes to the sign-in page), then a new stream opens.
      setTimeout(async () => {
        if (leaving) return;
        const me = await get("/api/auth/me");
        if (me.ok && !leaving) connect();
      }, 1000);
    }
  });
  current = source;
}

// Leaving the page closes the stream first: its error must not look like a lost session.
let leaving = false;
let current = null;
for (const name of ["pagehide", "beforeunload"]) {
  addEventListener(name, () => {
    leaving = true;
    if (current) current.close();
  });
}

export async function render() {
  clientNames = new Map((await allClients()).map((c) => [c.id, c.name]));
  status = h("span", { class: "stream-state", id: "stream-state", dataset: { state: "connecting" } },
    "connecting…");
  list = h("section", { id: "live-calls", class: "calls", "aria-live": "polite" });
  ended = h("section", { id: "ended-calls", class: "calls" });
  main(h("p", { class: "muted" }, "Calls in progress on every server process. ", status),
    h("p", { id: "no-calls", class: "empty" }, "No calls in progress."),
    list,
    h("h2", {}, "Just ended"), ended);
  updateEmpty();
  setInterval(tick, 1000);
  connect();
}
