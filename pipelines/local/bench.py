"""Measure the offline models on this machine: ``python -m pipelines.local.bench``.

Prints load time, Whisper latency per utterance (caller speech through 8 kHz
μ-law), Piper time to first audio, and RSS. ``--window`` adds word error and time of
the turn-sized Whisper window against the full 30 s one. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13
import resource
import statistics
import time

import numpy as np
import soxr

from pipelines.local import transcribe
from pipelines.local.models import VOICE_JOE, WHISPER_TINY_EN, LocalModels
from pipelines.local.piper_tts import _next_pcm

UTTERANCES = [
    "Hi, I would like to book an appointment for tomorrow afternoon.",
    "Do you have anything available on Friday morning?",
    "My name is John Smith.",
    "Can I come in at three thirty?",
    "Yes, that works for me, thank you.",
    "I need to cancel my appointment next week.",
    "What are your opening hours on Saturday?",
    "Could you move it to the following Tuesday instead?",
    "No, that's everything. Goodbye.",
    "Is there a parking lot near your office?",
]
# Caller turns for --window: the utterances above and thirty more, each also paired
# with the next one into a 4-8 s turn.
MORE_TURNS = [
    "Tomorrow at three please.", "Next Friday morning if possible.",
    "The fourteenth at ten in the morning.", "No, make it four o'clock.",
    "It's Maria Gonzalez.", "My name is Priya Patel.", "Do you take insurance?",
    "How much does a cleaning cost?", "Yes please.", "No thanks.",
    "That's all, thank you. Goodbye.", "I'd like to see the dentist on Monday.",
    "What times do you have on Wednesday?", "Can I get something at nine thirty?",
    "Actually, I can't make it, please cancel.", "Could I leave a message for the doctor?",
    "Is the office open on Sunday?", "I want to book a checkup for my son.",
    "Can you do half past two?", "Sorry, I meant Thursday, not Tuesday.",
    "My number is five five five, one two three, four five six seven.",
    "Hello? Are you there?", "Great, see you then.", "Book me in for eleven.",
    "Anything later in the day?", "What's the earliest you have?",
    "I'm running late, can I reschedule?", "Do you have any openings this week?",
    "Perfect, bye.", "Um, yeah, I guess tomorrow works.",
]
# Gaussian line noise, 16-bit RMS: none, audible hiss, a bad line.
NOISE_LEVELS = (0, 600, 1500)
REPLY = "Your appointment is booked for tomorrow at ten. Is there anything else I can help with?"


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kb / 1024


def _phone_line(models: LocalModels, text: str) -> bytes:
    """Caller speech (Piper, slower pace) at 8 kHz after a μ-law round trip."""
    from piper.config import SynthesisConfig

    voice = models.voice(VOICE_JOE)
    chunks = voice.synthesize(text, SynthesisConfig(length_scale=1.15))
    pcm = b"".join(c.audio_int16_bytes for c in chunks)
    pcm8 = soxr.resample(np.frombuffer(pcm, np.int16), voice.config.sample_rate, 8000)
    ulaw = audioop.lin2ulaw(np.asarray(pcm8, np.int16).tobytes(), 2)
    return audioop.ulaw2lin(ulaw, 2)


async def _bench(args: argparse.Namespace) -> None:
    rss0 = _rss_mb()
    start = time.perf_counter()
    models = LocalModels.load(
        stt_models={args.stt_model},
        tts_voices={VOICE_JOE},
        stt_threads=args.threads,
        stt_workers=args.workers,
        warm_up=False,
    )
    loaded = time.perf_counter()
    models.warm_up()
    warm = time.perf_counter()
    print(f"load {loaded - start:.2f} s, warm-up {warm - loaded:.2f} s")
    print(f"RSS {rss0:.0f} MB before load, {_rss_mb():.0f} MB after")

    stt: list[float] = []
    for text in UTTERANCES:
        audio = _phone_line(models, text)
        t0 = time.perf_counter()
        heard = await models.transcribe(audio, sample_rate=8000, model=args.stt_model)
        stt.append(time.perf_counter() - t0)
        print(f"  {stt[-1]:.2f} s  {len(audio) / 16000:.1f} s audio  {heard!r}")
    print(f"STT {args.stt_model}: median {statistics.median(stt):.2f} s, max {max(stt):.2f} s")

    loop = asyncio.get_running_loop()
    first: list[float] = []
    total: list[float] = []
    for _ in range(10):
        t0 = time.perf_counter()
        chunks = iter(models.voice(VOICE_JOE).synthesize(REPLY))
        await loop.run_in_executor(models.tts_executor, _next_pcm, chunks, 8000)
        first.append(time.perf_counter() - t0)
        while await loop.run_in_executor(models.tts_executor, _next_pcm, chunks, 8000):
            pass
        total.append(time.perf_counter() - t0)
    print(
        f"TTS first audio: median {statistics.median(first):.3f} s, max {max(first):.3f} s;"
        f" whole two-sentence reply median {statistics.median(total):.3f} s"
    )
    if args.window:
        _compare_windows(models, args.stt_model)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS {_rss_mb():.0f} MB at end, peak {peak:.0f} MB")
    models.close()


def _compare_windows(models: LocalModels, model: str) -> None:
    """Word error and time, turn-sized window vs the full 30 s one, on the same audio."""
    try:
        import jiwer
    except ImportError:
        raise SystemExit("--window needs jiwer: pip install 'frontdesk[test]'") from None

    whisper = models.whisper(model)
    short = UTTERANCES + MORE_TURNS
    turns = short + [f"{a} {b}" for a, b in zip(short[::2], short[1::2], strict=True)]
    rng = np.random.default_rng(0)
    normalise = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(),
                               jiwer.RemoveMultipleSpaces(), jiwer.Strip(),
                               jiwer.ReduceToListOfListOfWords()])
    print(f"Whisper window vs full window, {model}: {len(turns)} turns per noise level")
    for level in NOISE_LEVELS:
        said: list[str] = []
        heard: dict[str, list[str]] = {"window": [], "full": []}
        took: dict[str, list[float]] = {"window": [], "full": []}
        for text in turns:
            clean = np.frombuffer(_phone_line(models, text), np.int16)
            noisy = (clean + rng.normal(0, level, clean.size)).clip(-32768, 32767)
            pcm = noisy.astype(np.int16).tobytes()
            said.append(text)
            # min_window_s=30 leaves no shorter window: faster-whisper's own full decode.
            for name, min_window_s in (("window", transcribe.MIN_WINDOW_S),
                                       ("full", transcribe.FULL_WINDOW_S)):
                t0 = time.perf_counter()
                heard[name].append(transcribe.transcribe_sync(
                    whisper, pcm, 8000, min_window_s=min_window_s))
                took[name].append(time.perf_counter() - t0)
        figures = []
        for name in ("window", "full"):
            error = jiwer.wer(said, heard[name], reference_transform=normalise,
                              hypothesis_transform=normalise)
            figures.append(f"{name} WER {100 * error:.1f} %, "
                           f"median {statistics.median(took[name]):.3f} s")
        ratio = statistics.median(w / f for w, f in zip(took["window"], took["full"], strict=True))
        print(f"  noise {level:>4}: {'; '.join(figures)}; window/full time {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stt-model", default=WHISPER_TINY_EN)
    parser.add_argument("--threads", type=int, default=2, help="Whisper CPU threads")
    parser.add_argument("--workers", type=int, default=1, help="STT pool size")
    parser.add_argument("--window", action="store_true",
                        help="compare the turn-sized Whisper window with the full one")
    asyncio.run(_bench(parser.parse_args()))


if __name__ == "__main__":
    main()
