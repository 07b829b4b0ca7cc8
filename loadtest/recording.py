"""The recording format: one Twilio media stream as JSON Lines.

A recording is what Twilio sent to a media-stream WebSocket, one message per line, each
with its offset in milliseconds from the start of the stream::

    {"recording": 1, "source": "synth", "created": "2026-11-25T17:00:00+00:00",
     "to": "+15555550100", "from": "+15005550006", "script": "booking",
     "segments": [{"start_ms": 3500, "end_ms": 6120, "kind": "speech", "text": "..."}]}
    {"offset_ms": 0, "message": {"event": "start", "streamSid": "MZ...", "start": {...}}}
    {"offset_ms": 0, "message": {"event": "media", "media": {"payload": "/////w..."}, ...}}
    {"offset_ms": 20, "message": {"event": "media", ...}}
    {"offset_ms": 2400, "message": {"event": "dtmf", "dtmf": {"digit": "1"}, ...}}
    {"offset_ms": 9980, "message": {"event": "stop", ...}}

- The first line is a header (``"recording": 1`` is the format version). Its keys are all
  optional except the version; ``segments`` lists where the caller speaks (``kind``
  ``speech``, or ``barge_in`` for speech meant to interrupt the agent), in stream time,
  ``end_ms`` exclusive. Without segments the replayer finds the speech in the audio.
- Every other line is ``{"offset_ms": int, "message": {...}}`` with the Twilio message as
  it was on the wire (``connected``, ``start``, ``media``, ``dtmf``, ``mark``, ``stop``).
- Media is 8 kHz μ-law in base64, 20 ms (160 bytes) a message. The replayer sends media
  on an absolute 20 ms grid in file order, other messages right after the media before
  them; it writes fresh SIDs, sequence numbers and a fresh token, and answers marks live
  instead of replaying recorded ones. No call token is ever stored.

This module imports nothing of the server. The server writes the same format
(voice/recorder.py) for clients that switch recording on.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

VERSION = 1
FRAME_MS = 20
SPEECH, BARGE_IN = "speech", "barge_in"


class RecordingError(ValueError):
    """A file is not a recording in this format; the message says where."""


@dataclass(frozen=True)
class Segment:
    """Where the caller speaks, in stream time (``end_ms`` exclusive)."""

    start_ms: int
    end_ms: int
    kind: str = SPEECH
    text: str = ""


@dataclass(frozen=True)
class Entry:
    offset_ms: int
    message: dict[str, Any]

    @property
    def event(self) -> str:
        return str(self.message.get("event", ""))


@dataclass
class Recording:
    entries: list[Entry]
    header: dict[str, Any] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)

    @property
    def media(self) -> list[bytes]:
        """The μ-law payloads of every media message, in order."""
        return [media_payload(e.message) for e in self.entries if e.event == "media"]

    @property
    def duration_ms(self) -> int:
        frames = sum(1 for e in self.entries if e.event == "media")
        last = self.entries[-1].offset_ms if self.entries else 0
        return max(frames * FRAME_MS, last)

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as out:
            write_lines(out, self.header, self.segments, self.entries)
        return path


def media_payload(message: dict[str, Any]) -> bytes:
    return base64.b64decode((message.get("media") or {}).get("payload", ""))


def header(source: str, **values: Any) -> dict[str, Any]:
    return {"recording": VERSION, "source": source,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            **{k: v for k, v in values.items() if v is not None}}


def write_lines(out: IO[str], head: dict[str, Any], segments: Iterable[Segment],
                entries: Iterable[Entry]) -> None:
    head = {**head, "recording": VERSION}
    segs = [asdict(s) for s in segments]
    if segs:
        head["segments"] = segs
    out.write(json.dumps(head, separators=(",", ":")) + "\n")
    for e in entries:
        out.write(json.dumps({"offset_ms": e.offset_ms, "message": e.message},
                             separators=(",", ":")) + "\n")


def read(path: str | Path) -> Recording:
    with Path(path).open(encoding="utf-8") as lines:
        return parse(lines, name=str(path))


def parse(lines: Iterable[str], *, name: str = "recording") -> Recording:
    head: dict[str, Any] = {}
    entries: list[Entry] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordingError(f"{name}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise RecordingError(f"{name}:{number}: not a JSON object")
        if "recording" in item and not entries and not head:
            if item["recording"] != VERSION:
                raise RecordingError(f"{name}: format version {item['recording']!r},"
                                     f" this tool reads {VERSION}")
            head = item
            continue
        offset, message = item.get("offset_ms"), item.get("message")
        if not isinstance(offset, int | float) or not isinstance(message, dict):
            raise RecordingError(f"{name}:{number}: expected"
                                 ' {"offset_ms": <number>, "message": {...}}')
        entries.append(Entry(int(offset), message))
    segments = [Segment(int(s["start_ms"]), int(s["end_ms"]), str(s.get("kind", SPEECH)),
                        str(s.get("text", ""))) for s in head.pop("segments", [])]
    return Recording(entries=entries, header=head, segments=segments)


def iter_media_messages(recording: Recording) -> Iterator[dict[str, Any]]:
    return (e.message for e in recording.entries if e.event == "media")
