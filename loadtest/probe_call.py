"""One call as Twilio places it, with raw access to the stream: the probe's caller.

Dial with a signed ``POST /voice``, open the ``<Stream>``, send ``connected`` and
``start``, then anything at all. Marks come back when the audio before them has played, as
on Twilio. Talks to the server only over HTTP and WebSocket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from loadtest import twilio_wire as wire
from loadtest.playback import Playback

ACCOUNT_SID = "AC" + "0" * 32


@dataclass
class Dialed:
    status: int
    text: str
    instruction: wire.StreamInstruction | None

    @property
    def said(self) -> str:
        try:
            return " ".join(wire.said(self.text))
        except Exception:  # not TwiML
            return self.text[:80]


@dataclass
class ProbeCall:
    url: str
    to: str
    auth_token: str | None
    caller: str = "+14155550199"
    call_sid: str = field(default_factory=lambda: wire.new_sid("CA"))
    stream_sid: str = field(default_factory=lambda: wire.new_sid("MZ"))

    def __post_init__(self) -> None:
        self.ws: ClientConnection | None = None
        self.dialed: Dialed | None = None
        self.media_at: list[float] = []       # arrival of each agent media message
        self.events: list[str] = []
        self.t0 = 0.0                         # start sent
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self._playback = Playback()
        self._seq = 0
        self._chunk = 0
        self._reader: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def dial(self, **overrides: str) -> Dialed:
        form = wire.voice_form(call_sid=self.call_sid, to=self.to, caller=self.caller,
                               account_sid=ACCOUNT_SID) | overrides
        voice = f"{self.url}/voice"
        headers = {"X-Twilio-Signature": wire.sign(self.auth_token, voice, form)} \
            if self.auth_token else {}
        async with httpx.AsyncClient(timeout=30) as http:
            response = await http.post(voice, data=form, headers=headers)
        instruction = None
        if response.status_code == 200:
            with contextlib.suppress(Exception):
                instruction = wire.parse_twiml(response.text)
        self.dialed = Dialed(response.status_code, response.text, instruction)
        return self.dialed

    async def connect(self) -> bool:
        """Open the stream and start it; False when the socket could not be opened."""
        assert self.dialed is not None and self.dialed.instruction is not None
        instruction = self.dialed.instruction
        try:
            self.ws = await connect(instruction.url, max_size=2**22, open_timeout=10,
                                    compression=None, close_timeout=2)
        except (InvalidHandshake, OSError, TimeoutError):
            self._closed.set()
            return False
        self._reader = asyncio.create_task(self._read())
        await self.send(wire.connected())
        self.t0 = time.monotonic()
        await self.send(wire.start(stream_sid=self.stream_sid, call_sid=self.call_sid,
                                   account_sid=ACCOUNT_SID, parameters=instruction.parameters,
                                   sequence=self._next()))
        return True

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    async def send(self, data: str | bytes) -> bool:
        if self.ws is None:
            return False
        try:
            await self.ws.send(data)
        except ConnectionClosed:
            return False
        return True

    async def play(self, frames: list[bytes]) -> None:
        """20 ms μ-law frames on a real-time grid; stops when the call is over."""
        start = time.monotonic()
        for i, payload in enumerate(frames):
            if self.closed:
                return
            await self._return_marks(self._playback.due_marks(time.monotonic()))
            await self.send(wire.media(stream_sid=self.stream_sid, payload=payload,
                                       chunk=self._chunk, sequence=self._next()))
            self._chunk += 1
            delay = start + (i + 1) * wire.FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def silence(self, seconds: float) -> None:
        await self.play([wire.ULAW_SILENCE] * max(1, round(seconds * 1000 / wire.FRAME_MS)))

    async def until_closed(self, limit_seconds: float) -> bool:
        """Keep the line open (silence) until the server ends the call; True if it did."""
        deadline = time.monotonic() + limit_seconds
        while not self.closed and time.monotonic() < deadline:
            await self.silence(0.2)
        return self.closed

    async def until_agent_spoke(self, limit_seconds: float = 20.0) -> bool:
        deadline = time.monotonic() + limit_seconds
        while not self.media_at and not self.closed and time.monotonic() < deadline:
            await self.silence(0.1)
        return bool(self.media_at)

    async def hang_up(self) -> None:
        await self.send(wire.stop(stream_sid=self.stream_sid, call_sid=self.call_sid,
                                  account_sid=ACCOUNT_SID, sequence=self._next()))
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self._reader is not None:
            await self._reader

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), seconds)
        return self.closed

    def utterance_starts(self, gap: float = 0.5) -> list[float]:
        """When each run of agent media began (a new run after ``gap`` s without media)."""
        starts: list[float] = []
        for i, at in enumerate(self.media_at):
            if i == 0 or at - self.media_at[i - 1] > gap:
                starts.append(at)
        return starts

    async def _return_marks(self, names: list[str]) -> None:
        for name in names:
            await self.send(wire.mark(stream_sid=self.stream_sid, name=name,
                                      sequence=self._next()))

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                now = time.monotonic()
                try:
                    message: dict[str, Any] = json.loads(raw)
                    event = str(message.get("event"))
                except (ValueError, AttributeError):
                    continue
                self.events.append(event)
                if event == "media":
                    self.media_at.append(now)
                    payload = str((message.get("media") or {}).get("payload", ""))
                    self._playback.media(now, len(base64.b64decode(payload)))
                elif event == "mark":
                    self._playback.mark(now, str((message.get("mark") or {}).get("name")))
                elif event == "clear":
                    await self._return_marks(self._playback.clear(now))
        except ConnectionClosed:
            pass
        finally:
            self.closed_at = time.monotonic()
            self.close_code = self.ws.close_code
            self._closed.set()
