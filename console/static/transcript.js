// One transcript line: who spoke, what was said, and whether the caller cut the agent off.
import { h } from "./dom.js";

const WHO = { user: "Caller", assistant: "Agent", system: "Note", tool: "Tool" };

export function turnKey(turn) {
  return `${turn.role}|${turn.timestamp || ""}|${turn.content ?? turn.text ?? ""}`;
}

export function turnLine(turn) {
  const text = turn.content ?? turn.text ?? "";
  const role = turn.role || "system";
  return h("li", { class: `turn ${role}${turn.interrupted ? " interrupted" : ""}`,
    dataset: { role } },
  h("span", { class: "who" }, WHO[role] || role),
  h("span", { class: "text" }, text || (turn.interrupted ? "(cut off before a word)" : "")),
  turn.interrupted ? h("span", { class: "badge warn", title: "the caller spoke over it" },
    "interrupted") : null);
}

export function toolLine(run) {
  const ms = run.execution_time_ms;
  const error = run.error_message || run.error;
  return h("li", { class: `tool ${run.status}` },
    h("code", {}, run.tool_name), " ",
    h("span", { class: `badge ${run.status === "success" ? "ok" : "bad"}` }, run.status),
    ms !== undefined && ms !== null ? ` ${ms} ms` : "",
    error ? h("span", { class: "muted" }, ` ${error}`) : null);
}
