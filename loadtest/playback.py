"""Twilio's side of the agent's audio: the playback buffer, and when marks come back.

Twilio plays outbound media back to back: a packet starts playing when it arrives or when
the audio queued before it ends, whichever is later. A ``mark`` is returned once the audio
sent before it has finished playing; a ``clear`` drops the queued audio and returns every
pending mark at once. Times are seconds on the caller's monotonic clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RATE = 8000  # μ-law: one byte per sample


@dataclass
class Playback:
    play_end: float = 0.0  # when the queued audio runs out
    pending: list[tuple[float, str]] = field(default_factory=list)  # (due, mark name)

    def media(self, at: float, audio_bytes: int) -> None:
        self.play_end = max(at, self.play_end) + audio_bytes / RATE

    def mark(self, at: float, name: str) -> None:
        self.pending.append((max(at, self.play_end), name))

    def clear(self, at: float) -> list[str]:
        """Drop the queue; the names of all pending marks, to return now, in order."""
        names = [name for _, name in self.pending]
        self.pending.clear()
        self.play_end = min(self.play_end, at)
        return names

    def due_marks(self, now: float) -> list[str]:
        """Marks whose audio has played by ``now`` (removed), in the order received."""
        due = [name for at, name in self.pending if at <= now]
        if due:
            self.pending = [(at, name) for at, name in self.pending if at > now]
        return due

    def playing(self, at: float) -> bool:
        return self.play_end > at
