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
