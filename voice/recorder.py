"""Records a call's inbound media stream, for replay by the load tester.

The format is the load tester's (loadtest/recording.py documents it): JSON Lines, a header
line, then one Twilio message per line with its offset in ms from the stream start. Only
clients with the ``recording`` setting switched on are recorded (off by default); files go
under FRONTDESK_HOME/recordings/<client id>/<CallSid>.jsonl. The call token is never stored.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

FORMAT_VERSION = 1


def recording_path(home: Path, client_id: int, call_sid: str, suffix: str) -> Path:
    """Where a call's recordings live: the replayable stream (.jsonl), both sides (.wav)."""
    return home / "recordings" / str(client_id) / f"{call_sid}{suffix}"


async def remove_recording(path: str | None) -> None:
    """Delete a call's audio: the stereo WAV at ``path`` and the replayable stream beside it."""
    if path is None:
        return
    wav = Path(path)
    for file in (wav, wav.with_suffix(".jsonl")):
        await asyncio.to_thread(file.unlink, missing_ok=True)


class InboundRecorder:
    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._t0 = time.monotonic()

    @classmethod
    def open(cls, home: Path, *, client_id: int, call_sid: str, stream_sid: str, to: str,
             caller: str, account_sid: str) -> InboundRecorder:
        """Create the file and write the header and a token-free ``start`` (blocking)."""
        path = recording_path(home, client_id, call_sid, ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        recorder = cls(path.open("w", encoding="utf-8"))
        recorder._line({"recording": FORMAT_VERSION, "source": "server",
                        "created": datetime.now(UTC).isoformat(), "call_sid": call_sid,
                        "to": to, "from": caller})
        recorder.record(json.dumps({
            "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
            "start": {"accountSid": account_sid, "streamSid": stream_sid, "callSid": call_sid,
                      "tracks": ["inbound"], "customParameters": {},
                      "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                      "channels": 1}}}))
        return recorder

    def record(self, raw: str | bytes) -> None:
        """One inbound message, as received; anything that is not a JSON object is skipped."""
        try:
            message = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return
        if isinstance(message, dict):
            offset = round((time.monotonic() - self._t0) * 1000)
            self._line({"offset_ms": offset, "message": message})

    def _line(self, value: dict) -> None:
        self._out.write(json.dumps(value, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()
