"""``frontdesk-loadtest soak``: many short calls in sequence; does the server's memory grow?

RSS is read after a few warm-up calls, then after every ``checkpoint`` calls once the
server reports no call in progress; growth per 100 calls is the least-squares slope
through those readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loadtest import replay
from loadtest.call import Dialing
from loadtest.recording import Recording
from loadtest.report import BarProgress, console
from loadtest.sampler import Sampler
from loadtest.server import SpawnedServer

WARMUP_CALLS = 3


@dataclass
class SoakResult:
    calls: int
    concurrency: int
    rss_before_mb: float
    rss_after_mb: float
    growth_per_100_mb: float
    checkpoints: list[tuple[int, float]] = field(default_factory=list)  # (calls, RSS MB)
    completed: int = 0
    dropped: int = 0
    refused: int = 0
    errors: int = 0
    unanswered: int = 0
    startup_s: float | None = None


def slope(points: list[tuple[int, float]]) -> float:
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


async def soak(rec: Recording, dialing: Dialing, pids: list[int], *, calls: int,
               concurrency: int = 1, checkpoint: int = 100,
               server: SpawnedServer | None = None) -> SoakResult:
    sampler = Sampler(pids)

    async def settle() -> float:
        if server is not None:
            await server.idle()
        return sampler.rss_mb()

    await replay.run(rec, dialing, replay.Plan(calls=1, total=WARMUP_CALLS))
    before = await settle()
    result = SoakResult(calls, concurrency, before, before, 0.0, [(0, before)])
    if server is not None:
        result.startup_s = server.startup_s
    done = 0
    while done < calls:
        chunk = min(checkpoint, calls - done)
        run = await replay.run(rec, dialing, replay.Plan(calls=concurrency, total=chunk),
                               progress=BarProgress(f"soak {done}-{done + chunk}"))
        done += chunk
        s = run.summary
        result.completed += s.completed
        result.dropped += s.dropped
        result.refused += s.refused
        result.errors += s.errors
        result.unanswered += s.unanswered
        rss = await settle()
        result.checkpoints.append((done, rss))
        console.print(f"  {done:5} calls: RSS {rss:.1f} MB ({s.completed}/{chunk} completed"
                      + (f"; {s.problems[0]}" if s.problems else "") + ")")
    result.rss_after_mb = result.checkpoints[-1][1]
    result.growth_per_100_mb = slope(result.checkpoints) * 100
    console.print(f"RSS {result.rss_before_mb:.1f} MB before, {result.rss_after_mb:.1f} MB "
                  f"after {calls} calls: {result.growth_per_100_mb:+.2f} MB per 100 calls")
    return result


def as_payload(result: SoakResult, **extra: Any) -> dict[str, Any]:
    return {**extra, "soak": result}
