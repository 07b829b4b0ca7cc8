"""A fake Twilio: dials /voice with a signed webhook and plays a caller over the media stream."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from loadtest import twilio_wire as wire
from tests.live import ACCOUNT_SID, AUTH_TOKEN

QUIET_AFTER_AGENT_SECONDS = 0.5


@dataclass
class Received:
    at: float
    message: dict[str, Any]


@dataclass
class FakeCall:
    """One call as Twilio would place it. ``received`` holds every server message."""

    base_url: str
    to: str
    caller: str = "+15005550006"
    auth_token: str = AUTH_TOKEN
    call_sid: str = field(default_factory=lambda: wire.new_sid("CA"))
    stream_sid: str = field(default_factory=lambda: wire.new_sid("MZ"))
    received: list[Received] = field(default_factory=list)
    close_code: int | None = None
    instruction: wire.StreamInstruction | None = None
    twiml: str = ""

    def __post_init__(self) -> None:
        # Twilio's playback of our audio: a buffer that plays back to back in real time.
        self._playing_until = 0.0
        self._pending_marks: dict[str, asyncio.TimerHandle] = {}
        self.echoed_marks: list[tuple[str, float]] = []
        self.echo_marks = True
        self._echo_tasks: set[asyncio.Task[None]] = set()
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._seq = 0
        self._chunk = 0
        self._closed = asyncio.Event()
        self._last_media_at = 0.0

    # -- the webhook ------------------------------------------------------------------------

    async def dial(self, *, signature: str | None = None, path: str = "/voice",
                   **form_overrides: str) -> httpx.Response:
        """Twilio's webhook for the call: /voice, or the URL an outbound call was placed with."""
        form = wire.voice_form(call_sid=self.call_sid, to=self.to, caller=self.caller,
                               account_sid=ACCOUNT_SID) | form_overrides
        url = f"{self.base_url}{path}"
        sig = signature if signature is not None else wire.sign(self.auth_token, url, form)
        async with httpx.AsyncClient() as http:
            response = await http.post(url, data=form, headers={"X-Twilio-Signature": sig})
        if response.status_code == 200:
            self.twiml = response.text
            self.instruction = wire.parse_twiml(response.text)
        return response

    # -- the media stream -------------------------------------------------------------------

    async def connect(self, *, token: str | None = None, call_sid: str | None = None,
                      url: str | None = None) -> None:
        assert self.instruction is not None or url, "dial() first"
        target = url or self.instruction.url  # type: ignore[union-attr]
        params = dict(self.instruction.parameters) if self.instruction else {}
        if token is not None:
            params["token"] = token
        self._ws = await websockets.connect(target, max_size=2**20)
        self._reader = asyncio.create_task(self._read())
        await self.send_raw(wire.connected())
        await self.send_raw(wire.start(stream_sid=self.stream_sid,
                                       call_sid=call_sid or self.call_sid,
                                       account_sid=ACCOUNT_SID, parameters=params,
                                       sequence=self._next_seq()))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def send_raw(self, text: str | bytes) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self._ws.send(text)

    async def play(self, frames: list[bytes]) -> None:
        """Send 20 ms μ-law frames on an absolute real-time grid, as Twilio does."""
        t0 = time.monotonic()
        for i, payload in enumerate(frames):
            if self.closed:
                return
            await self.send_raw(wire.media(stream_sid=self.stream_sid, payload=payload,
                                           chunk=self._chunk, sequence=self._next_seq()))
            self._chunk += 1
            delay = t0 + (i + 1) * wire.FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    async def silence(self, seconds: float) -> None:
        await self.play([wire.ULAW_SILENCE] * round(seconds * 1000 / wire.FRAME_MS))

    async def wait_for_agent(self, *, limit_seconds: float = 20.0) -> None:
        """Keep the line open (silence) until the agent has spoken and then gone quiet."""
        spoken_before = self.media_count()
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline and not self.closed:
            await self.silence(0.1)
            quiet_for = time.monotonic() - self._last_media_at
            if self.media_count() > spoken_before and quiet_for >= QUIET_AFTER_AGENT_SECONDS:
                return
        if not self.closed:
            raise AssertionError("the agent did not speak and finish in time")

    async def until_quiet(self) -> None:
        """Keep the line open (silence) until the agent's audio has played out and no more
        has come for a moment: a reply sent in several pieces is heard to its end."""
        while not self.closed:
            now = time.monotonic()
            if (self._playing_until <= now
                    and now - self._last_media_at >= QUIET_AFTER_AGENT_SECONDS):
                return
            await self.silence(0.1)

    async def press(self, digit: str) -> None:
        await self.send_raw(wire.dtmf(stream_sid=self.stream_sid, digit=digit,
                                      sequence=self._next_seq()))

    async def hang_up(self) -> None:
        await self.send_raw(wire.stop(stream_sid=self.stream_sid, call_sid=self.call_sid,
                                      account_sid=ACCOUNT_SID, sequence=self._next_seq()))
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await self._reader

    async def wait_closed(self, *, limit_seconds: float = 30.0) -> int | None:
        """Keep sending silence until the server closes the stream; return the close code."""
        deadline = time.monotonic() + limit_seconds
        while not self.closed and time.monotonic() < deadline:
            await self.silence(0.1)
        if not self.closed:
            raise AssertionError("the server did not end the call in time")
        if self._reader is not None:
            await self._reader
        return self.close_code

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def media_count(self) -> int:
        return sum(1 for r in self.received if r.message.get("event") == "media")

    def events(self) -> list[str]:
        return [r.message.get("event", "?") for r in self.received]

    def _play(self, message: dict[str, Any], now: float) -> None:
        """Answer marks and clears the way Twilio does."""
        event = message.get("event")
        if event == "media":
            seconds = len(base64.b64decode(message["media"]["payload"])) / 8000
            self._playing_until = max(now, self._playing_until) + seconds
        elif event == "mark" and self.echo_marks:
            name = message["mark"]["name"]
            delay = self._playing_until - now
            if delay <= 0:
                self._echo(name)
            else:
                loop = asyncio.get_running_loop()
                self._pending_marks[name] = loop.call_later(delay, self._echo, name)
        elif event == "clear":
            self._playing_until = now
            for name, handle in list(self._pending_marks.items()):
                handle.cancel()
                self._echo(name)

    def _echo(self, name: str) -> None:
        self._pending_marks.pop(name, None)
        self.echoed_marks.append((name, time.monotonic()))
        task = asyncio.get_running_loop().create_task(self.send_raw(
            wire.mark(stream_sid=self.stream_sid, name=name, sequence=self._next_seq())))
        self._echo_tasks.add(task)
        task.add_done_callback(self._echo_tasks.discard)

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = wire.decode(raw)
                now = time.monotonic()
                if message.get("event") == "media":
                    self._last_media_at = now
                self.received.append(Received(now, message))
                self._play(message, now)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self._ws.close_code
            for handle in self._pending_marks.values():
                handle.cancel()
            self._closed.set()
