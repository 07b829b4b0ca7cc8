"""Replay a recording as N concurrent calls: ramp, duration, progress, server figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from loadtest.call import CallTrace, Dialing, replay_call
from loadtest.metrics import CallMetrics, Summary, analyze, summarize
from loadtest.pacing import Step, schedule
from loadtest.recording import Recording, Segment
from loadtest.sampler import Sample, Sampler
from loadtest.segments import find_segments


@dataclass(frozen=True)
class Plan:
    calls: int = 1                  # concurrent calls
    ramp_s: float = 0.0             # the calls start evenly spread over this many seconds
    duration_s: float | None = None  # keep the calls going (new ones replace ended ones)
    total: int | None = None        # stop after this many calls (default: ``calls``)

    @property
    def limit(self) -> int | None:
        if self.total is not None:
            return self.total
        return None if self.duration_s is not None else self.calls


@dataclass
class RunResult:
    plan: Plan
    traces: list[CallTrace]
    metrics: list[CallMetrics]
    summary: Summary
    samples: list[Sample] = field(default_factory=list)
    concurrency: list[tuple[float, int]] = field(default_factory=list)
    wall_s: float = 0.0


def segments_of(recording: Recording) -> list[Segment]:
    """The recording's own speech segments, else the ones its audio shows."""
    return recording.segments or find_segments(recording.media)


class Progress:
    """What a progress display needs; the default does nothing."""

    def started(self, total: int | None, duration_s: float | None) -> None: ...
    def update(self, *, done: int, active: int, turns: int, last_latency_ms: float | None
               ) -> None: ...
    def finished(self) -> None: ...


async def run(recording: Recording, dialing: Dialing, plan: Plan, *, pids: Sequence[int] = (),
              turn_wait_ms: float = 0.0, progress: Progress | None = None,
              sample_interval_s: float = 1.0) -> RunResult:
    steps: list[Step] = schedule(recording)
    segments = segments_of(recording)
    progress = progress or Progress()
    traces: list[CallTrace] = []
    concurrency: list[tuple[float, int]] = []
    active = 0
    placed = 0
    turns_done = 0
    limit = plan.limit
    started = time.monotonic()
    sampler = Sampler(pids, interval_s=sample_interval_s, active=lambda: active)

    def changed(delta: int) -> None:
        nonlocal active
        active += delta
        concurrency.append((time.monotonic(), active))

    def on_event(_event: str) -> None:
        pass

    async def lane(i: int, http: httpx.AsyncClient) -> None:
        nonlocal placed, turns_done
        if plan.calls > 1 and plan.ramp_s > 0:
            await asyncio.sleep(i * plan.ramp_s / plan.calls)
        while True:
            if limit is not None and placed >= limit:
                return
            if plan.duration_s is not None and time.monotonic() - started >= plan.duration_s:
                return
            placed += 1
            changed(+1)
            try:
                trace = await replay_call(steps, segments, dialing, http=http,
                                          on_event=on_event)
            finally:
                changed(-1)
            traces.append(trace)
            m = analyze(trace)
            turns_done += len(m.turns)
            last = next((t.latency_ms for t in reversed(m.turns) if t.latency_ms), None)
            progress.update(done=len(traces), active=active, turns=turns_done,
                            last_latency_ms=last)

    progress.started(limit, plan.duration_s)
    sampler.start()
    limits = httpx.Limits(max_connections=max(10, plan.calls * 2))
    try:
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(lane(i, http) for i in range(plan.calls)))
    finally:
        await sampler.stop()
        progress.finished()
    metrics = [analyze(t, concurrency=concurrency) for t in traces]
    return RunResult(plan=plan, traces=traces, metrics=metrics,
                     summary=summarize(metrics, turn_wait_ms=turn_wait_ms),
                     samples=sampler.samples, concurrency=concurrency,
                     wall_s=time.monotonic() - started)


def cpu_at_levels(samples: Sequence[Sample]) -> dict[int, float]:
    """Mean server CPU % for each number of calls in progress."""
    by: dict[int, list[float]] = {}
    for s in samples:
        by.setdefault(s.calls, []).append(s.cpu_percent)
    return {k: sum(v) / len(v) for k, v in sorted(by.items())}
