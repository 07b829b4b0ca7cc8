"""A caller on a live media stream: says its turns, each once the agent has answered.

The caller's side of a Twilio call, in real time: 20 ms μ-law frames on an absolute clock
(silence between turns, as a phone line does), the agent's audio played back as Twilio
would (marks echoed when the audio before them has played, ``clear`` drops the rest), and
each caller turn's latency: end of its speech → the agent's first audio after it. Used by
``frontdesk call`` and the booking-accuracy benchmark.
"""

from __future__ import annotations

import asyncio
import base64
import time
import wave
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from loadtest import twilio_wire as wire
from loadtest import voices

RATE = 8000
FRAME_SAMPLES = wire.FRAME_BYTES        # one μ-law byte per sample
NO_ANSWER_SECONDS = 15.0                # a caller says its line anyway after this much silence
SPOKEN_OVER_GAP = 0.1                   # agent audio this recent is still speaking (40 ms packets)

Echo = Callable[[str], None]


class TurnError(ValueError):
    """A caller turn could not be made (an unreadable WAV); the message says why."""


class _Pending:
    def __repr__(self) -> str:
        return "PENDING"


# A TurnSource returns the next turn, None when the caller has nothing more to say, or
# PENDING when it cannot tell yet (it is asked again, until the no-answer wait runs out).
PENDING = _Pending()
TurnSource = Callable[[], "CallerTurn | None | _Pending"]


def _in_order(turns: list[CallerTurn]) -> TurnSource:
    items = iter(turns)
    return lambda: next(items, None)


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
            raise TurnError(f"cannot read {path}: {exc}") from None
        return cls.from_pcm(f"[{Path(path).name}]", pcm, rate)


@dataclass
class SpokenTurn:
    label: str
    latency_ms: float | None = None  # end of caller speech → first agent media after it
    # The agent was already speaking when the caller finished (it answered the first part
    # of the line, or is saying goodbye over the rest): there is no wait to measure.
    spoken_over: bool = False


@dataclass
class LineReport:
    """What the line itself records about the call."""

    call_sid: str
    hung_up_by: str | None = None     # "agent" (the server closed the stream) or "caller"
    interrupted: bool = False         # the caller hung up early (hang_up was set)
    close_code: int | None = None
    turns: list[SpokenTurn] = field(default_factory=list)


class Line:
    """The connected stream: the caller's 20 ms clock and the agent's playback timeline.

    Times are in samples (8 kHz) since ``start`` was sent.
    """

    def __init__(self, ws: ClientConnection, report: LineReport,
                 turns: Sequence[CallerTurn] | TurnSource,
                 *, account_sid: str, quiet_s: float, linger_s: float, deadline: float,
                 hang_up: asyncio.Event, echo: Echo) -> None:
        self.ws, self.report, self.echo = ws, report, echo
        # A list is said in order; a TurnSource is asked each time the agent has answered.
        self.next_turn: TurnSource = turns if callable(turns) else _in_order(list(turns))
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
        speaking: CallerTurn | None = None
        listen_since, heard_before = 0, 0
        pending = False
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
                    turn = self.next_turn()
                    if turn is PENDING and now - listen_since < (NO_ANSWER_SECONDS * RATE
                                                                 + self.linger):
                        turn = None
                        pending = True
                    else:
                        pending = False
                        if turn is PENDING:
                            turn = None
                    speaking = turn if isinstance(turn, CallerTurn) else None
                    if speaking is not None:
                        queue.extend(speaking.frames)
                        speech_end = tick + speaking.speech_end
                        self.report.turns.append(SpokenTurn(speaking.label))
                        self.echo(f"caller: {speaking.label}")
                    elif not pending and ((spoke and quiet_for >= max(self.quiet, self.linger))
                                          or (not spoke and now - listen_since
                                              >= (NO_ANSWER_SECONDS * RATE + self.linger))):
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
