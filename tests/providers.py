"""Deterministic stand-ins for STT, LLM and TTS. Test-only: no client can select them.

ScriptedSTT "hears" the caller's lines in order, one per speech segment the VAD finds.
EchoLLM answers "You said: ..."; on "goodbye" it says goodbye (on "that's all, bye" a long
one) and calls end_call, on "transfer" it calls transfer_call, on "story" it tells a long
story (four sentences).
ToneTTS speaks a short tone whose length follows the text, instantly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import numpy as np
from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings, STTSettings, TTSSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.time import time_now_iso8601

from db.clients import Client
from pipelines.providers import CallServices, ProviderPlan

TONE_SECONDS_PER_WORD = 0.06
# Four sentences of about a second of audio each, for barge-in tests.
STORY = tuple(f"Part {n} of the story goes on for a while with quite a few more words in it."
              for n in ("one", "two", "three", "four"))


# A goodbye long enough for the caller to talk over.
FAREWELL = ("Thank you so much for calling us today, it was a real pleasure to help you.",
            "Take care, and have a wonderful rest of your day. Goodbye!")


class ScriptedSTT(SegmentedSTTService):
    """Hands out the next line for each speech segment the VAD closes, whatever was said:
    a caller line with a long pause in it (a comma) can take two lines."""

    def __init__(self, lines: Sequence[str], **kwargs: Any) -> None:
        super().__init__(settings=STTSettings(model="scripted", language=None), **kwargs)
        self._lines = iter(lines)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        text = next(self._lines, "")
        if text:
            yield TranscriptionFrame(text, "caller", time_now_iso8601(), finalized=True)


class EchoLLM(LLMService):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(settings=LLMSettings(model="echo", system_instruction=None,
                                              temperature=None, max_tokens=None, top_p=None,
                                              top_k=None, frequency_penalty=None,
                                              presence_penalty=None, seed=None,
                                              filter_incomplete_user_turns=None,
                                              user_turn_completion_config=None), **kwargs)
        self._ids = itertools.count(1)
        self.contexts: list[list[dict[str, Any]]] = []   # what each inference was given

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return
        messages = frame.context.get_messages()
        self.contexts.append([dict(m) for m in messages if isinstance(m, dict)])
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            result = str(last.get("content") or "")
            if '"transferring": true' in result:
                await self._say("Transferring you now.")
            elif "transferring" in result:
                await self._say("Sorry, I cannot transfer you.")
            return  # end_call answered: nothing more to say
        said = str(last.get("content") or "") if last.get("role") == "user" else ""
        lowered = said.lower()
        if "goodbye" in lowered or lowered.endswith("bye"):
            await self._say(*(FAREWELL if "that's all" in lowered else ("Goodbye!",)))
            await self._call("end_call", frame)
        elif "transfer" in lowered:
            await self._call("transfer_call", frame)
        elif "story" in lowered:
            await self._say(*STORY)
        else:
            await self._say(f"You said: {said}.")

    async def _say(self, *sentences: str) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        for sentence in sentences:
            await self.push_frame(LLMTextFrame(sentence + " "))
        await self.push_frame(LLMFullResponseEndFrame())

    async def _call(self, name: str, frame: LLMContextFrame) -> None:
        await self.run_function_calls([FunctionCallFromLLM(
            function_name=name, tool_call_id=f"call_{next(self._ids)}", arguments={},
            context=frame.context)])


class ToneTTS(TTSService):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(push_start_frame=True, push_stop_frames=True,
                         settings=TTSSettings(model="tone", voice="tone", language=None),
                         **kwargs)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        seconds = max(0.2, TONE_SECONDS_PER_WORD * len(text.split()))
        t = np.arange(math.ceil(self.sample_rate * seconds)) / self.sample_rate
        pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16).tobytes()
        yield TTSAudioRawFrame(pcm, self.sample_rate, 1, context_id=context_id)


class ScriptedProviders:
    """A ProviderFactory whose every call hears ``lines`` and answers with EchoLLM/ToneTTS."""

    def __init__(self, lines: Sequence[str] = ()) -> None:
        self.lines = list(lines)
        self.built = 0
        self.llms: list[EchoLLM] = []

    def plan(self, client: Client) -> ProviderPlan:
        return ProviderPlan(stt="test/scripted", llm="test/echo", tts="test/tone",
                            tts_voice="tone")

    def build(self, plan: ProviderPlan, client: Client, *, call_sid: str) -> CallServices:
        self.built += 1
        self.llms.append(EchoLLM())
        return CallServices(stt=ScriptedSTT(self.lines), llm=self.llms[-1], tts=ToneTTS())
