"""Where the caller speaks in a recording that does not say: an energy detector.

Frames louder than ``relative`` × the loudest frame (about -26 dB) are voiced; voiced runs
closer than ``bridge_ms`` are one segment (pauses between words); segments shorter than
``min_ms`` are clicks. Good enough for synthetic or clean recorded speech; recordings
from ``synth`` carry exact segments and never need it.
"""

from __future__ import annotations

import audioop  # stdlib up to 3.12; the audioop-lts dependency provides it from 3.13

from loadtest.recording import FRAME_MS, SPEECH, Segment

FLOOR = 200.0  # RMS of 16-bit PCM below which nothing counts as speech


def frame_levels(frames: list[bytes]) -> list[float]:
    return [float(audioop.rms(audioop.ulaw2lin(f, 2), 2)) if f else 0.0 for f in frames]


def find_segments(frames: list[bytes], *, relative: float = 0.05, bridge_ms: int = 400,
                  min_ms: int = 120) -> list[Segment]:
    levels = frame_levels(frames)
    if not levels:
        return []
    threshold = max(FLOOR, relative * max(levels))
    voiced = [i for i, v in enumerate(levels) if v >= threshold]
    runs: list[list[int]] = []
    for i in voiced:
        if runs and (i - runs[-1][1]) * FRAME_MS <= bridge_ms:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return [Segment(a * FRAME_MS, (b + 1) * FRAME_MS, SPEECH) for a, b in runs
            if (b + 1 - a) * FRAME_MS >= min_ms]


def voiced_bounds(frames: list[bytes], *, relative: float = 0.03) -> tuple[int, int] | None:
    """First and last voiced frame of one utterance's frames (None if all silent)."""
    levels = frame_levels(frames)
    if not levels:
        return None
    threshold = max(100.0, relative * max(levels))
    voiced = [i for i, v in enumerate(levels) if v >= threshold]
    return (voiced[0], voiced[-1]) if voiced else None
