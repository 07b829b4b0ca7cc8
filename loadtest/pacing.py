"""When each message of a replayed stream goes out: an absolute 20 ms grid, never drifting.

Media message k is due at exactly k × 20 ms after the stream started, however late the
previous send was: a late frame is sent at once and the next one is still due on the
grid, so lateness never accumulates. Other messages (DTMF) go right after the media
before them. The clock is injectable so the grid can be checked without real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loadtest.recording import FRAME_MS, Recording

# Recorded messages the replayer never sends as recorded: it writes its own connected
# and start, answers the server's marks live, and ends with its own stop.
NOT_REPLAYED = {"connected", "start", "mark", "stop"}


@dataclass(frozen=True)
class Step:
    due_ms: int
    message: dict[str, Any]
    frame: int | None  # media frame index, None for other messages

    @property
    def event(self) -> str:
        return str(self.message.get("event", ""))


def schedule(recording: Recording) -> list[Step]:
    """The replay plan: every media frame on the 20 ms grid, in file order."""
    steps: list[Step] = []
    frame = 0
    for entry in recording.entries:
        if entry.event in NOT_REPLAYED:
            continue
        if entry.event == "media":
            steps.append(Step(frame * FRAME_MS, entry.message, frame))
            frame += 1
        else:
            steps.append(Step(max(0, (frame - 1) * FRAME_MS), entry.message, None))
    return steps


class Pacer:
    """Waits until ``t0 + due_ms``; returns how late the caller is (seconds, ≥ 0)."""

    def __init__(self, t0: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.t0 = t0
        self._clock = clock
        self._sleep = sleep

    def due(self, due_ms: int) -> float:
        return self.t0 + due_ms / 1000

    async def wait(self, due_ms: int) -> float:
        target = self.due(due_ms)
        delay = target - self._clock()
        if delay > 0:
            await self._sleep(delay)
        return max(0.0, self._clock() - target)
