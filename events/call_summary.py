"""What a call did, in one word and one paragraph, computed when it ends; and its events.

The outcome always comes from what the call did (audit rows of its tools, its bookings, a
transfer), so it is the same for every client. The summary follows the built-in
receptionist's rules, or, for a client on an LLM, is written by that LLM from the
transcript (the rules' summary stands in when the LLM cannot be reached).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from db import outbox
from db.clients import Client
from db.conversations import Conversation
from db.pool import Executor
from events.texts import when
from tools.breaker import Breakers, shared

log = logging.getLogger("frontdesk.summary")

# First match wins: what a caller would say the call was for.
OUTCOMES = ("booked", "rescheduled", "cancelled", "message_taken", "transferred", "no_action")
_TOOL_OUTCOMES = {"book_appointment": ("booked", "booked"),
                  "reschedule_appointment": ("rescheduled", "rescheduled"),
                  "cancel_appointment": ("cancelled", "cancelled"),
                  "take_message": ("message_taken", "taken")}
LLM_TIMEOUT_SECONDS = 15.0
SUMMARY_PROMPT = ("Summarise this phone call between a business's receptionist and a caller "
                  "in one or two sentences for the business owner: who called, what they "
                  "wanted, and what was done. Plain text only.")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


async def what_it_did(db: Executor, conv: Conversation) -> dict[str, Any]:
    """The call's successful actions: {"outcomes": [...], "actions": [...], "booked": [...]}."""
    rows = await db.fetch(
        "SELECT tool_name, output FROM tool_executions WHERE conversation_id = $1"
        " AND status = 'success' ORDER BY id", conv.id)
    actions = []
    found = set()
    for r in rows:
        outcome, flag = _TOOL_OUTCOMES.get(r["tool_name"], (None, None))
        output = r["output"] if isinstance(r["output"], dict) else {}
        if outcome and (output.get(flag) is True or r["tool_name"] == "take_message"):
            found.add(outcome)
            actions.append({"action": outcome, **{k: v for k, v in output.items()
                                                    if k in ("appointment_id", "date", "time",
                                                             "name", "weekday")}})
    booked = await db.fetch(
        "SELECT id, starts_at, ends_at, name, phone, status FROM appointments"
        " WHERE conversation_id = $1 ORDER BY id", conv.id)
    if conv.transferred_to:
        found.add("transferred")
    outcomes = [o for o in OUTCOMES if o in found] or ["no_action"]
    return {"outcomes": outcomes, "actions": actions,
            "booked": [{"appointment_id": b["id"], "starts_at": _iso(b["starts_at"]),
                        "ends_at": _iso(b["ends_at"]), "name": b["name"], "phone": b["phone"],
                        "status": b["status"]} for b in booked]}


def rules_summary(client: Client, conv: Conversation, did: dict[str, Any]) -> str:
    """The built-in receptionist's account of the call."""
    parts = []
    for b in did["booked"]:
        start = datetime.fromisoformat(b["starts_at"].replace("Z", "+00:00"))
        parts.append(f"Booked {when(client, start)} for {b['name']}"
                     + (" (since cancelled)" if b["status"] == "cancelled" else "") + ".")
    for a in did["actions"]:
        if a["action"] in ("rescheduled", "cancelled"):
            at = f" ({a['date']} {a['time']})" if a.get("date") else ""
            parts.append(f"{a['action'].capitalize()} appointment {a.get('appointment_id')}{at}.")
        elif a["action"] == "message_taken":
            parts.append("Took a message.")
    if conv.transferred_to:
        parts.append(f"Transferred to {conv.transferred_to}.")
    if not parts:
        first = next((t["content"] for t in conv.transcript if t.get("role") == "user"), None)
        parts.append(f'No action; the caller said "{first[:120]}".' if first
                     else "No action; the caller said nothing.")
    duration = round(conv.duration_seconds or 0)
    return f"Call from {conv.caller_phone}, {duration} s, ended ({conv.end_reason}). " \
           + " ".join(parts)


async def llm_summary(client: Client, transcript: list[dict[str, Any]], *, api_key: str | None,
                      base_url: str | None, breakers: Breakers | None = None) -> str | None:
    """The client's LLM's summary of the transcript, or None (no LLM, no key, no answer)."""
    if not client.llm_model.startswith("openai/") or not api_key or not transcript:
        return None
    from openai import AsyncOpenAI, OpenAIError

    text = "\n".join(f"{t.get('role')}: {t.get('content')}" for t in transcript)[-12_000:]
    llm = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=LLM_TIMEOUT_SECONDS,
                      max_retries=0)
    breaker = (breakers or shared).get(f"openai:{base_url}")

    async def ask() -> str | None:
        answer = await llm.chat.completions.create(
            model=client.llm_model.removeprefix("openai/"), max_tokens=200, temperature=0,
            messages=[{"role": "system", "content": SUMMARY_PROMPT},
                      {"role": "user", "content": text}])
        return (answer.choices[0].message.content or "").strip() or None

    try:
        return await breaker.call(ask)
    except Exception as exc:   # noqa: BLE001 - the rules' summary stands in
        log.warning("LLM summary failed for client %s: %s", client.id,
                    type(exc).__name__ if not isinstance(exc, OpenAIError) else exc)
        return None
    finally:
        await llm.close()


async def record_ended(conn: Executor, conv: Conversation, client: Client, *,
                       summary: str | None = None) -> None:
    """Store summary and outcome on the ended call and record ``call.ended``, on the
    finalizing transaction's connection."""
    did = await what_it_did(conn, conv)
    outcome = did["outcomes"][0]
    summary = summary or rules_summary(client, conv, did)
    await conn.execute("UPDATE conversations SET summary = $2, outcome = $3 WHERE id = $1",
                       conv.id, summary, outcome)
    await outbox.record(conn, "call.ended", {
        "conversation_id": conv.id, "call_sid": conv.call_sid, "caller": conv.caller_phone,
        "to": client.phone_number, "started_at": _iso(conv.started_at),
        "ended_at": _iso(conv.ended_at), "duration_seconds": conv.duration_seconds,
        "end_reason": conv.end_reason, "transcript": conv.transcript, "summary": summary,
        "outcome": outcome, "outcomes": did["outcomes"], "booked": did["booked"],
        "transferred_to": conv.transferred_to,
    }, client_id=client.id, key=f"call.ended:{conv.id}")


async def record_started(conn: Executor, conv: Conversation, client: Client) -> None:
    await outbox.record(conn, "call.started", {
        "conversation_id": conv.id, "call_sid": conv.call_sid, "caller": conv.caller_phone,
        "to": client.phone_number, "started_at": _iso(conv.started_at),
    }, client_id=client.id, key=f"call.started:{conv.id}")


async def record_contact_created(conn: Executor, client: Client, contact_id: int,
                                 phone: str) -> None:
    await outbox.record(conn, "contact.created", {"contact_id": contact_id, "phone": phone},
                        client_id=client.id, key=f"contact.created:{contact_id}")
