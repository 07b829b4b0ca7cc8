"""What the agent decided in a call, read from its tool audit rows at the end of the call:
"booked" (an appointment was booked), "message_taken", or "no_action".

The audit holds every tool call with its output, whichever LLM made it, so the rule is the
same for the built-in receptionist and for a cloud model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import asyncpg

from db import tool_executions

BOOKED = "booked"
MESSAGE_TAKEN = "message_taken"
NO_ACTION = "no_action"


def decided(audit: Iterable[Mapping[str, Any]]) -> str:
    """The call's outcome from its audit rows (``tool_executions`` rows, any order)."""
    outcome = NO_ACTION
    for row in audit:
        output = row.get("output")
        if row.get("status") != "success" or not isinstance(output, dict):
            continue
        if row.get("tool_name") == "book_appointment" and output.get("booked") is True:
            return BOOKED
        if row.get("tool_name") == "take_message" and output.get("taken") is True:
            outcome = MESSAGE_TAKEN
    return outcome


async def call_outcome(pool: asyncpg.Pool, conversation_id: int) -> str:
    return decided(await tool_executions.for_conversation(pool, conversation_id))
