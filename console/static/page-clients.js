// Clients (one receptionist per phone number) and their agent settings, as forms; what
// the API refuses is shown next to the form, in its own words.
import { allClients, del, get, messages, patch, post, put } from "./api.js";
import { clear, errorBox, field, h, main, notice, seconds, showErrors } from "./dom.js";

const TOOLS = ["get_available_slots", "book_appointment", "find_appointments",
  "reschedule_appointment", "cancel_appointment", "take_message", "send_sms", "send_email",
  "transfer_call", "end_call"];

function clientForm(c, onSubmit, label) {
  const input = (name, attrs = {}) => h("input", { name, value: c[name] ?? "", ...attrs });
  const name = input("name", { required: true });
  const phone = input("phone_number", { type: "tel", required: true });
  const greeting = input("initial_greeting");
  const timezone = input("timezone", { placeholder: "America/New_York" });
  const slot = input("slot_minutes", { type: "number", min: 5, max: 480 });
  const llm = input("llm_model", { placeholder: "builtin/receptionist" });
  const stt = input("stt_model", { placeholder: "local/whisper-tiny.en" });
  const tts = h("select", { name: "tts_provider" }, ["", "local", "cartesia", "elevenlabs"].map((v) =>
    h("option", { value: v, selected: (c.tts_provider || "") === v }, v || "(default)")));
  const prompt = h("textarea", { name: "system_prompt", rows: 4 }, c.system_prompt || "");
  const hours = h("textarea", { name: "business_hours", rows: 3 },
    c.business_hours ? JSON.stringify(c.business_hours) : "");
  const active = h("input", { type: "checkbox", name: "is_active", checked: c.is_active !== false });
  const tools = TOOLS.map((t) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "enabled_tools", value: t,
      checked: (c.enabled_tools || []).includes(t) }), t));
  const errors = errorBox();
  const form = h("form", { class: "grid client-form", novalidate: true },
    field("Name", name), field("Phone number", phone), field("Greeting", greeting),
    field("Time zone", timezone), field("Slot minutes", slot), field("LLM", llm),
    field("Speech to text", stt), field("Voice provider", tts),
    field("System prompt", prompt), field("Business hours (JSON)", hours,
      'e.g. {"mon": ["09:00", "17:00"]}'),
    h("fieldset", {}, h("legend", {}, "Tools"), tools),
    h("label", { class: "check" }, active, "Answering calls"),
    h("button", { type: "submit" }, label), errors);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value, phone_number: phone.value, is_active: active.checked,
      enabled_tools: tools.map((l) => l.firstChild).filter((i) => i.checked).map((i) => i.value) };
    for (const [key, el] of [["initial_greeting", greeting], ["timezone", timezone],
      ["llm_model", llm], ["stt_model", stt], ["tts_provider", tts], ["system_prompt", prompt]]) {
      if (el.value !== "") body[key] = el.value;
    }
    if (slot.value !== "") body.slot_minutes = Number(slot.value);
    if (hours.value.trim()) {
      try {
        body.business_hours = JSON.parse(hours.value);
      } catch {
        return showErrors(errors, ["business_hours: not valid JSON"]);
      }
    }
    const r = await onSubmit(body);
    showErrors(errors, r.ok ? [] : messages(r));
  });
  return form;
}

function settingInput(s) {
  if (s.type === "boolean") {
    return h("input", { type: "checkbox", name: s.key, checked: s.value === true });
  }
  if (s.type === "integer" || s.type === "number") {
    return h("input", { type: "number", name: s.key, step: s.type === "integer" ? 1 : "any",
      min: s.minimum ?? undefined, max: s.maximum ?? undefined, value: s.value ?? "" });
  }
  if (s.type === "string") return h("input", { name: s.key, value: s.value ?? "" });
  return h("textarea", { name: s.key, rows: 1 }, JSON.stringify(s.value));
}

function settingValue(s, input) {
  if (s.type === "boolean") return input.checked;
  if (s.type === "integer" || s.type === "number") return input.value === "" ? null : Number(input.value);
  if (s.type === "string") return input.value;
  return JSON.parse(input.value);
}

async function settingsCard(client) {
  const r = await get(`/api/clients/${client.id}/settings`);
  if (!r.ok) return notice(messages(r).join(" "), "bad");
  const rows = r.data.map((s) => {
    const input = settingInput(s);
    const errors = errorBox();
    const saved = h("span", { class: "muted saved" });
    const form = h("form", { class: "setting", novalidate: true, dataset: { key: s.key } },
      field(s.key, input, s.description || (s.standard ? "" : "custom setting")),
      h("button", { type: "submit" }, "Save"),
      s.is_default ? h("span", { class: "muted" }, "default") : h("button", { type: "button",
        class: "link", onclick: async () => {
          const gone = await del(`/api/clients/${client.id}/settings/${encodeURIComponent(s.key)}`);
          saved.textContent = gone.ok ? "reset" : messages(gone).join(" ");
        } }, "Reset"),
      saved, errors);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let value;
      try {
        value = settingValue(s, input);
      } catch {
        return showErrors(errors, [`${s.key}: not valid JSON`]);
      }
      const put1 = await put(`/api/clients/${client.id}/settings/${encodeURIComponent(s.key)}`,
        { value });
      showErrors(errors, put1.ok ? [] : messages(put1));
      saved.textContent = put1.ok ? "saved" : "";
    });
    return form;
  });
  return h("section", { class: "card", id: "agent-settings" }, h("h2", {}, "Agent settings"), rows);
}

export async function render() {
  const clients = await allClients();
  const params = new URLSearchParams(location.search);
  const chosen = clients.find((c) => String(c.id) === params.get("id"));
  const status = h("div", { id: "client-status" });
  const list = h("ul", { class: "rows", id: "client-list" }, clients.map((c) =>
    h("li", {}, h("a", { href: `/console/clients?id=${c.id}` }, c.name), ` ${c.phone_number} `,
      h("span", { class: "muted" }, `${seconds(c.balance_seconds)} of talk time left`),
      c.is_active ? null : h("span", { class: "badge warn" }, "inactive"))));
  if (!clients.length) list.append(h("li", { class: "empty" }, "No clients yet."));
  const create = clientForm({ is_active: true, enabled_tools: ["get_available_slots",
    "book_appointment", "take_message", "end_call"] }, async (body) => {
    const r = await post("/api/clients", body);
    if (r.ok) location.assign(`/console/clients?id=${r.data.id}`);
    return r;
  }, "Create client");
  const parts = [status, h("section", { class: "card" }, h("h2", {}, "Clients"), list)];
  if (chosen) {
    parts.push(h("section", { class: "card" }, h("h2", {}, chosen.name),
      clientForm(chosen, async (body) => {
        const r = await patch(`/api/clients/${chosen.id}`, body);
        if (r.ok) clear(status, notice(`Saved ${r.data.name}.`));
        return r;
      }, "Save client")));
    parts.push(await settingsCard(chosen));
  }
  parts.push(h("section", { class: "card" }, h("h2", {}, "New client"), create));
  main(...parts);
}
