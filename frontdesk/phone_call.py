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
import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake, InvalidURI

from db import appointments, clients, conversations
from db.pool import create_pool
from frontdesk.settings import Settings
from loadtest import twilio_wire as wire
from loadtest import voices
from loadtest.line import CallerTurn, Line, LineReport, TurnError

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
class Booking:
    name: str
    starts_at: datetime  # in the client's time zone
    timezone: str

    def __str__(self) -> str:
        return f"{self.starts_at:%a %Y-%m-%d %H:%M} ({self.timezone}) for {self.name}"


@dataclass
class CallReport(LineReport):
    refusal: str | None = None       # what /voice said before hanging up
    error: str | None = None
    connected: bool = False
    transcript: list[dict[str, Any]] | None = None  # the server's; None when unavailable
    transcript_unavailable: str | None = None
    end_reason: str | None = None
    duration_seconds: float | None = None
    bookings: list[Booking] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)  # bookings this call moved or cancelled
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
        line = Line(ws, report, turns, account_sid=account_sid,
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
            changed = await appointments.changes_in_conversation(self.pool, conv.id)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            report.transcript_unavailable = f"database error: {exc}"
            return
        zone = client.timezone if client else "UTC"
        report.bookings = [Booking(a.name, a.starts_at.astimezone(ZoneInfo(zone)), zone)
                           for a in booked if a.status == "booked"]
        report.changes = [_change(c, ZoneInfo(zone)) for c in changed
                          if c.action in ("rescheduled", "cancelled")]


def _change(c: appointments.Change, zone: ZoneInfo) -> str:
    """An existing booking this call moved or cancelled, e.g. for a caller's second call."""
    def when(at: datetime | None) -> str:
        return f"{at.astimezone(zone):%a %Y-%m-%d %H:%M}" if at else "?"
    if c.action == "rescheduled":
        return f"moved #{c.appointment_id} from {when(c.old_starts_at)} to {when(c.new_starts_at)}"
    return f"cancelled #{c.appointment_id} ({when(c.old_starts_at or c.new_starts_at)})"


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
        for change in report.changes:
            echo(f"changed: {change}")
    echo(f"recording: {report.wav_path} (left: caller, right: agent)")


async def run_cli(args: Any, settings: Settings) -> int:
    """``frontdesk call``: fill place_call() in from the options and Settings; the exit code."""
    from frontdesk.database import resolve_url

    echo = _printer()
    try:
        turns = await asyncio.to_thread(
            lambda: [CallerTurn.say(v) if kind == "say" else CallerTurn.wav(v)
                     for kind, v in args.turns or []])
    except (CallError, TurnError, voices.NoVoice, OSError, subprocess.SubprocessError,
            ImportError) as exc:
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
