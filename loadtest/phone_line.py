"""What a telephone line does to a caller's voice before Twilio sends it.

A narrow-band call carries roughly 300-3400 Hz; a bad line adds hiss and hum on top.
Both are applied to 16-bit mono PCM at any rate, before the 8 kHz μ-law encoding of
``voices.to_ulaw_frames``. Deterministic for a given ``seed``, so a benchmark's noisy
calls are the same on every run.
"""

from __future__ import annotations

import numpy as np

PHONE_BAND_HZ = (300.0, 3400.0)
# Each band edge fades over this many Hz rather than cutting a brick wall into the spectrum.
EDGE_HZ = 100.0
# Line noise: band-limited hiss at this signal-to-noise ratio, plus mains hum.
NOISE_SNR_DB = 25.0
HUM_HZ = 60.0
HUM_LEVEL = 0.02  # of the speech RMS, before the band-pass removes most of it


def band_pass(pcm: bytes, rate: int, band: tuple[float, float] = PHONE_BAND_HZ) -> bytes:
    """``pcm`` limited to the telephone band (an FFT mask with soft edges)."""
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    if audio.size == 0:
        return pcm
    return _to_pcm(_mask(audio, rate, band))


def line_noise(pcm: bytes, rate: int, *, snr_db: float = NOISE_SNR_DB, seed: int = 0) -> bytes:
    """``pcm`` with the hiss and hum of a poor line, both inside the telephone band."""
    audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    if audio.size == 0:
        return pcm
    rng = np.random.default_rng(seed)
    level = speech_level(audio, default=1000.0)
    hiss = _mask(rng.normal(0.0, 1.0, audio.size), rate, PHONE_BAND_HZ)
    hiss *= level / (10 ** (snr_db / 20)) / max(float(np.sqrt(np.mean(hiss**2))), 1e-9)
    t = np.arange(audio.size) / rate
    hum = HUM_LEVEL * level * (np.sin(2 * np.pi * HUM_HZ * t)
                               + 0.5 * np.sin(2 * np.pi * 3 * HUM_HZ * t))
    return _to_pcm(audio + hiss + hum)


def speech_level(audio: np.ndarray, *, default: float) -> float:
    """RMS of the samples louder than 5 % of the peak: the voice, not the pauses around it."""
    voiced = audio[np.abs(audio) > 0.05 * np.abs(audio).max()] if audio.any() else audio
    return float(np.sqrt(np.mean(voiced**2))) if voiced.size else default


def phone(pcm: bytes, rate: int, *, noisy: bool = False, seed: int = 0) -> bytes:
    """The caller as the far end hears them: band-passed, and noisy when ``noisy``."""
    narrow = band_pass(pcm, rate)
    return line_noise(narrow, rate, seed=seed) if noisy else narrow


def _mask(audio: np.ndarray, rate: int, band: tuple[float, float]) -> np.ndarray:
    spectrum = np.fft.rfft(audio)
    freqs = np.fft.rfftfreq(audio.size, 1 / rate)
    low, high = band
    gain = np.clip((freqs - (low - EDGE_HZ)) / EDGE_HZ, 0, 1) * np.clip(
        ((high + EDGE_HZ) - freqs) / EDGE_HZ, 0, 1)
    return np.fft.irfft(spectrum * gain, n=audio.size)


def _to_pcm(audio: np.ndarray) -> bytes:
    return np.clip(np.round(audio), -32768, 32767).astype(np.int16).tobytes()
