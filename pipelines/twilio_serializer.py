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

from frontdesk.logs import Throttled
from pipelines.call_hooks import CallHooks
from pipelines.metrics import PACING_LAG
from pipelines.playback import Playback
from pipelines.twilio_messages import MalformedMessage, decode, field

log = logging.getLogger("frontdesk.pipeline")

# A 20 ms frame is ~300 chars; Twilio never sends more than a few KB.
_MAX_MESSAGE_CHARS = 16_384
# Twilio sends 20 ms (160 bytes) per message; a second of audio in one is not Twilio.
_MAX_AUDIO_BYTES = 8000
_DTMF_DIGITS = frozenset("0123456789*#ABCD")
# One line for the first dropped message of a call, then at most one per interval.
_DROP_LOG_SECONDS = 30.0
# After a clear, agent audio still in flight (taken off the queue before it was reset) is
# dropped. A new reply cannot start this soon: the caller who barged in is still talking.
_STALE_AFTER_CLEAR_SECONDS = 0.15
# Agent audio resuming later than this after the previous packet's end is a new utterance,
# not a late packet (pacing stalls seen here were 50-300 ms).
_NEW_SPEECH_AFTER_SECONDS = 0.3


class Recorder(Protocol):
    def record(self, raw: str | bytes) -> None:
        """Keep one inbound message as received."""


class CallAudio(Protocol):
    """Both sides' μ-law audio as it crosses the wire (voice/call_audio.py)."""

    def caller(self, ulaw: bytes) -> None: ...

    def agent(self, ulaw: bytes) -> None: ...


class CallTwilioSerializer(TwilioFrameSerializer):
    """Drops malformed messages (counted, logged once), reports ``stop`` to the call and
    keeps the playback ledger: marks sent, ``clear`` sent, marks echoed."""

    def __init__(self, *args: object, hooks: CallHooks, playback: Playback,
                 recorder: Recorder | None = None, audio: CallAudio | None = None,
                 **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._hooks = hooks
        self._playback = playback
        self._recorder = recorder
        self._audio = audio
        self.malformed = 0
        self._drops = Throttled(log, _DROP_LOG_SECONDS)
        self.last_received = time.monotonic()
        self._clears = 0
        self._stale_until = 0.0
        self._due: float | None = None   # when the agent audio sent so far ends playing

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, AudioRawFrame):
            if time.monotonic() < self._stale_until:
                return None
            clears = self._clears
            payload = await super().serialize(frame)
            if clears != self._clears:
                return None  # a clear went out meanwhile
            if self._audio is not None and isinstance(payload, str):
                self._audio.agent(base64.b64decode(json.loads(payload)["media"]["payload"]))
            self._paced(frame)
            return payload
        if isinstance(frame, InterruptionFrame):
            self._clears += 1
            self._stale_until = time.monotonic() + _STALE_AFTER_CLEAR_SECONDS
            self._due = None
            self._playback.on_clear()
            self._hooks.on_clear_sent()
        elif isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            message = frame.message if isinstance(frame.message, dict) else {}
            if message.get("event") == "mark":
                self._playback.on_sent(str((message.get("mark") or {}).get("name")))
        return await super().serialize(frame)

    def _paced(self, frame: AudioRawFrame) -> None:
        """How late this packet leaves against the end of the previous one's audio. A gap
        longer than a pause between sentences starts a new stretch of speech instead."""
        now = time.monotonic()
        seconds = len(frame.audio) / (2 * frame.sample_rate * frame.num_channels)
        due = self._due
        if due is not None and now - due < _NEW_SPEECH_AFTER_SECONDS:
            PACING_LAG.observe(max(0.0, now - due))
            self._due = max(now, due) + seconds   # audio sent ahead stays ahead
        else:
            self._due = now + seconds

    async def deserialize(self, data: str | bytes) -> Frame | None:
        self.last_received = time.monotonic()
        if self._recorder is not None:
            self._recorder.record(data)
        try:
            message = decode(data, max_chars=_MAX_MESSAGE_CHARS)
        except MalformedMessage as exc:
            return self._drop(str(exc))
        event = message.get("event")
        if event == "stop":
            self._hooks.on_twilio_stop()
            return None
        if event == "mark":
            name = field(message, "mark", "name")
            if not isinstance(name, str):
                return self._drop("mark without a name")
            self._playback.on_echo(name)
            return None
        if event == "media":
            payload = field(message, "media", "payload")
            why = _bad_media(payload)
            if why:
                return self._drop(why)
            if self._audio is not None:
                self._audio.caller(base64.b64decode(str(payload)))
        elif event == "dtmf":
            digit = field(message, "dtmf", "digit")
            if not isinstance(digit, str) or digit not in _DTMF_DIGITS:
                return self._drop("dtmf without a key")
        elif event in ("connected", "start"):
            return None  # repeated opening messages change nothing
        else:
            return self._drop("unknown event")
        try:
            return await super().deserialize(data)
        except Exception as exc:  # a corrupt frame must cost one frame, not the call
            return self._drop(f"{type(exc).__name__}")

    def _drop(self, why: str) -> None:
        self.malformed += 1
        self._drops.warning("call %s: dropped a malformed stream message (%s), %d so far",
                            self._call_sid, why, self.malformed)
        return None


def _bad_media(payload: object) -> str | None:
    """Why a media payload cannot be played, or None when it can."""
    if not isinstance(payload, str) or not payload:
        return "media without payload"
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return "media payload is not base64"
    if not audio:
        return "media without audio"
    if len(audio) > _MAX_AUDIO_BYTES:
        return "media frame too long"
    return None
