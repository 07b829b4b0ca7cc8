"""Waiting on a condition, never on a fixed delay; bounded, so a bug fails instead of hanging."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def until(probe: Callable[[], Awaitable[T]], *, within: float = 15.0,
                what: str = "condition") -> T:
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def ended(pool: Any, call_sid: str) -> Any:
    """The call's conversation row once it has been finalized."""
    from db import conversations

    async def probe() -> Any:
        conv = await conversations.get_by_call_sid(pool, call_sid)
        return conv if conv and conv.status == "ended" else None

    return await until(probe, what=f"call {call_sid} to be finalized")


async def transcript_has(pool: Any, call: Any, turns: int, *, within: float = 45.0) -> None:
    """Until the call's stored transcript holds ``turns`` turns, the last one the agent's,
    and every mark the agent sent has played: the agent has finished answering."""
    from db import conversations

    async def probe() -> bool:
        conv = await conversations.get_by_call_sid(pool, call.call_sid)
        if conv is None or len(conv.transcript) < turns:
            return False
        sent = sum(1 for r in call.received if r.message.get("event") == "mark")
        return conv.transcript[-1]["role"] == "assistant" and len(call.echoed_marks) >= sent

    await until(probe, within=within, what=f"{turns} turns in the transcript")
