"""What the caller actually heard, from Twilio's playback marks.

Pipecat sends no marks, so it cannot know how much of a reply was played before the
caller hung up or barged in. ``PlaybackMarker`` sends a Twilio ``mark`` behind every
sentence of agent audio; Twilio echoes a mark once the audio before it has played, and
echoes every pending mark at once when we send ``clear``. ``Playback`` keeps the ledger:
a sentence counts as heard only when its mark came back before any ``clear``.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass

from pipecat.frames.frames import Frame, OutputTransportMessageFrame, TTSTextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor


@dataclass
class _Sentence:
    name: str
    text: str
    sent: bool = False
    cleared: bool = False
    heard: bool = False
    done: bool = False


class Playback:
    """The ledger of marked sentences for one call."""

    def __init__(self) -> None:
        self._names = itertools.count(1)
        self._sentences: dict[str, _Sentence] = {}
        self._turn: list[_Sentence] = []        # sentences since the last assistant turn ended
        self._changed = asyncio.Event()

    # -- marker side ------------------------------------------------------------------------

    def new_mark(self, text: str) -> str:
        sentence = _Sentence(name=f"frontdesk-{next(self._names)}", text=text)
        self._sentences[sentence.name] = sentence
        self._turn.append(sentence)
        return sentence.name

    # -- serializer side (what went over the wire and came back) ---------------------------

    def on_sent(self, name: str) -> None:
        if sentence := self._sentences.get(name):
            sentence.sent = True

    def on_clear(self) -> None:
        """Twilio drops its buffer: nothing pending will be played."""
        for sentence in list(self._sentences.values()):
            if not sentence.done:
                sentence.cleared = True
                if not sentence.sent:  # dropped from our own queue: no echo will come
                    self._finish(sentence)

    def on_echo(self, name: str) -> None:
        if (sentence := self._sentences.get(name)) and not sentence.done:
            sentence.heard = not sentence.cleared
            self._finish(sentence)

    def _finish(self, sentence: _Sentence) -> None:
        sentence.done = True
        self._sentences.pop(sentence.name, None)
        self._changed.set()

    # -- the call's side --------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._sentences)

    def take_turn(self) -> list[_Sentence]:
        """The sentences of the assistant turn that just ended (resolved or not)."""
        turn, self._turn = self._turn, []
        return turn

    async def settle(self, sentences: list[_Sentence], within: float) -> str:
        """Wait (bounded) until each sentence is heard or dropped; return what was heard."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not all(s.done for s in sentences) and loop.time() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
        return " ".join(s.text.strip() for s in sentences if s.heard).strip()

    async def drained(self, within: float) -> bool:
        """Wait (bounded) until every sentence sent so far has played; True if it has."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._sentences and loop.time() < deadline:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), deadline - loop.time())
            except TimeoutError:
                break
        return not self._sentences


class PlaybackMarker(FrameProcessor):
    """Between TTS and the output transport: a ``mark`` behind each spoken sentence.

    Services without word timestamps push a sentence's TTSTextFrame right after its
    audio; the mark message queued behind it reaches the wire after that audio.
    """

    def __init__(self, playback: Playback, stream_sid: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._playback = playback
        self._stream_sid = stream_sid

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, TTSTextFrame) and direction == FrameDirection.DOWNSTREAM:
            name = self._playback.new_mark(frame.text)
            await self.push_frame(OutputTransportMessageFrame(message={
                "event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}}))
