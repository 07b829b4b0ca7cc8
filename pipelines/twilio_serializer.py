"""Twilio's media-stream serializer, hardened: one bad message never ends the call."""

from __future__ import annotations

import base64
import binascii
import json
import logging

from pipecat.frames.frames import Frame
from pipecat.serializers.twilio import TwilioFrameSerializer

from pipelines.call_hooks import CallHooks

log = logging.getLogger("frontdesk.pipeline")

_MAX_MESSAGE_CHARS = 64_000  # a 20 ms frame is ~300 chars; Twilio never sends more than a few KB


class CallTwilioSerializer(TwilioFrameSerializer):
    """Drops malformed messages (counted, logged once) and reports ``stop`` to the call."""

    def __init__(self, *args: object, hooks: CallHooks, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._hooks = hooks
        self.malformed = 0

    async def deserialize(self, data: str | bytes) -> Frame | None:
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
