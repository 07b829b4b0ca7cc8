"""The silent agent: a caller turn the VAD heard but recognition returned nothing for.

Pipecat's speech-timeout turn end (the one the call pipeline uses) waits for a transcript
before it ends a turn. A segment Whisper read as nothing used to yield no transcript, so
the turn stayed open: the caller's next utterances were added to it until one was read
(or the 5 s turn-stop timeout closed it empty, which runs no LLM), and the agent said
nothing meanwhile. Every segment now yields a transcript, ``[inaudible]`` when nothing
could be read, and the receptionist answers it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("faster_whisper")

from pipecat.frames.frames import LLMContextFrame  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams  # noqa: E402
from pipecat.processors.aggregators.llm_context import LLMContext  # noqa: E402
from pipecat.processors.aggregators.llm_response_universal import (  # noqa: E402
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.tests.utils import run_test  # noqa: E402
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (  # noqa: E402
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies  # noqa: E402

from pipelines.inbound import USER_SPEECH_TIMEOUT  # noqa: E402
from pipelines.local.whisper_stt import INAUDIBLE, LocalWhisperSTTService  # noqa: E402
from pipelines.receptionist import replies  # noqa: E402
from pipelines.receptionist.engine import ClientFacts, ReceptionistEngine  # noqa: E402
from tests.speech import silence  # noqa: E402
from tests.test_local_speech import utterance  # noqa: E402


async def test_an_unreadable_turn_ends_and_runs_the_agent(local_models: Any) -> None:
    context = LLMContext()
    aggregators = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        user_turn_strategies=UserTurnStrategies(
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=USER_SPEECH_TIMEOUT)])))
    stt = LocalWhisperSTTService(models=local_models)

    down, _ = await run_test(
        Pipeline([stt, aggregators.user()]),
        frames_to_send=utterance(silence(1.0, 8000), 8000),
        pipeline_params=PipelineParams(audio_in_sample_rate=8000),
    )

    runs = [f for f in down if isinstance(f, LLMContextFrame)]
    assert len(runs) == 1  # before: none, the turn stayed open waiting for text
    assert runs[0].context.get_messages()[-1] == {"role": "user", "content": INAUDIBLE}


@pytest.mark.parametrize(("asked", "reply"), [
    ("Let me confirm: Friday, November 27 at 9 AM, for John. Shall I book it?",
     replies.WAS_THAT_YES),
    ("Thank you for calling Bright Smile Dental. How can I help you today?",
     f"{replies.DIDNT_CATCH} {replies.SAY_AGAIN}"),
])
def test_the_receptionist_asks_instead_of_waiting(asked: str, reply: str) -> None:
    engine = ReceptionistEngine(ClientFacts("Bright Smile Dental", "America/New_York"))
    now = datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("America/New_York"))
    messages = [{"role": "assistant", "content": asked}, {"role": "user", "content": INAUDIBLE}]
    if "confirm" in asked:
        messages = [{"role": "assistant", "content": "Hi"},
                    {"role": "user", "content": "Friday at 9, it's John"}, *messages]
    action = engine.next_action(messages, now)
    assert action is not None and action.say == reply
