"""One replayed call, placed the way Twilio places it, and its raw trace.

Dial: a signed ``POST /voice`` with Twilio's form fields. Stream: open the TwiML
``<Stream>`` URL, send ``connected`` and ``start`` (with the ``<Parameter>``s), then the
recording on its 20 ms grid, answering marks as Twilio does, then ``stop``. Everything
the server sends is timestamped; ``metrics.analyze`` turns the trace into figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from loadtest import twilio_wire as wire
from loadtest.pacing import Pacer, Step
from loadtest.playback import Playback
from loadtest.recording import FRAME_MS, Segment

CLOSE_TIMEOUT_SECONDS = 2.0


@dataclass
class Received:
    at: float
    event: str
    audio_bytes: int = 0  # media: μ-law bytes (= samples at 8 kHz)
    name: str = ""        # mark: its name


@dataclass
class CallTrace:
    """What happened on one call, on the caller's monotonic clock (seconds)."""

    call_sid: str
    segments: list[Segment]
    frames_planned: int
    dialed_at: float = 0.0
    voice_status: int | None = None
    voice_at: float | None = None       # /voice answered
    refusal: str | None = None          # what /voice said before hanging up, or the close
    ws_open_at: float | None = None
    t0: float | None = None             # ``start`` sent: stream time zero
    sent: list[float] = field(default_factory=list)   # media frame k actually sent at
    lateness: list[float] = field(default_factory=list)  # per frame: sent − due (s)
    received: list[Received] = field(default_factory=list)
    marks_returned: list[tuple[float, str]] = field(default_factory=list)
    closed_at: float | None = None
    close_code: int | None = None
    close_reason: str = ""
    ended_by: str | None = None         # "caller" (we sent stop) or "agent" (server closed)
    error: str | None = None

    def frame_sent_at(self, frame: int) -> float | None:
        return self.sent[frame] if 0 <= frame < len(self.sent) else None


@dataclass(frozen=True)
class Dialing:
    """Where and as whom to call."""

    url: str                     # server base URL, as Twilio's webhook would reach it
    to: str
    caller: str = "+15005550006"
    auth_token: str | None = None  # signs X-Twilio-Signature; None sends no signature
    account_sid: str = field(default_factory=lambda: wire.new_sid("AC"))
    ws_url: str | None = None    # replace the TwiML <Stream> URL's scheme://host[:port]


def _media_json(stream_sid: str, payload_b64: str, frame: int, seq: int) -> str:
    return json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": stream_sid,
                       "media": {"track": "inbound", "chunk": str(frame + 1),
                                 "timestamp": str(frame * FRAME_MS), "payload": payload_b64}},
                      separators=(",", ":"))


def _b64_len(payload: str) -> int:
    return len(payload) * 3 // 4 - (2 if payload.endswith("==") else
                                    1 if payload.endswith("=") else 0)


async def replay_call(steps: list[Step], segments: list[Segment], dialing: Dialing, *,
                      http: httpx.AsyncClient, on_event: Callable[[str], None] | None = None,
                      clock: Callable[[], float] = time.monotonic) -> CallTrace:
    """Place one call and replay ``steps``; never raises for what the server does."""
    frames = sum(1 for s in steps if s.frame is not None)
    trace = CallTrace(call_sid=wire.new_sid("CA"), segments=segments, frames_planned=frames)
    try:
        instruction = await _dial(trace, dialing, http, clock)
        if instruction is not None:
            await _stream(trace, steps, dialing, instruction, on_event or (lambda _e: None),
                          clock)
    except (httpx.HTTPError, OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
        trace.error = f"{type(exc).__name__}: {exc}"[:300]
    except Exception as exc:  # one broken call is a figure, never the end of a load test
        trace.error = f"unexpected {type(exc).__name__}: {exc}"[:300]
    return trace


async def _dial(trace: CallTrace, d: Dialing, http: httpx.AsyncClient,
                clock: Callable[[], float]) -> wire.StreamInstruction | None:
    voice_url = f"{d.url.rstrip('/')}/voice"
    form = wire.voice_form(call_sid=trace.call_sid, to=d.to, caller=d.caller,
                           account_sid=d.account_sid)
    headers = {"X-Twilio-Signature": wire.sign(d.auth_token, voice_url, form)} \
        if d.auth_token else {}
    trace.dialed_at = clock()
    response = await http.post(voice_url, data=form, headers=headers)
    trace.voice_at, trace.voice_status = clock(), response.status_code
    if response.status_code != 200:
        trace.error = f"POST /voice: {response.status_code} {response.text.strip()[:120]}"
        return None
    try:
        instruction = wire.parse_twiml(response.text)
    except Exception as exc:  # ElementTree's ParseError among others
        trace.error = f"POST /voice answered something that is not TwiML: {exc}"
        return None
    if instruction is None:
        trace.refusal = " ".join(wire.said(response.text)) or "hung up"
        return None
    if d.ws_url:
        path = instruction.url.split("://", 1)[-1].split("/", 1)[-1]
        instruction = wire.StreamInstruction(f"{d.ws_url.rstrip('/')}/{path}",
                                             instruction.parameters)
    return instruction


async def _stream(trace: CallTrace, steps: list[Step], d: Dialing,
                  instruction: wire.StreamInstruction, on_event: Callable[[str], None],
                  clock: Callable[[], float]) -> None:
    # Twilio offers no compression; neither do we (it would change the server's CPU bill).
    ws = await connect(instruction.url, max_size=2**22, open_timeout=10, compression=None,
                       close_timeout=CLOSE_TIMEOUT_SECONDS)
    trace.ws_open_at = clock()
    stream_sid = wire.new_sid("MZ")
    playback = Playback()
    seq = 1
    closed = asyncio.Event()

    async def send(text: str) -> bool:
        try:
            await ws.send(text)
        except ConnectionClosed:
            return False
        return True

    async def return_marks(names: list[str]) -> None:
        nonlocal seq
        for name in names:
            seq += 1
            trace.marks_returned.append((clock(), name))
            await send(wire.mark(stream_sid=stream_sid, name=name, sequence=seq))

    async with ws:
        await send(wire.connected())
        trace.t0 = clock()
        await send(wire.start(stream_sid=stream_sid, call_sid=trace.call_sid,
                              account_sid=d.account_sid, parameters=instruction.parameters,
                              sequence=seq))
        reader = asyncio.create_task(_read(ws, trace, playback, closed, return_marks,
                                           on_event, clock))
        pacer = Pacer(trace.t0, clock=clock)
        try:
            for step in steps:
                late = await pacer.wait(step.due_ms)
                if closed.is_set():
                    break
                await return_marks(playback.due_marks(clock()))
                seq += 1
                if step.frame is not None:
                    payload = (step.message.get("media") or {}).get("payload", "")
                    ok = await send(_media_json(stream_sid, payload, step.frame, seq))
                    trace.sent.append(clock())
                    trace.lateness.append(late)
                elif step.event == "dtmf":
                    digit = str((step.message.get("dtmf") or {}).get("digit", ""))
                    ok = await send(wire.dtmf(stream_sid=stream_sid, digit=digit, sequence=seq))
                else:
                    ok = await send(json.dumps({**step.message, "streamSid": stream_sid,
                                                "sequenceNumber": str(seq)}))
                if not ok:
                    break
            if not closed.is_set():
                trace.ended_by = "caller"
                seq += 1
                await send(wire.stop(stream_sid=stream_sid, call_sid=trace.call_sid,
                                     account_sid=d.account_sid, sequence=seq))
        finally:
            with contextlib.suppress(Exception):
                await ws.close()
            await reader
    on_event("ended")


async def _read(ws: ClientConnection, trace: CallTrace, playback: Playback,
                closed: asyncio.Event, return_marks: Any, on_event: Callable[[str], None],
                clock: Callable[[], float]) -> None:
    try:
        async for raw in ws:
            at = clock()
            try:
                message = json.loads(raw)
                event = str(message.get("event", ""))
            except (ValueError, AttributeError):
                trace.received.append(Received(at, "invalid"))
                continue
            if event == "media":
                n = _b64_len(str((message.get("media") or {}).get("payload", "")))
                playback.media(at, n)
                trace.received.append(Received(at, event, audio_bytes=n))
            elif event == "mark":
                name = str((message.get("mark") or {}).get("name", ""))
                playback.mark(at, name)
                trace.received.append(Received(at, event, name=name))
            elif event == "clear":
                trace.received.append(Received(at, event))
                await return_marks(playback.clear(at))
            else:
                trace.received.append(Received(at, event or "unknown"))
            on_event(event)
    except ConnectionClosed:
        pass
    finally:
        trace.closed_at = clock()
        trace.close_code = ws.close_code
        trace.close_reason = ws.close_reason or ""
        if trace.ended_by is None:
            trace.ended_by = "agent"
        closed.set()
