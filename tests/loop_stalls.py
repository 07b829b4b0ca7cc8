"""The bench server's event-loop stall probe, read by ``frontdesk-loadtest bench`` per level.

One process's calls are paced by its one event loop, so anything that holds the loop (a
garbage collection, a burst of frames, a slow callback) delays every call's next packet.
A timer due every ``PERIOD_S`` fires late by about as long as the loop was held when it
came due: the longest lateness over a level is its longest stall (to within the period).
Garbage collections are timed beside it (``gc.callbacks``), so a stall can be told apart
from a collection. ``GET /bench/loop-stalls`` returns the figures since the last read and
starts a new window.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

PERIOD_S = 0.005
OVER_MS = (10, 20, 50)
PATH = "/bench/loop-stalls"


@dataclass
class Window:
    ticks: int = 0
    longest_ms: float = 0.0
    over_10_ms: int = 0
    over_20_ms: int = 0
    over_50_ms: int = 0
    gc_count: int = 0
    gc_longest_ms: float = 0.0
    gc_total_ms: float = 0.0


class LoopStallProbe:
    def __init__(self, period_s: float = PERIOD_S) -> None:
        self.period_s = period_s
        self.window = Window()
        self._gc_started: float | None = None
        self._task: asyncio.Task[None] | None = None

    def read(self) -> Window:
        """The window so far; the next one starts now."""
        window, self.window = self.window, Window()
        return window

    def start(self) -> None:
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_gc)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + self.period_s
            await asyncio.sleep(self.period_s)
            late_ms = max(0.0, time.perf_counter() - due) * 1000
            w = self.window
            w.ticks += 1
            w.longest_ms = max(w.longest_ms, late_ms)
            w.over_10_ms += late_ms > OVER_MS[0]
            w.over_20_ms += late_ms > OVER_MS[1]
            w.over_50_ms += late_ms > OVER_MS[2]

    def _on_gc(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        elif self._gc_started is not None:
            took_ms = (time.perf_counter() - self._gc_started) * 1000
            self._gc_started = None
            w = self.window
            w.gc_count += 1
            w.gc_total_ms += took_ms
            w.gc_longest_ms = max(w.gc_longest_ms, took_ms)


def with_probe(app: Any, probe: LoopStallProbe) -> Any:
    """``app`` with the probe started with it and its window served at ``PATH``."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            async def on_send(message: Any) -> None:
                if message["type"] == "lifespan.startup.complete":
                    probe.start()
                elif message["type"] == "lifespan.shutdown.complete":
                    await probe.stop()
                await send(message)

            return await app(scope, receive, on_send)
        if scope["type"] == "http" and scope["path"] == PATH:
            body = json.dumps({k: round(v, 2) if isinstance(v, float) else v
                               for k, v in asdict(probe.read()).items()}).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return None
        return await app(scope, receive, send)

    return wrapped
