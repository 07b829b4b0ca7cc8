"""The caller's audio stops after the user aggregator; everything else goes on."""

from __future__ import annotations

from pipecat.frames.frames import InputAudioRawFrame, LLMContextFrame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.tests.utils import run_test

from pipelines.caller_audio_stop import CallerAudioStop
from tests.speech import silence
from tests.test_local_speech import utterance


def caller_turn() -> list:
    return [*utterance(silence(0.2, 8000), 8000),
            TranscriptionFrame("Tomorrow at noon.", "caller", "2026-12-07T10:00:00Z")]


async def run(*processors) -> list:
    down, _ = await run_test(Pipeline(list(processors)), frames_to_send=caller_turn(),
                             pipeline_params=PipelineParams(audio_in_sample_rate=8000))
    return list(down)


async def test_the_user_aggregator_alone_passes_the_audio_on():
    down = await run(LLMContextAggregatorPair(LLMContext()).user())
    assert any(isinstance(f, InputAudioRawFrame) for f in down)


async def test_the_stop_ends_the_audio_and_keeps_the_turn():
    down = await run(LLMContextAggregatorPair(LLMContext()).user(), CallerAudioStop())
    assert not any(isinstance(f, InputAudioRawFrame) for f in down)
    [turn] = [f for f in down if isinstance(f, LLMContextFrame)]
    assert turn.context.get_messages()[-1] == {"role": "user", "content": "Tomorrow at noon."}
