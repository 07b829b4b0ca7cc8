"""This process's measured load: event-loop lag and the event-loop thread's CPU.

A call's audio is paced by this process's one event loop, so its budget is that loop: how
late a timer fires (lag) and how busy the thread that runs it is. A process over either
budget answers /voice with the busy TwiML and reports itself not ready, so new calls go to
a process with room, before the live ones start to stutter. MAX_CALLS stays a hard ceiling.

Figures are medians over a short window of ticks: an overloaded loop is late on most ticks,
while one long stall (the first call's imports, a garbage collection) is one late tick and
must not refuse the calls that follow it. The whole process's CPU (psutil, every thread,
speech models included) is reported beside them, for information.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections import deque
from dataclasses import dataclass

import psutil

log = logging.getLogger("frontdesk.load")

TICK_SECONDS = 0.25
WINDOW_TICKS = 12           # 3 s


@dataclass(frozen=True)
class Sample:
    lag_ms: float           # how late the tick's timer fired
    loop_cpu_s: float       # event-loop thread CPU used since the previous tick
    wall_s: float           # wall time since the previous tick


@dataclass(frozen=True)
class Load:
    loop_lag_ms: float
    loop_cpu_percent: float
    process_cpu_percent: float


class LoadMonitor:
    """Budgets in ms and in percent of one core; 0 turns a budget off."""

    def __init__(self, *, max_loop_lag_ms: float, max_cpu_percent: float,
                 tick_seconds: float = TICK_SECONDS) -> None:
        self.max_loop_lag_ms = max_loop_lag_ms
        self.max_cpu_percent = max_cpu_percent
        self.tick_seconds = tick_seconds
        self._samples: deque[Sample] = deque(maxlen=WINDOW_TICKS)
        self._process = psutil.Process()
        self._process_cpu = 0.0
        self._task: asyncio.Task[None] | None = None

    @property
    def samples(self) -> int:
        """How many ticks the window holds."""
        return len(self._samples)

    def record(self, sample: Sample) -> None:
        self._samples.append(sample)

    def current(self) -> Load:
        samples = list(self._samples)
        if not samples:
            return Load(0.0, 0.0, self._process_cpu)
        return Load(
            loop_lag_ms=statistics.median(s.lag_ms for s in samples),
            loop_cpu_percent=statistics.median(
                100 * s.loop_cpu_s / s.wall_s if s.wall_s > 0 else 0.0 for s in samples),
            process_cpu_percent=self._process_cpu)

    def over_budget(self) -> str | None:
        """Why this process should take no new call now, or None."""
        load = self.current()
        if self.max_loop_lag_ms and load.loop_lag_ms > self.max_loop_lag_ms:
            return (f"event-loop lag {load.loop_lag_ms:.0f} ms over the"
                    f" {self.max_loop_lag_ms:g} ms budget")
        if self.max_cpu_percent and load.loop_cpu_percent > self.max_cpu_percent:
            return (f"event-loop CPU {load.loop_cpu_percent:.0f} % over the"
                    f" {self.max_cpu_percent:g} % budget")
        return None

    def start(self) -> None:
        self._process.cpu_percent()   # the first reading only sets the reference point
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        # time.thread_time() read here is the event-loop thread's own CPU clock.
        last_wall, last_cpu = time.monotonic(), time.thread_time()
        ticks = 0
        while True:
            due = time.monotonic() + self.tick_seconds
            await asyncio.sleep(self.tick_seconds)
            now, cpu = time.monotonic(), time.thread_time()
            self.record(Sample(lag_ms=max(0.0, now - due) * 1000, loop_cpu_s=cpu - last_cpu,
                               wall_s=now - last_wall))
            last_wall, last_cpu = now, cpu
            ticks += 1
            if ticks % WINDOW_TICKS == 0:
                self._process_cpu = self._process.cpu_percent()
