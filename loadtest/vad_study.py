"""``python -m loadtest.vad_study``: what a VAD setting does to barge-in, offline.

The server's Silero VAD (``pipelines.shared_vad``) is run window by window on caller lines
from several speech engines, through the phone band, clean and with line noise, exactly as
the user aggregator runs it on a call. For each setting it prints:

- **onset**: the first voiced 20 ms frame → the VAD's "speaking" (what a barge-in waits
  for before Pipecat can interrupt the agent);
- **stop**: the last voiced frame → "quiet" (the start of the end-of-turn wait);
- **false starts**: "speaking" reached on what is not the caller's speech: noise bursts of
  60-250 ms (knocks, rustles), clicks and breaths at speech level or below, over a clean
  and a noisy line. Background speech (another voice 10-20 dB down) is counted apart: it
  starts every setting alike, being speech.

Settings are ``START_SECS/MIN_VOLUME`` pairs (``--settings 0.2/0.6,0.1/0.4``); confidence
and stop_secs stay the product's.
"""

from __future__ import annotations

import argparse
import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13
import statistics
from collections.abc import Iterable

import numpy as np

from loadtest import phone_line, voices
from loadtest.segments import voiced_bounds

RATE = voices.PHONE_RATE
FRAME = 160  # samples: 20 ms at 8 kHz
LINES = ("Sorry to interrupt, can I book an appointment tomorrow at ten?",
         "Hold on, I need Thursday instead.", "Wait, wait.", "No, that's wrong.",
         "Actually make it four.", "Excuse me, one question.")
ENGINES = ("piper", "flite/kal16", "festival/cmu_us_slt_arctic_hts", "espeak-ng/en-us+m3")
BACKGROUND = ("Did you see the game last night, it was great.", "Put the kettle on, would you.")


def vad_states(pcm: bytes, start_secs: float, min_volume: float) -> list[str]:
    """The VAD's state after each 20 ms frame of 8 kHz PCM."""
    from pipecat.audio.vad.vad_analyzer import VADParams

    from pipelines.inbound import VAD
    from pipelines.shared_vad import SharedSileroVADAnalyzer

    params = VADParams(confidence=VAD.confidence, start_secs=start_secs,
                       stop_secs=VAD.stop_secs, min_volume=min_volume)
    vad = SharedSileroVADAnalyzer(sample_rate=RATE, params=params)
    vad.set_sample_rate(RATE)
    step = FRAME * 2
    return [vad._run_analyzer(pcm[i:i + step]).name for i in range(0, len(pcm), step)]


def _caller_line(text: str, engine: str, noisy: bool) -> tuple[bytes, int, int]:
    """A line with 0.5 s of line before and 1.2 s after; its first and last voiced frame."""
    pcm, rate = voices.synthesize(text, engine=engine)
    speech = np.frombuffer(voices.resample(pcm, rate, RATE), np.int16)
    audio = np.concatenate([np.zeros(RATE // 2, np.int16), speech,
                            np.zeros(RATE * 6 // 5, np.int16)]).tobytes()
    line = audioop.ulaw2lin(audioop.lin2ulaw(phone_line.phone(audio, RATE, noisy=noisy), 2), 2)
    clean = audioop.lin2ulaw(audio, 2)
    bounds = voiced_bounds([clean[i:i + FRAME] for i in range(0, len(clean), FRAME)])
    if bounds is None:
        raise ValueError(f"{engine} said nothing audible for {text!r}")
    return line, bounds[0], bounds[1]


def _not_speech(level: float, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    def burst(ms: int, db: float, kind: str) -> np.ndarray:
        n = RATE * ms // 1000
        if kind == "click":
            x = np.zeros(n)
            x[:: max(1, n // 3)] = 8.0
        else:
            x = rng.normal(0.0, 1.0, n)
            if kind == "breath":
                x = np.convolve(x, np.ones(8) / 8, "same")
            x *= np.hanning(n)
        return x * level * 10 ** (db / 20) / max(float(np.sqrt(np.mean(x**2))), 1e-9)

    out = [(f"noise {ms} ms {db} dB", burst(ms, db, "noise"))
           for db in (0, -6) for ms in (60, 100, 150, 250)]
    out += [(f"clicks {db} dB", burst(40, db, "click")) for db in (0, 6)]
    out += [(f"breath {db} dB", burst(400, db, "breath")) for db in (-10, -20)]
    return out


def false_starts(settings: Iterable[tuple[float, float]]) -> dict[tuple[float, float], dict]:
    """Per setting and line (clean, noisy): starts on non-speech, and on background speech."""
    rng = np.random.default_rng(1)
    ref = np.frombuffer(voices.resample(*voices.synthesize(LINES[0], engine="piper"), RATE),
                        np.int16).astype(np.float64)
    level = phone_line.speech_level(ref, default=1.0)
    events = _not_speech(level, rng)
    for db in (-20, -14, -10):
        for text in BACKGROUND:
            b = np.frombuffer(voices.resample(*voices.synthesize(text, engine="espeak-ng/en-us+f3"),
                                              RATE), np.int16).astype(np.float64)
            b_level = phone_line.speech_level(b, default=1.0)
            events.append((f"background speech {db} dB", b * level * 10 ** (db / 20) / b_level))
    gap = np.zeros(RATE * 3 // 2)
    # The caller's own line first, so the line noise is scaled to a voice, then the events.
    parts, spans, pos = [ref, gap], [], len(ref) + len(gap)
    for name, signal in events:
        spans.append((name, pos, pos + len(signal) + RATE * 3 // 10))
        parts += [signal, gap]
        pos += len(signal) + len(gap)
    pcm = np.clip(np.concatenate(parts), -32768, 32767).astype(np.int16).tobytes()
    results: dict[tuple[float, float], dict] = {}
    for setting in settings:
        row: dict[str, list[str]] = {}
        for noisy in (False, True):
            line = audioop.ulaw2lin(
                audioop.lin2ulaw(phone_line.phone(pcm, RATE, noisy=noisy, seed=3), 2), 2)
            states = vad_states(line, *setting)
            starts = [k * FRAME for k in range(1, len(states))
                      if states[k] == "SPEAKING" and states[k - 1] != "SPEAKING"]
            hit = [next((n for n, a, b in spans if a <= x <= b), "line noise") for x in starts
                   if x > len(ref) + RATE * 3 // 10]
            row["noisy" if noisy else "clean"] = hit
        results[setting] = row
    return results


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m loadtest.vad_study")
    ap.add_argument("--settings", default="0.2/0.6,0.1/0.6,0.1/0.4",
                    help="START_SECS/MIN_VOLUME pairs, comma-separated")
    ap.add_argument("--engines", default=",".join(ENGINES))
    args = ap.parse_args()
    settings = [(float(a), float(b)) for a, b in
                (s.split("/") for s in args.settings.split(","))]
    onset: dict[tuple[float, float], list[int]] = {s: [] for s in settings}
    stop: dict[tuple[float, float], list[int]] = {s: [] for s in settings}
    missed = dict.fromkeys(settings, 0)
    for engine in args.engines.split(","):
        for text in LINES:
            for noisy in (False, True):
                line, first, last = _caller_line(text, engine, noisy)
                for s in settings:
                    states = vad_states(line, *s)
                    on = next((k for k in range(first, len(states))
                               if states[k] == "SPEAKING"), None)
                    off = next((k for k in range(last, len(states)) if states[k] == "QUIET"),
                               None)
                    if on is None:
                        missed[s] += 1
                        continue
                    onset[s].append((on + 1 - first) * 20)
                    if off is not None:
                        stop[s].append((off - last) * 20)
    fs = false_starts(settings)
    for s in settings:
        o, st = sorted(onset[s]), sorted(stop[s])
        p95 = o[min(len(o) - 1, round(0.95 * (len(o) - 1)))] if o else None
        row = fs[s]
        other = {k: [n for n in v if not n.startswith("background")] for k, v in row.items()}
        background = sum(len(v) - len(other[k]) for k, v in row.items())
        print(f"start {s[0]:g} s, min_volume {s[1]:g}: onset p50 "
              f"{statistics.median(o) if o else '-'} ms, p95 {p95} ms, max {max(o, default='-')}"
              f" ms over {len(o)} lines ({missed[s]} never heard); stop p50 "
              f"{statistics.median(st) if st else '-'} ms; false starts clean "
              f"{len(other['clean'])} {other['clean']}, noisy {len(other['noisy'])} "
              f"{other['noisy']}; background speech starts {background}")


if __name__ == "__main__":
    main()
