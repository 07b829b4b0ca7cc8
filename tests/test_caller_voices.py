"""Caller voices of other engines than the agent's, and what a phone line does to them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from loadtest import phone_line, voices


@pytest.mark.parametrize("voice", ["flite/kal16", "festival/cmu_us_slt_arctic_hts",
                                   "espeak-ng/en-us+f3"])
def test_other_engines_speak_the_line(voice: str):
    program = {"flite": "flite", "festival": "text2wave", "espeak-ng": "espeak-ng"}[
        voice.split("/")[0]]
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed (make test installs it)")
    pcm, rate = voices.synthesize("-I'd like an appointment tomorrow.", engine=voice)
    seconds = len(pcm) / 2 / rate
    assert 1.0 < seconds < 6.0 and np.abs(np.frombuffer(pcm, np.int16)).max() > 1000


def test_an_unknown_voice_is_a_clear_error():
    with pytest.raises(voices.NoVoice, match="unknown caller voice 'polly/joanna'"):
        voices.synthesize("hi", engine="polly/joanna")


def _band_energy(pcm: bytes, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm, np.int16).astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(pcm) // 2, 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_the_phone_band_keeps_300_to_3400_hz():
    rate = 16000
    t = np.arange(rate) / rate
    tones = sum(np.sin(2 * np.pi * f * t) for f in (100, 1000, 6000)) * 6000
    pcm = tones.astype(np.int16).tobytes()
    narrow = phone_line.band_pass(pcm, rate)
    kept = _band_energy(narrow, rate, 900, 1100) / _band_energy(pcm, rate, 900, 1100)
    low = _band_energy(narrow, rate, 50, 150) / _band_energy(pcm, rate, 50, 150)
    high = _band_energy(narrow, rate, 5000, 7000) / _band_energy(pcm, rate, 5000, 7000)
    assert kept > 0.95 and low < 0.01 and high < 0.01


def test_line_noise_is_at_its_level_and_the_same_for_a_seed():
    rate = 8000
    t = np.arange(2 * rate) / rate
    speech = (np.sin(2 * np.pi * 700 * t) * 8000).astype(np.int16).tobytes()
    noisy = phone_line.line_noise(speech, rate, seed=3)
    assert noisy == phone_line.line_noise(speech, rate, seed=3) != phone_line.line_noise(
        speech, rate, seed=4)
    clean = np.frombuffer(speech, np.int16).astype(float)
    noise = np.frombuffer(noisy, np.int16).astype(float) - clean
    snr = 10 * np.log10(np.mean(clean**2) / np.mean(noise**2))
    assert abs(snr - phone_line.NOISE_SNR_DB) < 1.5
