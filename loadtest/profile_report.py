"""``python -m loadtest.profile_report PROFILE.txt``: where a server's CPU goes, from a
py-spy ``--format raw`` profile (one ``frame;frame;... count`` line per stack).

Each sample is charged to the innermost frame that belongs to a known part of the media
path (Silero, the serializer, the socket, frame hops, ...), so ``json.dumps`` called by the
serializer counts as the serializer. Only what the profile holds is read: nothing of the
server is imported.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# (part, patterns on "function (file:line)"), innermost match wins; order breaks ties.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("Silero VAD (ONNX run)", ("onnxruntime", "silero")),
    ("VAD analyzer, turn strategy", ("pipecat/audio/vad", "pipecat/audio/turn",
                                     "shared_vad.py", "user_turn", "turns/")),
    ("Twilio serializer (JSON, base64, μ-law)", ("twilio_serializer.py", "twilio_messages.py",
                                                 "pipecat/serializers", "json/", "base64",
                                                 "audioop", "/soxr", "resampl")),
    ("WebSocket (uvicorn, websockets)", ("websockets/", "uvicorn/", "starlette/websockets",
                                         "bounded_socket.py",
                                         "pipecat/transports/websocket")),
    ("output transport (pacing, chunking)", ("pipecat/transports/base_output.py",
                                             "playback.py")),
    ("input transport", ("pipecat/transports/base_input.py",)),
    ("observers, metrics, turn tracking", ("pipecat/observers", "pipecat/metrics",
                                           "observer", "prometheus_client", "call_hooks.py",
                                           "turn_metrics", "turn_tracking")),
    ("services (STT, LLM, TTS)", ("pipecat/services", "tests/bench_server.py")),
    ("frame hops (processors, pipeline)", ("pipecat/processors", "pipecat/pipeline",
                                           "pipecat/frames", "pipecat/utils")),
    ("database (asyncpg)", ("asyncpg", "/db/")),
    ("our call code (voice/, pipelines/)", ("/voice/", "/pipelines/", "voice/", "pipelines/")),
    ("event loop, tasks, timers", ("asyncio/", "uvloop", "selectors", "threading")),
    ("logging", ("logging/", "loguru")),
]
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")


def part_of(frame: str) -> str | None:
    for name, patterns in PARTS:
        if any(p in frame for p in patterns):
            return name
    return None


def read(path: Path) -> tuple[Counter[str], Counter[str], int]:
    """(samples per part, self samples per function, all samples)."""
    parts: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        count = int(match["count"])
        frames = match["stack"].split(";")
        total += count
        leaves[frames[-1]] += count
        part = next((p for f in reversed(frames) if (p := part_of(f))), "other")
        parts[part] += count
    return parts, leaves, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loadtest.profile_report")
    ap.add_argument("profile", type=Path, help="py-spy record --format raw output")
    ap.add_argument("--cpu-percent", type=float,
                    help="the process's CPU over the profile (a core = 100), to show each"
                         " part as % of a core per call")
    ap.add_argument("--calls", type=int, help="calls in progress while it was recorded")
    ap.add_argument("--top", type=int, default=15, help="functions by self time")
    args = ap.parse_args(argv)
    parts, leaves, total = read(args.profile)
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    per_call = args.cpu_percent is not None and args.calls
    head = f"{'part':45} {'share':>7}" + ("  % core/call" if per_call else "")
    print(head)
    for name, count in parts.most_common():
        share = 100 * count / total
        extra = f"  {share * args.cpu_percent / 100 / args.calls:11.2f}" if per_call else ""
        print(f"{name:45} {share:6.1f}%{extra}")
    print(f"\n{total} samples; innermost functions by self time:")
    for frame, count in leaves.most_common(args.top):
        print(f"{100 * count / total:6.1f}%  {frame[:110]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
