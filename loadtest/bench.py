"""``frontdesk-loadtest bench``: how many concurrent calls one server core carries.

Starts the server itself (``python -m tests.bench_server``: the real app with instant,
deterministic providers, pinned to one core), replays a recording at rising concurrency
and finds the largest number of calls for which all of these hold (``metrics.Slo``):

- latency: p95 of the turn latency beyond the pipeline's *unloaded* latency for the same
  caller turn ≤ 100 ms. The unloaded reference is measured first in the same run (one
  call at a time), so it holds the end-of-turn wait as the pipeline really behaves
  (VAD stop, speech timeout, Smart Turn's verdict and its 3 s fallback) and the load
  figure is what concurrency adds. The issue's literal reading, p95 of (latency − the
  configured turn wait) ≤ 100 ms, is reported beside it as the "strict" verdict;
- outbound inter-arrival p99 ≤ 40 ms, for 20 ms packets (excess over the packet ≤ 20 ms);
- audio never more than 100 ms behind real time;
- no dropped, refused or errored call, no unanswered turn.

The same run measures a baseline built the way Pipecat's own Twilio example builds it
and prints ours / baseline.

``--server-workers N`` adds, in each run, the same server as N processes on N cores
(``--workers N``, one port) and prints what N processes carry over what one carries.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from loadtest import replay
from loadtest.call import Dialing
from loadtest.metrics import Slo, Summary, latency_excess, percentile, reference_latency
from loadtest.recording import Recording
from loadtest.report import BarProgress, Point, chart, console, write_json
from loadtest.sampler import Sampler
from loadtest.server import SpawnedServer, free_port, pin_self

BENCH_NUMBER = "+15555550142"
LOOP_STALLS = "/bench/loop-stalls"
PIPELINES = {
    "frontdesk": [],
    "baseline": ["--baseline"],
    # Experiments, on request (--pipelines): ours with gc.freeze() after start-up.
    "frontdesk-gc-freeze": ["--gc-freeze"],
}
MAX_BISECTIONS = 3


REFERENCE_CALLS = 2


@dataclass
class Level:
    pipeline: str
    calls: int
    passed: bool
    violations: list[str]
    strict_passed: bool      # the SLO read against the configured turn wait
    latency_excess_p95_ms: float | None
    summary: Summary
    cpu_percent: float | None
    rss_mb: float | None
    wall_s: float
    # The load generator's own CPU (% of one core) over the level: where it shares cores
    # with the server, a level can fail for want of CPU on this side of the wire.
    loadgen_cpu_percent: float | None = None
    # The server's event loop over the level (``tests.loop_stalls``): longest stall, how
    # many ticks were held over 10/20/50 ms, its garbage collections. One process only.
    loop_stalls: dict[str, Any] | None = None


@dataclass
class PipelineRun:
    pipeline: str
    calls_per_core: int
    turn_wait_ms: float
    startup_s: float | None
    levels: list[Level] = field(default_factory=list)
    rss_idle_mb: float | None = None
    reference_ms: dict[int, float] = field(default_factory=dict)  # unloaded, per segment
    strict_calls_per_core: int = 0
    workers: int = 1        # server processes; calls_per_core is then what they carried


def label(pipeline: str, workers: int) -> str:
    return pipeline if workers == 1 else f"{pipeline}×{workers}"


@dataclass(frozen=True)
class BenchConfig:
    levels: list[int]
    cpu: int
    ramp_s: float
    out: Path
    database_url: str | None
    server_cmd: list[str]
    slo: Slo = Slo()
    profile_upto: int = 4
    server_workers: int = 1   # >1: also bench that many server processes, in each run


def server_cores(first: int, count: int) -> set[int]:
    """``first`` and the cores below it (wrapping): the load generator keeps the rest."""
    total = os.cpu_count() or 1
    return {(first - i) % total for i in range(min(count, total))}


def server_command() -> list[str]:
    if not Path("tests/bench_server.py").exists():
        raise SystemExit("bench: run from a frontdesk source checkout (tests/bench_server.py "
                         "starts the server with instant providers), or pass --server-cmd")
    return [sys.executable, "-m", "tests.bench_server"]


def server_env(port: int, token: str, config: BenchConfig, home: Path) -> dict[str, str]:
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "TWILIO_AUTH_TOKEN": token, "TWILIO_ACCOUNT_SID": "", "MAX_CALLS": "500",
           "LOCAL_MODELS": "false", "LOG_LEVEL": "WARNING", "FRONTDESK_HOME": str(home),
           "METER_TICK_SECONDS": "15",
           # The bench finds where the SLO breaks; admission by load would refuse calls
           # before that, by design, and hide it.
           "ADMISSION_MAX_LOOP_LAG_MS": "0", "ADMISSION_MAX_CPU_PERCENT": "0"}
    env["DATABASE_URL"] = config.database_url or ""
    return env


def server_info(log: str) -> dict[str, Any]:
    match = re.search(r"^BENCH-SERVER (\{.*\})$", log, re.MULTILINE)
    return json.loads(match.group(1)) if match else {}


async def start_server(pipeline: str, config: BenchConfig, *, extra: list[str] | None = None,
                       workers: int = 1) -> tuple[SpawnedServer, Dialing, dict[str, Any]]:
    port, token = free_port(), secrets.token_hex(16)
    cmd = [*config.server_cmd, *PIPELINES[pipeline], "--number", BENCH_NUMBER, *(extra or [])]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    server = SpawnedServer(cmd, server_env(port, token, config, config.out / "home"), port,
                           cpus=server_cores(config.cpu, workers), processes=workers,
                           log_path=config.out / f"server-{label(pipeline, workers)}.log")
    await server.start()
    info = server_info(server.log_text())
    return server, Dialing(url=server.url, to=BENCH_NUMBER, auth_token=token), info


async def run_level(pipeline: str, calls: int, rec: Recording, dialing: Dialing,
                    server: SpawnedServer, config: BenchConfig, turn_wait_ms: float,
                    reference: dict[int, float]) -> Level:
    await server.idle()
    plan = replay.Plan(calls=calls, ramp_s=config.ramp_s if calls > 1 else 0.0)
    own = psutil.Process()
    single = server.processes == 1
    if single:
        await server.get_json(LOOP_STALLS)  # starts the level's window
    cpu_before, wall_before = sum(own.cpu_times()[:2]), time.monotonic()
    result = await replay.run(rec, dialing, plan, pids=[server.pid], turn_wait_ms=turn_wait_ms,
                              progress=BarProgress(f"{pipeline} with {calls} calls"))
    stalls = await server.get_json(LOOP_STALLS) if single else None
    # Server figures while every call was in progress.
    full = [s for s in result.samples if s.calls >= calls]
    cpu = statistics.mean(s.cpu_percent for s in full) if full else None
    rss = max((s.rss_mb for s in result.samples), default=None)
    excess = percentile(latency_excess(result.metrics, reference), 95)
    violations = config.slo.violations(result.summary, latency_excess_p95_ms=excess)
    if excess is None and not violations:
        violations = ["no answered turn"]
    strict = not config.slo.violations(result.summary)
    loadgen = 100 * (sum(own.cpu_times()[:2]) - cpu_before) / (time.monotonic() - wall_before)
    level = Level(pipeline, calls, not violations, violations, strict, excess, result.summary,
                  cpu, rss, result.wall_s, loadgen, stalls)
    s = result.summary
    console.print(
        f"  {pipeline:9} {calls:3} calls: latency p50/p95 {_f(s.latency_ms.get('p50'))}/"
        f"{_f(s.latency_ms.get('p95'))} ms (p95 beyond unloaded {_f(excess)}, beyond the "
        f"{turn_wait_ms:g} ms wait {_f(s.latency_over_wait_ms.get('p95'))}), inter-arrival p99 "
        f"{_f(s.interarrival_ms.get('p99'))} ms (excess {_f(s.interarrival_excess_ms.get('p99'))}"
        f" ms), behind {s.behind_ms_max:.0f} ms, "
        f"CPU {_f(cpu)} % (load generator {loadgen:.0f} %), RSS {_f(rss)} MB, "
        f"{_stalls(stalls)} → "
        + ("[green]pass" if level.passed else f"[red]fail[/] ({'; '.join(violations)})")
        + ("" if strict else " [yellow](strict: fail)"))
    return level


def _stalls(w: dict[str, Any] | None) -> str:
    if not w:
        return "loop stalls -"
    return (f"loop stall max {w['longest_ms']:.0f} ms (>20 ms ×{w['over_20_ms']}, >50 ms "
            f"×{w['over_50_ms']}; gc max {w['gc_longest_ms']:.0f} ms)")


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


async def bench_pipeline(pipeline: str, rec: Recording, warmup: Recording,
                         config: BenchConfig, workers: int = 1) -> PipelineRun:
    server, dialing, info = await start_server(pipeline, config, workers=workers)
    try:
        wait = float(info.get("turn_wait_ms", 0))
        await replay.run(warmup, dialing, replay.Plan(calls=max(1, workers)))
        await server.idle()
        run = PipelineRun(pipeline, 0, wait, server.startup_s, workers=workers)
        run.rss_idle_mb = Sampler([server.pid]).rss_mb()
        # The unloaded reference: calls one at a time.
        name = label(pipeline, workers)
        ref = await replay.run(rec, dialing, replay.Plan(calls=1, total=REFERENCE_CALLS),
                               progress=BarProgress(f"{name} unloaded"))
        run.reference_ms = reference_latency(ref.metrics)
        console.print(f"  {name:9} unloaded latency per caller turn: "
                      + ", ".join(f"{v:.0f} ms" for _, v in sorted(run.reference_ms.items())))
        tested: dict[int, Level] = {}

        async def passes(n: int) -> bool:
            tested[n] = await run_level(name, n, rec, dialing, server, config, wait,
                                        run.reference_ms)
            return tested[n].passed

        # Every pipeline runs the levels up to ``profile_upto`` (so their CPU per call can
        # be compared at the same load), then rises until the first failure and bisects.
        best, worst = 0, None
        for n in config.levels:
            if worst is not None and n > config.profile_upto:
                break
            if await passes(n):
                best = n if worst is None else best
            elif worst is None:
                worst = n
        for _ in range(MAX_BISECTIONS):
            if worst is None or worst - best <= 1:
                break
            mid = (best + worst) // 2
            if mid in tested:
                break
            if await passes(mid):
                best = mid
            else:
                worst = mid
        run.calls_per_core = best
        run.levels = [tested[n] for n in sorted(tested)]
        for lv in run.levels:
            if not lv.strict_passed:
                break
            run.strict_calls_per_core = lv.calls
        return run
    finally:
        await server.stop()


def cpu_per_call_at(run: PipelineRun, calls: int) -> float | None:
    """Server CPU (% of one core) per call with ``calls`` calls in progress."""
    level = next((lv for lv in run.levels if lv.calls == calls), None)
    if level is None or level.cpu_percent is None:
        return None
    return level.cpu_percent / calls


def points(run: PipelineRun) -> list[Point]:
    return [Point(lv.calls, lv.summary.latency_ms.get("p50"), lv.summary.latency_ms.get("p95"),
                  lv.summary.latency_ms.get("p99"), lv.cpu_percent) for lv in run.levels]


async def bench(rec: Recording, warmup: Recording, config: BenchConfig, *, repeat: int = 1,
                pipelines: list[str] | None = None) -> dict[str, Any]:
    pin_self(server_cores(config.cpu, config.server_workers))
    names = pipelines or ["frontdesk", "baseline"]
    modes = [1] if config.server_workers == 1 else [1, config.server_workers]
    runs: list[PipelineRun] = []
    for r in range(repeat):
        for name in names:
            for workers in modes:
                cores = sorted(server_cores(config.cpu, workers))
                console.rule(f"{label(name, workers)} (run {r + 1} of {repeat}, server on "
                             f"CPU {','.join(map(str, cores))})")
                runs.append(await bench_pipeline(name, rec, warmup, config, workers))
    labels = [label(n, w) for n in names for w in modes]

    def of(lb: str) -> list[PipelineRun]:
        return [r for r in runs if label(r.pipeline, r.workers) == lb]

    per = {lb: [r.calls_per_core for r in of(lb)] for lb in labels}
    cpu_per_call = {lb: [cpu_per_call_at(r, config.profile_upto) for r in of(lb)]
                    for lb in labels}
    strict = {lb: [r.strict_calls_per_core for r in of(lb)] for lb in labels}
    medians = {lb: statistics.median(v) for lb, v in per.items()}
    result: dict[str, Any] = {
        "cores": os.cpu_count(), "server_cpu": config.cpu, "slo": config.slo,
        "server_workers": config.server_workers,
        "calls_per_core": per, "median_calls_per_core": medians,
        "strict_calls_per_core": strict,
        f"cpu_percent_per_call_at_{config.profile_upto}_calls": cpu_per_call, "runs": runs}
    ratios: list[float | None] = []
    if "frontdesk" in per and "baseline" in per:
        ratios = _ratios(per["frontdesk"], per["baseline"])
        result["ratios"] = ratios
        result["median_ratio"] = _median(ratios)
    scaling: dict[str, list[float | None]] = {}
    if config.server_workers > 1:
        # What N processes carried over what one carried, both in the same run.
        scaling = {n: _ratios(per[label(n, config.server_workers)], per[n]) for n in names}
        result["process_scaling"] = scaling
        result["median_process_scaling"] = {n: _median(v) for n, v in scaling.items()}
    write_json(config.out / "bench.json", result)
    last = {label(r.pipeline, r.workers): r for r in runs}
    chart(config.out / "bench.png", {lb: points(last[lb]) for lb in labels},
          title="bench: turn latency and server CPU against concurrent calls")
    console.rule("calls at the SLO (per core with one process; carried in all with several)")
    for lb in labels:
        cpus = [f"{c:.1f}" for c in cpu_per_call[lb] if c is not None]
        console.print(f"{lb:9}: {per[lb]} → median {medians[lb]:g}  (strict reading: "
                      f"{strict[lb]}); CPU per call at {config.profile_upto} calls: "
                      f"{', '.join(cpus)} %")
    if ratios:
        console.print("ours / baseline: " + _shown(result.get("median_ratio"), ratios))
    for n, values in scaling.items():
        console.print(f"{n}: {config.server_workers} processes / 1 process: "
                      + _shown(result["median_process_scaling"][n], values))
    console.print(f"written: {config.out / 'bench.json'}, {config.out / 'bench.png'}")
    return result


def _ratios(top: list[int], bottom: list[int]) -> list[float | None]:
    return [a / b if b else None for a, b in zip(top, bottom, strict=True)]


def _median(ratios: list[float | None]) -> float | None:
    finite = [x for x in ratios if x is not None]
    return statistics.median(finite) if finite else None


def _shown(median: float | None, ratios: list[float | None]) -> str:
    shown = ", ".join(f"{x:.2f}" if x is not None else "∞ (denominator 0)" for x in ratios)
    return (f"{median:.2f}" if median is not None else "-") + f" (per run: {shown})"


def run_bench(rec: Recording, warmup: Recording, config: BenchConfig, **kw: Any
              ) -> dict[str, Any]:
    return asyncio.run(bench(rec, warmup, config, **kw))
