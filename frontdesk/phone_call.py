"""``frontdesk call``: a phone call from the terminal to a running server, as Twilio places it.

POST the signed /voice webhook, open the <Stream> WebSocket, send ``connected`` and
``start``, then stream 20 ms μ-law frames on an absolute clock (silence between turns,
as a phone line does). Each caller turn waits until the agent has spoken and gone quiet.
Marks are echoed when the audio before them would have finished playing; ``clear``
drops the agent's buffered audio. The transcript is read live from PostgreSQL, and the
call is saved as a stereo WAV: left the caller as sent, right the agent as played.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import signal
import subprocess
import sys
import time
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from db import appointments, clients, conversations
from db.pool import create_pool
from frontdesk.settings import Settings
from loadtest import twilio_wire as wire
from loadtest import voices

RATE = 8000
FRAME_SAMPLES = wire.FRAME_BYTES        # one μ-law byte per sample
NO_ANSWER_SECONDS = 15.0                # a caller says its line anyway after this much silence
SPOKEN_OVER_GAP = 0.1                   # agent audio this recent is still speaking (40 ms packets)
POLL_SECONDS = 0.2                      # how often the transcript is read from PostgreSQL
FINALIZE_WAIT_SECONDS = 10.0            # for the server to write end_reason after the call
REFUSED_CODES = {1008: "refused", 1011: "server error", 1013: "server at capacity"}

Echo = Callable[[str], None]


class CallError(Exception):
    """The call could not be placed or went wrong; the message is one line for the user."""


@dataclass(frozen=True)
class CallerTurn:
    """One thing the caller says: its label (the text, or the WAV's name) and its frames."""

    label: str
    frames: list[bytes]
    speech_end: int  # index of the last frame with speech in it

    @classmethod
    def from_pcm(cls, label: str, pcm: bytes, rate: int) -> CallerTurn:
        frames = voices.to_ulaw_frames(pcm, rate)
        return cls(label, frames, voices.last_voiced_frame(frames))

    @classmethod
    def say(cls, text: str) -> CallerTurn:
        return cls.from_pcm(text, *voices.synthesize(text))

    @classmethod
    def wav(cls, path: str | Path) -> CallerTurn:
        try:
            pcm, rate = voices.load_wav(path)
        except (OSError, EOFError, wave.Error) as exc:
            raise CallError(f"cannot read {path}: {exc}") from None
        return cls.from_pcm(f"[{Path(path).name}]", pcm, rate)


@dataclass
class SpokenTurn:
    label: str
    latency_ms: float | None = None  # end of caller speech → first agent media after it
    # The agent was already speaking when the caller finished (it answered the first part
    # of the line, or is saying goodbye over the rest): there is no wait to measure.
    spoken_over: bool = False


@dataclass(frozen=True)
class Booking:
    name: str
    starts_at: datetime  # in the client's time zone
    timezone: str

    def __str__(self) -> str:
        return f"{self.starts_at:%a %Y-%m-%d %H:%M} ({self.timezone}) for {self.name}"


@dataclass
class CallReport:
    call_sid: str
    refusal: str | None = None       # what /voice said before hanging up
    error: str | None = None
    connected: bool = False
    hung_up_by: str | None = None     # "agent" (the server closed the stream) or "caller"
    interrupted: bool = False         # the caller hung up early (hang_up was set)
    close_code: int | None = None
    turns: list[SpokenTurn] = field(default_factory=list)
    transcript: list[dict[str, Any]] | None = None  # the server's; None when unavailable
    transcript_unavailable: str | None = None
    end_reason: str | None = None
    duration_seconds: float | None = None
    bookings: list[Booking] = field(default_factory=list)
    wav_path: Path | None = None

    @property
    def ok(self) -> bool:
        return self.connected and self.refusal is None and self.error is None

    @property
    def agent_lines(self) -> list[str]:
        return [t["content"] for t in self.transcript or [] if t.get("role") == "assistant"]


async def place_call(*, url: str, to: str, caller: str = "+15005550006",
                     turns: Sequence[CallerTurn] = (), auth_token: str | None = None,
                     database_url: str | None = None, account_sid: str | None = None,
                     out: Path | None = None, max_seconds: float = 120.0,
                     quiet_ms: int = 700, linger_seconds: float = 5.0,
                     hang_up: asyncio.Event | None = None, echo: Echo = print) -> CallReport:
    """Place one call at the server at ``url`` and report how it went (never raises CallError).

    ``linger_seconds``: after the last turn has been answered, how long the caller stays on
    a silent line for the agent to hang up before hanging up itself. Setting ``hang_up``
    makes the caller hang up now (Ctrl-C in the terminal).
    """
    report = CallReport(call_sid=wire.new_sid("CA"))
    account_sid = account_sid or wire.new_sid("AC")
    deadline = time.monotonic() + max_seconds
    log = _Transcript(database_url, report, echo)
    await log.open()
    try:
        instruction = await _dial(url, report, to=to, caller=caller, auth_token=auth_token,
                                  account_sid=account_sid)
        if instruction is None:
            echo(f"refused: {report.refusal}")
            return report
        try:
            ws = await connect(instruction.url, max_size=2**22, open_timeout=10)
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise CallError(f"cannot open the media stream {instruction.url}: {exc}") from None
        line = _Line(ws, report, turns, account_sid=account_sid,
                     quiet_s=quiet_ms / 1000, linger_s=linger_seconds, deadline=deadline,
                     hang_up=hang_up or asyncio.Event(), echo=echo)
        watcher = asyncio.create_task(log.watch())
        try:
            await line.run(instruction.parameters)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if report.close_code in REFUSED_CODES and not line.agent_spoke:
            raise CallError(f"the server closed the media stream: {report.close_code} "
                            f"{REFUSED_CODES[report.close_code]} ({line.close_reason})")
        report.connected = True
        report.duration_seconds = line.seconds
        path = out or Path.cwd() / f"call-{report.call_sid}.wav"
        try:
            report.wav_path = line.save(path)
        except OSError as exc:
            report.error = f"cannot write {path}: {exc}"
        await log.finish()
        if len(report.turns) < len(turns) and not report.interrupted:
            raise CallError(f"--max-seconds ({max_seconds:g}) ran out after "
                            f"{len(report.turns)} of {len(turns)} caller turns")
    except CallError as exc:
        report.error = str(exc)
    except (httpx.HTTPError, OSError) as exc:
        report.error = f"cannot reach {url}: {exc}"
    finally:
        await log.close()
    _summarize(report, echo)
    return report


async def _dial(url: str, report: CallReport, *, to: str, caller: str,
                auth_token: str | None, account_sid: str) -> wire.StreamInstruction | None:
    """POST /voice as Twilio does; the <Stream> to open, or None (report.refusal) if refused."""
    voice_url = f"{url.rstrip('/')}/voice"
    form = wire.voice_form(call_sid=report.call_sid, to=to, caller=caller,
                           account_sid=account_sid)
    headers = {"X-Twilio-Signature": wire.sign(auth_token, voice_url, form)} if auth_token else {}
    async with httpx.AsyncClient(timeout=15) as http:
        response = await http.post(voice_url, data=form, headers=headers)
    if response.status_code == 403:
        raise CallError(f"POST {voice_url}: 403 {response.text.strip()[:120]} (is --url the "
                        "server's PUBLIC_URL and --auth-token its TWILIO_AUTH_TOKEN?)")
    if response.status_code != 200:
        raise CallError(f"POST {voice_url}: {response.status_code} {response.text.strip()[:120]}")
    try:
        instruction = wire.parse_twiml(response.text)
        said = " ".join(wire.said(response.text))
    except Exception as exc:  # ElementTree raises its own ParseError, among others
        raise CallError(f"POST {voice_url} answered something that is not TwiML: {exc}") from None
    if instruction is None:
        report.refusal = said or "the server hung up without saying anything"
    return instruction


class _Line:
    """The connected stream: the caller's 20 ms clock and the agent's playback timeline.

    Times are in samples (8 kHz) since ``start`` was sent.
    """

    def __init__(self, ws: ClientConnection, report: CallReport, turns: Sequence[CallerTurn],
                 *, account_sid: str, quiet_s: float, linger_s: float, deadline: float,
                 hang_up: asyncio.Event, echo: Echo) -> None:
        self.ws, self.report, self.turns, self.echo = ws, report, list(turns), echo
        self.stream_sid, self.account_sid = wire.new_sid("MZ"), account_sid
        self.quiet, self.linger = round(quiet_s * RATE), round(linger_s * RATE)
        self.deadline, self.hang_up = deadline, hang_up
        self.t0 = 0.0
        self.seq = 0
        # The caller: every frame sent, one per 20 ms tick
        self.sent: list[bytes] = []
        self.speech_ended_at: float | None = None  # monotonic; until the agent answers
        # The agent: what Twilio would play, and when
        self.played: list[tuple[int, bytes]] = []  # (start sample, μ-law)
        self.play_end = 0                           # where the buffered audio runs out
        self.media_count = 0
        self.marks: list[tuple[int, str]] = []      # (due sample, name), not yet echoed
        self.end = 0
        self.close_reason = ""
        self.closed = asyncio.Event()

    @property
    def agent_spoke(self) -> bool:
        return self.media_count > 0

    @property
    def seconds(self) -> float:
        return self.end / RATE

    def _now(self) -> int:
        return int((time.monotonic() - self.t0) * RATE)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def run(self, parameters: dict[str, str]) -> None:
        async with self.ws:
            await self.ws.send(wire.connected())
            self.t0 = time.monotonic()
            await self.ws.send(wire.start(stream_sid=self.stream_sid,
                                          call_sid=self.report.call_sid,
                                          account_sid=self.account_sid,
                                          parameters=parameters, sequence=self._next_seq()))
            reader = asyncio.create_task(self._read())
            try:
                self.report.hung_up_by = await self._talk()
                if self.report.hung_up_by == "caller":
                    await self._send(wire.stop(stream_sid=self.stream_sid,
                                               call_sid=self.report.call_sid,
                                               account_sid=self.account_sid,
                                               sequence=self._next_seq()))
            finally:
                self.end = self._now()
                await self.ws.close()
                await reader

    async def _send(self, message: str) -> bool:
        try:
            await self.ws.send(message)
        except ConnectionClosed:
            return False
        return True

    async def _talk(self) -> str:
        """Send one frame per tick until someone hangs up; return who did."""
        queue: deque[bytes] = deque()
        turns = iter(self.turns)
        speaking: CallerTurn | None = None
        listen_since, heard_before = 0, 0
        tick = 0
        while True:
            delay = self.t0 + tick * wire.FRAME_MS / 1000 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.closed.is_set():
                return "agent"
            if self.hang_up.is_set():
                self.report.interrupted = True
                self.echo("(hanging up)")
                return "caller"
            if time.monotonic() >= self.deadline:
                self.echo("(--max-seconds reached: hanging up)")
                return "caller"
            now = self._now()
            for due, name in [m for m in self.marks if m[0] <= now]:
                self.marks.remove((due, name))
                await self._send(wire.mark(stream_sid=self.stream_sid, name=name,
                                           sequence=self._next_seq()))
            if speaking is not None and not queue:
                speaking, listen_since, heard_before = None, now, self.media_count
            if speaking is None:
                spoke = self.media_count > heard_before
                quiet_for = now - self.play_end
                answered = spoke and quiet_for >= self.quiet
                no_answer = not spoke and now - listen_since >= NO_ANSWER_SECONDS * RATE
                if answered or no_answer:
                    speaking = next(turns, None)
                    if speaking is not None:
                        queue.extend(speaking.frames)
                        speech_end = tick + speaking.speech_end
                        self.report.turns.append(SpokenTurn(speaking.label))
                        self.echo(f"caller: {speaking.label}")
                    elif (spoke and quiet_for >= max(self.quiet, self.linger)) or (
                            not spoke and now - listen_since >= (NO_ANSWER_SECONDS * RATE
                                                                 + self.linger)):
                        return "caller"
            frame = queue.popleft() if queue else wire.ULAW_SILENCE
            if not await self._send(wire.media(stream_sid=self.stream_sid, payload=frame,
                                               chunk=tick, sequence=self._next_seq())):
                return "agent"
            self.sent.append(frame)
            if speaking is not None and tick == speech_end:
                if self.play_end > now - SPOKEN_OVER_GAP * RATE:
                    self.report.turns[-1].spoken_over = True
                    self.echo("  (the agent was already speaking)")
                else:
                    self.speech_ended_at = time.monotonic()
            tick += 1

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                try:
                    message = wire.decode(raw)
                    event = message.get("event")
                except (ValueError, AttributeError):
                    continue
                if event == "media":
                    self._play(base64.b64decode(message.get("media", {}).get("payload", "")))
                elif event == "mark":
                    # Echoed once the audio sent before it has played out.
                    name = str(message.get("mark", {}).get("name", ""))
                    self.marks.append((max(self._now(), self.play_end), name))
                elif event == "clear":
                    self._clear()
        except ConnectionClosed:
            pass
        finally:
            self.report.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason or ""
            self.closed.set()

    def _play(self, audio: bytes) -> None:
        """Twilio plays media back to back, from the moment it arrives if nothing is queued."""
        arrived = time.monotonic()
        if self.speech_ended_at is not None:
            latency = (arrived - self.speech_ended_at) * 1000
            self.speech_ended_at = None
            self.report.turns[-1].latency_ms = latency
            self.echo(f"  latency {latency:.0f} ms")
        now = self._now()
        start = max(now, self.play_end)
        self.played.append((start, audio))
        self.play_end = start + len(audio)
        self.media_count += 1

    def _clear(self) -> None:
        """Drop what has not played yet, and return every pending mark at once."""
        now = self._now()
        self.played = [(start, audio[: now - start]) for start, audio in self.played
                       if start < now]
        self.play_end = min(self.play_end, now)
        self.marks = [(now, name) for _, name in self.marks]

    def save(self, path: Path) -> Path:
        """Stereo 8 kHz 16-bit WAV: left the caller as sent, right the agent as played."""
        left = np.frombuffer(voices.ulaw_to_pcm(b"".join(self.sent)), dtype="<i2")
        n = max(self.end, len(left))
        right = np.zeros(n, dtype="<i2")
        for start, audio in self.played:  # the line went dead at the hang-up
            pcm = np.frombuffer(voices.ulaw_to_pcm(audio), dtype="<i2")[: max(0, n - start)]
            right[start:start + len(pcm)] = pcm
        stereo = np.zeros((n, 2), dtype="<i2")
        stereo[: len(left), 0] = left[:n]
        stereo[:, 1] = right
        path.parent.mkdir(parents=True, exist_ok=True)
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(RATE)
            w.writeframes(stereo.tobytes())
        return path.resolve()


class _Transcript:
    """The server's own record of the call, read from PostgreSQL while the call goes on."""

    def __init__(self, dsn: str | None, report: CallReport, echo: Echo) -> None:
        self.dsn, self.report, self.echo = dsn, report, echo
        self.pool: asyncpg.Pool | None = None
        self.unavailable: str | None = None if dsn else (
            "no database to read it from (set DATABASE_URL, or FRONTDESK_HOME to the server's)")
        self.seen = 0

    async def open(self) -> None:
        if self.dsn is None:
            return
        try:
            self.pool = await asyncio.wait_for(create_pool(self.dsn, min_size=1, max_size=2), 5)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            self.unavailable = f"cannot connect to the database: {exc}"

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    async def _read(self) -> conversations.Conversation | None:
        if self.pool is None:
            return None
        try:
            conv = await conversations.get_by_call_sid(self.pool, self.report.call_sid)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            self.unavailable = f"database error: {exc}"
            return None
        for turn in (conv.transcript if conv else [])[self.seen:]:
            self._print(turn)
            self.seen += 1
        return conv

    def _print(self, turn: dict[str, Any]) -> None:
        text = str(turn.get("content", ""))
        if turn.get("role") == "assistant":
            self.echo(f"agent: {text}" + (" [interrupted]" if turn.get("interrupted") else ""))
        elif turn.get("role") == "user" and _words(text) not in {
                _words(t.label) for t in self.report.turns}:
            self.echo(f"  (heard: {text})")

    async def watch(self) -> None:
        while True:
            await self._read()
            await asyncio.sleep(POLL_SECONDS)

    async def finish(self) -> None:
        """Wait for the server to finalize the call; fill in end reason, transcript, bookings."""
        report = self.report
        give_up = time.monotonic() + FINALIZE_WAIT_SECONDS
        conv = await self._read()
        while conv is not None and conv.status != "ended" and time.monotonic() < give_up:
            await asyncio.sleep(POLL_SECONDS / 2)
            conv = await self._read()
        if conv is None or self.pool is None:
            if self.pool is not None and self.unavailable is None:
                self.unavailable = "the call is not in this database (is it the server's?)"
            report.transcript_unavailable = self.unavailable
            return
        report.transcript = conv.transcript
        report.end_reason = conv.end_reason
        report.duration_seconds = conv.duration_seconds or report.duration_seconds
        try:
            client = await clients.get(self.pool, conv.client_id)
            booked = await appointments.for_conversation(self.pool, conv.id)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            report.transcript_unavailable = f"database error: {exc}"
            return
        zone = client.timezone if client else "UTC"
        report.bookings = [Booking(a.name, a.starts_at.astimezone(ZoneInfo(zone)), zone)
                           for a in booked if a.status == "booked"]


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def _summarize(report: CallReport, echo: Echo) -> None:
    if report.error:
        echo(f"error: {report.error}")
    if not report.connected:
        return
    if report.transcript_unavailable:
        echo(f"transcript unavailable: {report.transcript_unavailable}")
    who = {"agent": "the server hung up", "caller": "the caller hung up"}
    reason = report.end_reason or who.get(report.hung_up_by or "", "ended")
    echo(f"end: {reason} after {report.duration_seconds or 0:.1f} s")
    latencies = [f"{t.latency_ms:.0f} ms" if t.latency_ms is not None
                 else "spoken over" if t.spoken_over else "no answer" for t in report.turns]
    if latencies:
        echo("latency per turn: " + ", ".join(latencies))
    if report.transcript is not None:
        echo("booking: " + ("; ".join(map(str, report.bookings)) or "no booking"))
    echo(f"recording: {report.wav_path} (left: caller, right: agent)")


async def run_cli(args: Any, settings: Settings) -> int:
    """``frontdesk call``: fill place_call() in from the options and Settings; the exit code."""
    from frontdesk.database import resolve_url

    echo = _printer()
    try:
        turns = await asyncio.to_thread(
            lambda: [CallerTurn.say(v) if kind == "say" else CallerTurn.wav(v)
                     for kind, v in args.turns or []])
    except (CallError, voices.NoVoice, OSError, subprocess.SubprocessError, ImportError) as exc:
        echo(f"error: caller voice: {exc}")
        return 2
    dsn = None
    # Without DATABASE_URL, read the embedded server that `frontdesk serve` started, if any,
    # rather than start a new one.
    if settings.database_url or (settings.frontdesk_home / "pgdata").exists():
        with contextlib.suppress(Exception):
            dsn, _ = await resolve_url(settings)
    hang_up = asyncio.Event()  # Ctrl-C: the caller hangs up, and the call is still reported
    with contextlib.suppress(NotImplementedError):  # no signal handlers on Windows' loop
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, hang_up.set)
    report = await place_call(
        url=args.url or settings.public_url, to=args.to, caller=args.caller, turns=turns,
        auth_token=args.auth_token or settings.secret("twilio_auth_token"),
        database_url=dsn, account_sid=settings.twilio_account_sid,
        out=Path(args.out) if args.out else None, max_seconds=args.max_seconds,
        quiet_ms=args.quiet_ms, linger_seconds=args.linger, hang_up=hang_up, echo=echo)
    return 130 if report.interrupted else 0 if report.ok else 1


def _printer() -> Echo:
    def echo(line: str) -> None:
        failed = line.startswith(("error:", "refused:"))
        print(line, file=sys.stderr if failed else sys.stdout, flush=True)

    return echo
