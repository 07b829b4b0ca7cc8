// One call: what happened (summary, outcome), the recording, the transcript, the latency
// of each turn, the tools it ran, feedback and notes.
import { get, messages, post } from "./api.js";
import { errorBox, field, h, main, notice, seconds, showErrors, table, when } from "./dom.js";
import { toolLine, turnLine } from "./transcript.js";

function facts(call, clientName) {
  const rows = [
    ["Caller", call.caller_phone], ["Client", clientName], ["Direction", call.direction],
    ["Status", call.live ? "in progress" : call.status], ["Started", when(call.started_at)],
    ["Ended", when(call.ended_at)], ["Duration", seconds(call.duration_seconds)],
    ["Ended by", (call.end_reason || "–").replaceAll("_", " ")],
    ["Outcome", call.outcome || "–"], ["Sentiment", call.sentiment],
    ["Transferred to", call.transferred_to || "–"],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function latency(metrics) {
  if (!metrics || metrics.length === 0) return h("p", { class: "empty" }, "No turns measured.");
  const stages = [...new Set(metrics.flatMap((m) => Object.keys(m.stages_ms || {})))];
  const rows = metrics.map((m, i) => h("tr", {},
    h("td", {}, String(i + 1)),
    h("td", {}, m.speech_end_to_audio_ms ?? "–"),
    h("td", {}, m.vad_stop_to_audio_ms ?? "–"),
    stages.map((s) => h("td", {}, (m.stages_ms || {})[s] ?? "–"))));
  return table(["Turn", "Speech end → audio (ms)", "After VAD stop (ms)",
    ...stages.map((s) => `${s} (ms)`)], rows, { class: "list", id: "latency" });
}

function feedbackForm(call, onSaved) {
  const rating = h("select", { name: "rating" },
    [5, 4, 3, 2, 1].map((n) => h("option", { value: String(n) }, `${n} ★`)));
  const comment = h("textarea", { name: "comment", rows: 2, maxlength: 2000 });
  const errors = errorBox();
  const form = h("form", { class: "inline" }, field("Rating", rating), field("Comment", comment),
    h("button", { type: "submit" }, "Rate the call"), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await post(`/api/calls/${call.id}/feedback`,
      { rating: Number(rating.value), comment: comment.value || null });
    if (!r.ok) return showErrors(errors, messages(r));
    onSaved();
  });
  return form;
}

function noteForm(call, onSaved) {
  const text = h("textarea", { name: "text", rows: 2 });
  const errors = errorBox();
  const form = h("form", { class: "inline" }, field("Note", text),
    h("button", { type: "submit" }, "Add note"), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const r = await post(`/api/calls/${call.id}/transcript`, { text: text.value });
    if (!r.ok) return showErrors(errors, messages(r));
    onSaved();
  });
  return form;
}

export async function render(data) {
  const id = Number(data.callId);
  const r = await get(`/api/calls/${id}`);
  if (!r.ok) {
    main(notice(messages(r).join(" "), "bad"));
    return;
  }
  const call = r.data;
  const client = await get(`/api/clients/${call.client_id}`);
  const clientName = client.ok ? client.data.name : String(call.client_id);
  document.querySelector("main h1").textContent = `Call from ${call.caller_phone}`;

  let recording;
  if (call.recording_url) {
    recording = h("audio", { controls: true, preload: "metadata", src: call.recording_url,
      id: "recording" });
  } else {
    recording = h("p", { class: "empty" }, "No recording (recording is off for this client,"
      + " or it has expired).");
  }
  const runs = await get(`/api/clients/${call.client_id}/conversations/${id}/tool-executions`);
  const toolRows = runs.ok && runs.data.length
    ? h("ul", { class: "tools", id: "tool-runs" }, runs.data.map((run) => toolLine({
      ...run, error: run.error_message })))
    : h("p", { class: "empty" }, "No tools ran.");
  const audit = runs.ok && runs.data.length
    ? table(["When", "Tool", "Status", "Time (ms)", "Input", "Output"], runs.data.map((run) =>
      h("tr", {}, h("td", {}, when(run.created_at)), h("td", {}, run.tool_name),
        h("td", {}, run.status), h("td", {}, String(run.execution_time_ms)),
        h("td", {}, h("code", {}, JSON.stringify(run.input))),
        h("td", {}, h("code", {}, JSON.stringify(run.output))))), { class: "list" })
    : null;
  const feedback = h("ul", { class: "feedback" }, (call.feedback || []).map((f) =>
    h("li", {}, `${"★".repeat(f.rating)}${"☆".repeat(5 - f.rating)} `, f.comment || "",
      h("span", { class: "muted" }, ` ${when(f.created_at)}`))));
  const notes = h("ul", { class: "notes" }, (call.notes || []).map((n) =>
    h("li", {}, n.text, h("span", { class: "muted" }, ` ${when(n.created_at)}`))));
  const reload = () => render(data);

  main(
    h("p", {}, h("a", { href: "/console/calls" }, "← Call history"),
      call.live ? [" · ", h("a", { href: "/console/live" }, "Watch it live")] : null),
    h("section", { class: "card" }, facts(call, clientName),
      h("h2", {}, "Summary"), h("p", { id: "summary" }, call.summary || "No summary yet.")),
    h("section", { class: "card" }, h("h2", {}, "Recording"), recording,
      call.recording_url ? h("p", { class: "muted" }, "Caller on the left, agent on the right.")
        : null),
    h("section", { class: "card" }, h("h2", {}, "Transcript"),
      call.transcript.length
        ? h("ol", { class: "transcript", id: "transcript" }, call.transcript.map(turnLine))
        : h("p", { class: "empty" }, "No transcript.")),
    h("section", { class: "card" }, h("h2", {}, "Latency per turn"), latency(call.turn_metrics)),
    h("section", { class: "card" }, h("h2", {}, "Tools"), toolRows, audit),
    h("section", { class: "card" }, h("h2", {}, "Feedback"), feedback,
      feedbackForm(call, reload)),
    h("section", { class: "card" }, h("h2", {}, "Notes"), notes, noteForm(call, reload)),
  );
}
