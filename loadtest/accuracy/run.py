"""``frontdesk-loadtest accuracy``: correct bookings for callers the receptionist never heard.

Modes: ``text`` (the receptionist on the caller's lines as written), ``audio`` (on what
Whisper hears of them: other engines' voices, phone band, optionally line noise), ``call``
(real calls into a running ``frontdesk serve``: signed /voice, the media stream, the
appointments read back from its PostgreSQL). Prints the figures for the tuning set, the
held-out dialogues and the held-out voice apart, and each failure with its class:
recognition (the receptionist books right on the written lines) or receptionist.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtest.accuracy import dialogues as dialogue_data
from loadtest.accuracy.score import CallResult, Figures, failure_detail, figures
from loadtest.voices import OTHER_ENGINE_VOICES

DEFAULT_VOICES = ("flite/kal16", "flite/rms", "espeak-ng/en-us+m3", "flite/awb",
                  "festival/cmu_us_slt_arctic_hts")
MODELS = {"tiny": "local/whisper-tiny.en", "base": "local/whisper-base"}


@dataclass(frozen=True)
class Plan:
    """Which dialogue is spoken by which voice on which line."""

    dialogue: dialogue_data.Dialogue
    voice: str
    noisy: bool


def plans(suite: dialogue_data.Suite, voices: list[str], per_dialogue: int,
          conditions: list[str], ids: set[int] | None) -> list[Plan]:
    """Each dialogue with ``per_dialogue`` tuning voices in rotation, plus every held-out
    voice, on each line condition."""
    tuning = [v for v in voices if v not in suite.held_out_voices]
    held = [v for v in voices if v in suite.held_out_voices]
    out = []
    for d in suite.dialogues:
        if ids is not None and d.id not in ids:
            continue
        chosen = [tuning[(d.id + k) % len(tuning)] for k in range(min(per_dialogue,
                                                                        len(tuning)))]
        for voice in chosen + held:
            for condition in conditions:
                out.append(Plan(d, voice, condition == "noisy"))
    return out


def _ids(spec: str | None) -> set[int] | None:
    if not spec:
        return None
    out: set[int] = set()
    for part in spec.split(","):
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out


def groups(results: list[CallResult], held_voices: frozenset[str]) -> dict[str, list[CallResult]]:
    tuned = [r for r in results if not r.dialogue.held_out and r.voice not in held_voices]
    return {
        "tuning (dialogues and voices tuned on)": tuned,
        "held-out dialogues, tuning voices": [r for r in results if r.dialogue.held_out
                                              and r.voice not in held_voices],
        "held-out voice, all dialogues": [r for r in results if r.voice in held_voices],
        "held out (dialogue or voice)": [r for r in results if r.dialogue.held_out
                                         or r.voice in held_voices],
    }


def _row(name: str, f: Figures) -> str:
    acc = "-" if f.accuracy is None else f"{100 * f.accuracy:5.1f} %"
    tpb = "-" if f.turns_per_booking is None else f"{f.turns_per_booking:.1f}"
    return (f"  {name:<44} {f.correct:>3}/{f.bookable:<3} {acc:>8}  wrong {f.wrong:>2}  "
            f"invented {f.invented:>2}  repeated {f.repeated:>2}  unanswered "
            f"{f.unanswered_turns:>2}  turns/booking {tpb}")


def report(results: list[CallResult], text_ok: dict[int, bool], held_voices: frozenset[str],
           *, show_held_out: bool, mode: str, verbose: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": mode, "groups": {}}
    for condition in ("clean", "noisy", "all"):
        chosen = [r for r in results if condition == "all"
                  or (r.noisy == (condition == "noisy"))]
        if not chosen or (condition == "all" and len({r.noisy for r in results}) < 2):
            continue
        print(f"{mode}, {condition} line:")
        for name, rs in groups(chosen, held_voices).items():
            if rs:
                f = figures(rs)
                print(_row(name, f))
                out["groups"][f"{condition}: {name}"] = f.as_dict()
    print("failures" + ("" if show_held_out else " (tuning set only; --show-held-out for all)")
          + ":")
    failures = []
    for r in results:
        held = r.dialogue.held_out or r.voice in held_voices
        if not r.failed or (held and not show_held_out):
            continue
        kind = "receptionist" if not text_ok.get(r.dialogue.id, True) or mode == "text" \
            else "recognition"
        failures.append({"dialogue": r.dialogue.id, "voice": r.voice, "noisy": r.noisy,
                         "class": kind, "detail": failure_detail(r),
                         "turns": [{"said": s, "heard": h} for s, h in r.caller],
                         "agent": r.agent})
        print(f"  #{r.dialogue.id:<3} {r.voice:<32} {'noisy' if r.noisy else 'clean'}  "
              f"[{kind}] {failure_detail(r)}")
        for said, heard in r.caller:
            if said != heard:
                print(f"        said {said!r} heard {heard!r}")
        if verbose:
            for i, line in enumerate(r.agent):
                print(f"        agent: {line}")
                if i < len(r.caller):
                    print(f"        caller: {r.caller[i][1]}")
    classes = [f["class"] for f in failures]
    print(f"failure classes: recognition {classes.count('recognition')}, "
          f"receptionist {classes.count('receptionist')}")
    out["failures"] = failures
    return out


def run_offline(args: argparse.Namespace) -> int:
    from loadtest.accuracy import offline

    suite = dialogue_data.load()
    ids = _ids(args.dialogues)
    text_results = {d.id: offline.converse(d, lambda s: s, voice="text", noisy=False)
                    for d in suite.dialogues if ids is None or d.id in ids}
    text_ok = {i: not r.failed for i, r in text_results.items()}
    if args.mode == "text":
        results = list(text_results.values())
    else:
        from pipelines.local import transcribe

        # Recognition variants to measure against the product's defaults.
        transcribe.USE_PROMPT = not args.no_prompt
        transcribe.BEAM_SIZE = args.beam
        cache = Path(args.cache).expanduser()
        hearing = offline.Hearing(MODELS[args.model], cache / f"hearing-{args.model}.json",
                                  stt_threads=args.threads)
        results = []
        started = time.monotonic()
        try:
            for plan in plans(suite, args.voices.split(","), args.per_dialogue,
                              args.conditions.split(","), ids):
                results.append(offline.converse(
                    plan.dialogue, lambda s, p=plan: hearing.hear(s, p.voice, p.noisy),
                    voice=plan.voice, noisy=plan.noisy))
        finally:
            hearing.save()
        if hearing.decode_seconds:
            d = sorted(hearing.decode_seconds)
            print(f"Whisper {args.model}: {hearing.decodes} new decodes in "
                  f"{time.monotonic() - started:.0f} s; per turn p50 "
                  f"{1000 * statistics.median(d):.0f} ms, p95 "
                  f"{1000 * d[int(0.95 * (len(d) - 1))]:.0f} ms")
    out = report(results, text_ok, suite.held_out_voices, show_held_out=args.show_held_out,
                 mode=args.mode if args.mode == "text" else f"audio ({args.model})",
                 verbose=args.verbose)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("accuracy", help="booking accuracy on dialogues spoken by other "
                                        "engines' voices over a phone line")
    p.add_argument("--mode", choices=["text", "audio", "call"], default="audio")
    p.add_argument("--model", choices=sorted(MODELS), default="tiny",
                   help="Whisper model for --mode audio (call uses the server's)")
    p.add_argument("--voices", default=",".join(DEFAULT_VOICES),
                   help=f"caller voices (known: {', '.join(OTHER_ENGINE_VOICES)})")
    p.add_argument("--per-dialogue", type=int, default=1,
                   help="tuning voices per dialogue, in rotation (the held-out voice speaks "
                        "every dialogue)")
    p.add_argument("--conditions", default="clean,noisy", help="clean, noisy or both")
    p.add_argument("--dialogues", help="ids to run, e.g. 1-20,57")
    p.add_argument("--threads", type=int, default=2, help="Whisper CPU threads (audio mode)")
    p.add_argument("--no-prompt", action="store_true",
                   help="audio mode: without the domain's words as Whisper's prompt")
    p.add_argument("--beam", type=int, default=1, help="audio mode: Whisper beam size")
    p.add_argument("--cache", default="~/.cache/frontdesk-loadtest",
                   help="where what Whisper heard is kept between runs")
    p.add_argument("--show-held-out", action="store_true",
                   help="list the held-out calls' failures too (not while tuning)")
    p.add_argument("--json", help="write the figures and failures here")
    p.add_argument("--verbose", action="store_true", help="print each failed conversation")
    p.add_argument("--database-url",
                   help="call mode: PostgreSQL server to create the benchmark's database on "
                        "(default: DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/"
                        "postgres)")
    p.set_defaults(func=lambda a: run_offline(a) if a.mode != "call" else _call_mode(a))


def _call_mode(args: argparse.Namespace) -> int:
    from loadtest.accuracy import calls

    return calls.run(args)
