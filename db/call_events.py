"""call events: what happens on a live call (started, a turn, a tool run, ended), published
with pg_notify so every server process can show it in the console as it happens.

Nothing is stored here: the rows themselves (conversations, tool_executions) are the
record; an event only says "look, this just happened", with enough to draw it.
"""

from __future__ import annotations

import json
from typing import Any

from db.pool import Executor

CHANNEL = "frontdesk_call_events"
KINDS = ("started", "turn", "tool", "ended")
# PostgreSQL refuses payloads of 8000 bytes or more: long turns are cut (the full text is
# in the transcript, which the console reads when it opens the call).
MAX_TEXT_BYTES = 3000


def _cut(text: str) -> str:
    raw = text.encode()
    if len(raw) <= MAX_TEXT_BYTES:
        return text
    return raw[:MAX_TEXT_BYTES].decode(errors="ignore") + "…"


def payload(*, kind: str, client_id: int, call_sid: str, conversation_id: int | None,
            **fields: Any) -> str:
    assert kind in KINDS
    body: dict[str, Any] = {"kind": kind, "client_id": client_id, "call_sid": call_sid,
                            "conversation_id": conversation_id}
    for key, value in fields.items():
        body[key] = _cut(value) if isinstance(value, str) else value
    text = json.dumps(body, default=str, ensure_ascii=False)
    if len(text.encode()) >= 7900:   # many long fields: keep the event, drop the detail
        body = {k: v for k, v in body.items() if not isinstance(v, str | dict | list)
                or k in ("kind", "call_sid")}
        body["truncated"] = True
        text = json.dumps(body, default=str, ensure_ascii=False)
    return text


async def publish(db: Executor, *, kind: str, client_id: int, call_sid: str,
                  conversation_id: int | None, **fields: Any) -> None:
    """Inside a transaction the event is delivered at commit (and dropped on rollback)."""
    await db.execute("SELECT pg_notify($1, $2)", CHANNEL,
                     payload(kind=kind, client_id=client_id, call_sid=call_sid,
                             conversation_id=conversation_id, **fields))
