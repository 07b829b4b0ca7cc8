"""``frontdesk-loadtest``: synthesize, replay, bench and soak Twilio media streams.

    frontdesk-loadtest synth booking -o booking.jsonl
    frontdesk-loadtest replay booking.jsonl --calls 10 --ramp 5 --url http://127.0.0.1:8000
    frontdesk-loadtest bench
    frontdesk-loadtest soak --calls 1000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from loadtest import recording as recfmt
from loadtest import replay, report, synth
from loadtest.accuracy import run as accuracy
from loadtest.call import Dialing
from loadtest.metrics import Slo
from loadtest.report import console

DEMO_NUMBER = "+15555550100"
DEFAULT_CALLER = "+15005550006"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "frontdesk-loadtest"


def synthesized(name_or_path: str, *, voice: str | None = None) -> recfmt.Recording:
    """A script's recording, synthesized once and cached by the script's content."""
    script = synth.load_script(name_or_path)
    key = hashlib.sha256(repr((script.steps, script.to, script.caller, voice or script.voice))
                         .encode()).hexdigest()[:16]
    path = _cache_dir() / f"{script.name}-{key}.jsonl"
    if path.exists():
        return recfmt.read(path)
    rec = synth.build(script, voice=voice)
    rec.write(path)
    return rec


def load_recording(arg: str) -> recfmt.Recording:
    """A recording file, or the name of a shipped script (synthesized on first use)."""
    if Path(arg).exists() and not arg.endswith((".yaml", ".yml")):
        return recfmt.read(arg)
    return synthesized(arg)


def _out_dir(arg: str | None, kind: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path(arg) if arg else Path("loadtest-results") / f"{kind}-{stamp}"


# -- commands -----------------------------------------------------------------------------

def cmd_synth(args: argparse.Namespace) -> int:
    rec = synth.build(synth.load_script(args.script), voice=args.voice)
    path = rec.write(args.output)
    console.print(f"{path}: {rec.duration_ms / 1000:.1f} s, {len(rec.segments)} caller "
                  f"segments")
    for seg in rec.segments:
        console.print(f"  {seg.start_ms / 1000:6.2f}–{seg.end_ms / 1000:6.2f} s  {seg.kind:8} "
                      f"{seg.text}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    rec = recfmt.read(args.recording)
    segments = replay.segments_of(rec)
    counts: dict[str, int] = {}
    for e in rec.entries:
        counts[e.event] = counts.get(e.event, 0) + 1
    console.print({k: v for k, v in rec.header.items()})
    console.print(f"{rec.duration_ms / 1000:.1f} s; messages: {counts}")
    source = "recorded" if rec.segments else "found in the audio"
    console.print(f"caller segments ({source}):")
    for seg in segments:
        console.print(f"  {seg.start_ms / 1000:6.2f}–{seg.end_ms / 1000:6.2f} s  {seg.kind:8} "
                      f"{seg.text}")
    return 0


async def _replay(args: argparse.Namespace) -> int:
    from loadtest.sampler import listening_pids
    from loadtest.server import SpawnedServer, pin_self

    rec = load_recording(args.recording)
    out = _out_dir(args.out, "replay")
    server = None
    url = args.url
    pids = list(args.pid or [])
    if args.spawn:
        port = args.spawn_port
        env = dict(kv.split("=", 1) for kv in args.spawn_env or [])
        cpus = {int(c) for c in args.cpu.split(",")} if args.cpu else None
        server = SpawnedServer(shlex.split(args.spawn), env, port, cpus=cpus,
                               log_path=out / "server.log")
        if cpus:
            pin_self(cpus)
        await server.start()
        console.print(f"server up in {server.startup_s:.2f} s (pid {server.pid})")
        url = url or server.url
        pids.append(server.pid)
    url = url or os.environ.get("PUBLIC_URL") or "http://127.0.0.1:8000"
    if not pids and url.startswith(("http://127.0.0.1", "http://localhost")):
        port = int(url.rsplit(":", 1)[-1].split("/")[0]) if url.count(":") == 2 else 80
        pids = listening_pids(port)
    dialing = Dialing(url=url, to=args.to or rec.header.get("to") or DEMO_NUMBER,
                      caller=args.caller or rec.header.get("from") or DEFAULT_CALLER,
                      auth_token=args.auth_token or os.environ.get("TWILIO_AUTH_TOKEN") or None,
                      ws_url=args.ws_url)
    plan = replay.Plan(calls=args.calls, ramp_s=args.ramp, duration_s=args.duration,
                       total=args.total)
    try:
        from loadtest.sampler import Sampler

        rss_before = Sampler(pids).rss_mb() if pids else None
        main_before = Sampler(pids).rss_main_mb() if pids else None
        result = await replay.run(rec, dialing, plan, pids=pids, turn_wait_ms=args.turn_wait_ms,
                                  progress=report.BarProgress())
        if server is not None:
            await server.idle(timeout_s=15)
        rss_after = Sampler(pids).rss_mb() if pids else None
        main_after = Sampler(pids).rss_main_mb() if pids else None
    finally:
        if server is not None:
            await server.stop()
    Console = report.Console
    Console().print(report.summary_table(result.summary, title=f"replay of {args.recording}: "
                                         f"{args.calls} concurrent, {len(result.traces)} calls"))
    peak = max((s.rss_mb for s in result.samples), default=None)
    main_peak = max((s.rss_main_mb for s in result.samples), default=None)
    cpu = [s.cpu_percent for s in result.samples if s.calls]
    if pids:
        console.print(f"server pids {pids}: RSS {rss_before:.0f} MB before, peak "
                      f"{peak or 0:.0f} MB, {rss_after:.0f} MB after; CPU mean "
                      f"{(sum(cpu) / len(cpu)) if cpu else 0:.0f} % of one core while calls ran")
        console.print(f"  without child processes: RSS {main_before:.0f} MB before, peak "
                      f"{main_peak or 0:.0f} MB, {main_after:.0f} MB after")
    extra: dict[str, Any] = {"recording": args.recording, "url": url, "server_pids": pids,
                             "cores": os.cpu_count(), "rss_before_mb": rss_before,
                             "rss_after_mb": rss_after, "rss_peak_mb": peak,
                             "rss_main_before_mb": main_before, "rss_main_after_mb": main_after,
                             "rss_main_peak_mb": main_peak}
    if server is not None:
        extra["server_startup_s"] = server.startup_s
        extra["server_cmd"] = args.spawn
    report.write_json(out / "replay.json", report.run_payload(result, **extra))
    report.chart(out / "replay.png", {"server": report.points_by_concurrency(result)},
                 title=f"replay of {Path(args.recording).name}")
    console.print(f"written: {out / 'replay.json'}, {out / 'replay.png'}")
    if args.check_slo:
        violations = Slo().violations(result.summary)
        for v in violations:
            console.print(f"[red]SLO: {v}")
        return 1 if violations else 0
    return 0 if result.summary.errors == 0 else 1


def cmd_replay(args: argparse.Namespace) -> int:
    return asyncio.run(_replay(args))


def _bench_config(args: argparse.Namespace, kind: str) -> Any:
    from loadtest.bench import BenchConfig, server_command

    out = _out_dir(args.out, kind)
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    return BenchConfig(levels=[int(x) for x in args.levels.split(",")] if hasattr(
                           args, "levels") else [1],
                       cpu=cpu, ramp_s=getattr(args, "ramp", 0.0), out=out,
                       database_url=args.database_url or os.environ.get("DATABASE_URL"),
                       server_cmd=shlex.split(args.server_cmd) if args.server_cmd
                       else server_command(),
                       server_workers=getattr(args, "server_workers", 1))


def cmd_bench(args: argparse.Namespace) -> int:
    from loadtest.bench import run_bench

    config = _bench_config(args, "bench")
    rec = load_recording(args.recording)
    warmup = load_recording("soak")
    pipelines = args.pipelines.split(",")
    run_bench(rec, warmup, config, repeat=args.repeat, pipelines=pipelines)
    return 0


async def _soak(args: argparse.Namespace) -> int:
    from loadtest.bench import start_server
    from loadtest.server import pin_self
    from loadtest.soak import as_payload, soak

    rec = load_recording(args.recording)
    server = None
    if args.url:
        dialing = Dialing(url=args.url, to=args.to or DEMO_NUMBER,
                          auth_token=args.auth_token or os.environ.get("TWILIO_AUTH_TOKEN"))
        pids = list(args.pid or [])
        if not pids:
            raise SystemExit("soak --url needs --pid (the server process to measure)")
        out = _out_dir(args.out, "soak")
    else:
        config = _bench_config(args, "soak")
        out = config.out
        pin_self({config.cpu})
        server, dialing, _ = await start_server(_soak_pipeline(args), config)
        pids = [server.pid]
    try:
        result = await soak(rec, dialing, pids, calls=args.calls, concurrency=args.concurrency,
                            checkpoint=args.checkpoint, server=server)
    finally:
        if server is not None:
            await server.stop()
    report.write_json(out / "soak.json", as_payload(
        result, recording=args.recording, cores=os.cpu_count(),
        pipeline=None if args.url else _soak_pipeline(args)))
    console.print(f"written: {out / 'soak.json'}")
    return 0 if result.errors == 0 and result.dropped == 0 else 1


def _soak_pipeline(args: argparse.Namespace) -> str:
    return "baseline" if args.baseline else args.pipeline


def cmd_soak(args: argparse.Namespace) -> int:
    return asyncio.run(_soak(args))


# -- arguments ----------------------------------------------------------------------------

def _server_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpu", type=int, help="core the server is pinned to (default: the last)")
    p.add_argument("--database-url", help="PostgreSQL for the server (default: DATABASE_URL,"
                   " else an embedded one under the output folder)")
    p.add_argument("--server-cmd", help="command that starts the bench server "
                   "(default: python -m tests.bench_server, from a source checkout)")
    p.add_argument("--out", help="output folder (default: ./loadtest-results/KIND-TIME)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="frontdesk-loadtest", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="turn a dialogue script (YAML) into a recording")
    p.add_argument("script", help=f"a YAML file, or a shipped script: {', '.join(synth.shipped())}")
    p.add_argument("-o", "--output", required=True, help="the recording to write (.jsonl)")
    p.add_argument("--voice", help="caller voice: piper, espeak-ng, or ENGINE/VOICE "
                                   "(e.g. flite/kal16)")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("info", help="what a recording holds: duration, messages, segments")
    p.add_argument("recording")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("replay", help="replay a recording as concurrent calls")
    p.add_argument("recording", help="a .jsonl recording, or a shipped script's name")
    p.add_argument("--calls", type=int, default=1, help="concurrent calls (default 1)")
    p.add_argument("--ramp", type=float, default=0.0,
                   help="start the calls evenly over this many seconds (default 0)")
    p.add_argument("--duration", type=float,
                   help="keep the calls going this many seconds (ended calls are replaced)")
    p.add_argument("--total", type=int, help="place this many calls in all")
    p.add_argument("--url", help="server base URL (default: PUBLIC_URL or "
                   "http://127.0.0.1:8000)")
    p.add_argument("--to", help="number dialled (default: the recording's, else the demo's)")
    p.add_argument("--from", dest="caller", help="caller's number")
    p.add_argument("--auth-token", help="Twilio auth token that signs /voice "
                   "(default: TWILIO_AUTH_TOKEN; none: unsigned)")
    p.add_argument("--ws-url", help="open streams here instead of the TwiML URL's host")
    p.add_argument("--pid", type=int, action="append",
                   help="server process to sample (repeatable; default: whoever listens "
                        "on the URL's port)")
    p.add_argument("--spawn", help="start this server command first (measures its start-up)")
    p.add_argument("--spawn-env", action="append", metavar="K=V",
                   help="environment for --spawn (repeatable)")
    p.add_argument("--spawn-port", type=int, default=8000, help="port --spawn listens on")
    p.add_argument("--cpu", help="pin --spawn to these cores, e.g. 1 or 0,1")
    p.add_argument("--turn-wait-ms", type=float, default=0.0,
                   help="the server's deliberate end-of-turn wait, reported apart")
    p.add_argument("--check-slo", action="store_true", help="exit 1 when the bench SLO fails")
    p.add_argument("--out", help="output folder (default: ./loadtest-results/replay-TIME)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("bench", help="calls per core at the SLO, ours and Pipecat's baseline")
    p.add_argument("--recording", default="bench", help="recording or script (default: bench)")
    p.add_argument("--levels", default="1,2,4,6,8,10,12,16,20,24,32,40,48",
                   help="concurrency levels to try, ascending (bisects after a failure)")
    p.add_argument("--ramp", type=float, default=5.0,
                   help="seconds over which a level's calls start (default 5)")
    p.add_argument("--repeat", type=int, default=1, help="whole runs, for medians")
    p.add_argument("--pipelines", default="frontdesk,baseline",
                   help="comma-separated: frontdesk, baseline, frontdesk-gc-freeze")
    p.add_argument("--server-workers", type=int, default=1, metavar="N",
                   help="also bench each pipeline as N server processes on N cores, in the"
                        " same run, and print N processes / 1 (default 1: off)")
    _server_options(p)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("soak", help="sequential short calls: server RSS growth per 100 calls")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=1, help="calls at a time (default 1)")
    p.add_argument("--checkpoint", type=int, default=100, help="read RSS every N calls")
    p.add_argument("--recording", default="soak", help="recording or script (default: soak)")
    p.add_argument("--baseline", action="store_true", help="soak the Pipecat baseline")
    p.add_argument("--pipeline", default="frontdesk",
                   choices=["frontdesk", "baseline", "frontdesk-gc-freeze"])
    p.add_argument("--url", help="soak a running server instead of starting one")
    p.add_argument("--pid", type=int, action="append", help="with --url: its process")
    p.add_argument("--to", help="with --url: number dialled")
    p.add_argument("--auth-token", help="with --url: Twilio auth token")
    _server_options(p)
    p.set_defaults(func=cmd_soak)

    accuracy.add_parser(sub)
    return ap


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        code = args.func(args)
    except (recfmt.RecordingError, synth.ScriptError) as exc:
        print(f"frontdesk-loadtest: {exc}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    raise SystemExit(code)


if __name__ == "__main__":
    main()
