"""Reading the first messages of a Twilio media stream (``connected``, then ``start``)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from starlette.websockets import WebSocket, WebSocketDisconnect

from pipelines.twilio_messages import MalformedMessage, decode

MAX_START_MESSAGE = 16_384
MAX_MESSAGES_BEFORE_START = 3


class ProtocolError(Exception):
    """The stream did not open the way Twilio opens one."""


class Evicted(ProtocolError):
    """Closed before it started, to make room for a newer stream (see voice.stream_gate)."""


@dataclass(frozen=True)
class StreamStart:
    call_sid: str
    stream_sid: str
    account_sid: str
    custom_parameters: dict[str, str] = field(default_factory=dict)


async def read_start(ws: WebSocket, within_seconds: float,
                     evicted: asyncio.Event | None = None) -> StreamStart:
    """Skip ``connected`` and return the ``start`` event; anything else, no start within
    ``within_seconds``, or ``evicted`` being set, is a ProtocolError."""
    deadline = time.monotonic() + within_seconds
    for _ in range(MAX_MESSAGES_BEFORE_START):
        try:
            message = decode(await _next_text(ws, deadline, evicted),
                             max_chars=MAX_START_MESSAGE)
        except MalformedMessage as exc:
            raise ProtocolError(f"{exc} before start") from None
        event = message.get("event")
        if event == "connected":
            continue
        if event != "start":
            raise ProtocolError(f"expected start, got {str(event)[:20]!r}")
        return _parse_start(message)
    raise ProtocolError("no start event")


async def _next_text(ws: WebSocket, deadline: float, evicted: asyncio.Event | None) -> str | bytes:
    receive = asyncio.ensure_future(ws.receive())
    waiters: set[asyncio.Future[object]] = {receive}
    if evicted is not None:
        waiters.add(asyncio.ensure_future(evicted.wait()))
    try:
        await asyncio.wait(waiters, timeout=max(0.0, deadline - time.monotonic()),
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            if not waiter.done():
                waiter.cancel()
    if not receive.done() or receive.cancelled():
        if evicted is not None and evicted.is_set():
            raise Evicted("closed to make room for newer streams")
        raise ProtocolError("no start event in time")
    message = receive.result()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text, data = message.get("text"), message.get("bytes")
    return text if text is not None else (data or b"")


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
    account_sid = start.get("accountSid")
    return StreamStart(call_sid=call_sid, stream_sid=stream_sid,
                       account_sid=account_sid if isinstance(account_sid, str) else "",
                       custom_parameters={k: v for k, v in params.items()
                                          if isinstance(v, str)})
