"""Reading the first messages of a Twilio media stream (``connected``, then ``start``)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

MAX_START_MESSAGE = 16_384
MAX_MESSAGES_BEFORE_START = 3


class ProtocolError(Exception):
    """The stream did not open the way Twilio opens one."""


@dataclass(frozen=True)
class StreamStart:
    call_sid: str
    stream_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


async def read_start(ws: WebSocket, within_seconds: float) -> StreamStart:
    """Skip ``connected`` and return the ``start`` event; anything else is a ProtocolError."""
    deadline = time.monotonic() + within_seconds
    for _ in range(MAX_MESSAGES_BEFORE_START):
        try:
            text = await asyncio.wait_for(ws.receive_text(),
                                          max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise ProtocolError("no start event in time") from None
        except KeyError:  # a binary frame: receive_text() finds no "text"
            raise ProtocolError("binary frame before start") from None
        if len(text) > MAX_START_MESSAGE:
            raise ProtocolError("oversized message before start")
        try:
            message = json.loads(text)
        except json.JSONDecodeError:
            raise ProtocolError("invalid JSON before start") from None
        if not isinstance(message, dict):
            raise ProtocolError("message is not a JSON object")
        event = message.get("event")
        if event == "connected":
            continue
        if event != "start":
            raise ProtocolError(f"expected start, got {str(event)[:20]!r}")
        return _parse_start(message)
    raise ProtocolError("no start event")


def _parse_start(message: dict) -> StreamStart:
    start = message.get("start")
    if not isinstance(start, dict):
        raise ProtocolError("start event without start object")
    call_sid, stream_sid = start.get("callSid"), start.get("streamSid") or message.get("streamSid")
    if not isinstance(call_sid, str) or not isinstance(stream_sid, str):
        raise ProtocolError("start without callSid or streamSid")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("customParameters is not an object")
    return StreamStart(call_sid=call_sid, stream_sid=stream_sid,
                       account_sid=str(start.get("accountSid") or ""),
                       custom_parameters={str(k): str(v) for k, v in params.items()})
