"""Twilio's media-stream serializer, hardened: one bad message never ends the call."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from typing import Protocol

from pipecat.frames.frames import (
    AudioRawFrame,
    Frame,
    InterruptionFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.serializers.twilio import TwilioFrameSerializer

from pipelines.call_hooks import CallHooks
from pipelines.playback import Playback

log = logging.getLogger("frontdesk.pipeline")

# A 20 ms frame is ~300 chars; Twilio never sends more than a few KB.
_MAX_MESSAGE_CHARS = 64_000
# After a clear, agent audio still in flight (taken off the queue before it was reset) is
# dropped. A new reply cannot start this soon: the caller who barged in is still talking.
_STALE_AFTER_CLEAR_SECONDS = 0.15


class Recorder(Protocol):
    def record(self, raw: str | bytes) -> None:
        """Keep one inbound message as received."""


class CallTwilioSerializer(TwilioFrameSerializer):
    """Drops malformed messages (counted, logged once), reports ``stop`` to the call and
    keeps the playback ledger: marks sent, ``clear`` sent, marks echoed."""

    def __init__(self, *args: object, hooks: CallHooks, playback: Playback,
                 recorder: Recorder | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._hooks = hooks
        self._playback = playback
        self._recorder = recorder
        self.malformed = 0
        self.last_received = time.monotonic()
        self._clears = 0
        self._stale_until = 0.0

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, AudioRawFrame):
            if time.monotonic() < self._stale_until:
                return None
            clears = self._clears
            payload = await super().serialize(frame)
            return payload if clears == self._clears else None  # a clear went out meanwhile
        if isinstance(frame, InterruptionFrame):
            self._clears += 1
            self._stale_until = time.monotonic() + _STALE_AFTER_CLEAR_SECONDS
            self._playback.on_clear()
        elif isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            message = frame.message if isinstance(frame.message, dict) else {}
            if message.get("event") == "mark":
                self._playback.on_sent(str((message.get("mark") or {}).get("name")))
        return await super().serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        self.last_received = time.monotonic()
        if self._recorder is not None:
            self._recorder.record(data)
        if len(data) > _MAX_MESSAGE_CHARS:
            return self._drop("oversized message")
        try:
            message = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._drop("invalid JSON")
        if not isinstance(message, dict):
            return self._drop("not a JSON object")
        event = message.get("event")
        if event == "stop":
            self._hooks.on_twilio_stop()
            return None
        if event == "mark":
            name = (message.get("mark") or {}).get("name")
            if isinstance(name, str):
                self._playback.on_echo(name)
            return None
        if event == "media":
            payload = (message.get("media") or {}).get("payload")
            if not isinstance(payload, str):
                return self._drop("media without payload")
            try:
                base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return self._drop("media payload is not base64")
        try:
            return await super().deserialize(data)
        except Exception as exc:  # a corrupt frame must cost one frame, not the call
            return self._drop(f"{type(exc).__name__}")

    def _drop(self, why: str) -> None:
        self.malformed += 1
        if self.malformed == 1 or self.malformed % 100 == 0:
            log.warning("call %s: dropped malformed stream message (%s), %d so far",
                        self._call_sid, why, self.malformed)
        return None
