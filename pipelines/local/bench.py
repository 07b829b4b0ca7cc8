"""Measure the offline models on this machine: ``python -m pipelines.local.bench``.

Prints load time, Whisper latency per utterance (caller speech through 8 kHz
μ-law), Piper time to first audio, and RSS. A benchmark, not a test.
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
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"RSS {_rss_mb():.0f} MB at end, peak {peak:.0f} MB")
    models.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stt-model", default=WHISPER_TINY_EN)
    parser.add_argument("--threads", type=int, default=2, help="Whisper CPU threads")
    parser.add_argument("--workers", type=int, default=1, help="STT pool size")
    asyncio.run(_bench(parser.parse_args()))


if __name__ == "__main__":
    main()
