"""Both sides of a call as one stereo WAV (caller left, agent right), written as it runs.

Twilio streams the caller continuously (silence included) in 20 ms messages, so the caller's
channel is its messages in order and its length is the call's clock. The agent's audio goes
out as it is due (Pipecat paces its output in real time); each chunk is placed at the
caller's clock when it is sent, or right after the agent's previous chunk if that ends
later. Audio both channels have passed is final: it is written out about once a second, so
a call holds a second or two in memory however long it runs.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 8000
FLUSH_SAMPLES = RATE
_SILENCE = 0xFF          # μ-law zero


def _ulaw_to_pcm16() -> np.ndarray:
    """G.711 μ-law decoding table: the 256 byte values as 16-bit samples."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    return np.where(u & 0x80, 0x84 - magnitude, magnitude - 0x84).astype("<i2")


_PCM = _ulaw_to_pcm16()


class CallAudioRecorder:
    def __init__(self, path: Path) -> None:
        """Create the file (blocking)."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115 (open for the whole call)
        self._wav.setnchannels(2)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self._written = 0                 # samples per channel already in the file
        self._caller = bytearray()        # μ-law from _written on
        self._agent = bytearray()
        self._closed = False

    @property
    def _caller_end(self) -> int:
        return self._written + len(self._caller)

    def caller(self, ulaw: bytes) -> None:
        self._caller += ulaw
        if len(self._caller) >= FLUSH_SAMPLES:
            self._flush(self._caller_end)

    def agent(self, ulaw: bytes) -> None:
        start = max(self._written + len(self._agent), self._caller_end)
        self._agent += bytes([_SILENCE]) * (start - self._written - len(self._agent))
        self._agent += ulaw

    def _flush(self, upto: int) -> None:
        n = upto - self._written
        if n <= 0 or self._closed:
            return
        frames = np.empty((n, 2), dtype="<i2")
        for channel, buffer in enumerate((self._caller, self._agent)):
            if len(buffer) < n:
                buffer += bytes([_SILENCE]) * (n - len(buffer))
            frames[:, channel] = _PCM[np.frombuffer(buffer, dtype=np.uint8, count=n)]
            del buffer[:n]
        self._wav.writeframes(frames.tobytes())
        self._written = upto

    def close(self) -> None:
        """Write what is left and the final header (blocking)."""
        if self._closed:
            return
        self._flush(max(self._caller_end, self._written + len(self._agent)))
        self._closed = True
        self._wav.close()
