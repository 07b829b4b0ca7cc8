"""One inbound phone call's Pipecat pipeline, built from the client's record."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import BotStoppedSpeakingFrame, Frame, TTSSpeakFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import (
    LatencyBreakdown,
    MeasuredFrom,
    UserBotLatencyObserver,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.dtmf_aggregator import DTMFAggregator
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.services.llm_service import FunctionCallParams
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_mute.base_user_mute_strategy import BaseUserMuteStrategy
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from starlette.websockets import WebSocket

from pipelines.bounded_socket import BoundedSendWebSocket
from pipelines.call_hooks import CallHooks
from pipelines.caller_audio_stop import CallerAudioStop
from pipelines.dtmf_transfer import OperatorDigit
from pipelines.playback import Playback, PlaybackMarker
from pipelines.providers import CallServices
from pipelines.shared_vad import SharedSileroVADAnalyzer
from pipelines.twilio_serializer import CallAudio, CallTwilioSerializer, Recorder
from tools.audit import run_tool
from tools.context import ToolContext
from tools.registry import tools_for

# Caller-side timing. stop_secs of silence ends speech; the turn then ends as soon as
# the transcript is in. Smart Turn is left out: it costs ~40 ms CPU per turn and falls
# back to a 3 s wait on speech it misjudges (see the Pipecat notes).
# start_secs is most of a barge-in's delay. 0.1 s (three 32 ms windows) and a volume floor
# of -70 LUFS rather than -50 (the loudness is taken over 400 ms, so a high floor holds
# back the first words) halve it; line hiss, knocks, clicks and breaths still start no
# speech (BENCHMARKS.md, "Barge-in").
VAD = VADParams(confidence=0.7, start_secs=0.1, stop_secs=0.2, min_volume=0.4)
USER_SPEECH_TIMEOUT = 0.2
TWILIO_RATE = 8000


@dataclass(frozen=True)
class TwilioLink:
    """Which Twilio stream and call this pipeline serves."""

    stream_sid: str
    call_sid: str


@dataclass
class CallPipeline:
    """What the call keeps of its pipeline."""

    worker: PipelineWorker
    serializer: CallTwilioSerializer
    context: LLMContext


@dataclass(frozen=True)
class CallOptions:
    greeting: str
    silence_timeout: float = 0.0        # 0: no "are you still there?" prompts
    operator_digit: str | None = None   # a key that asks for a transfer
    send_timeout: float = 2.0
    recorder: Recorder | None = None    # keeps the inbound stream, when the client asks
    audio: CallAudio | None = None      # both sides as a stereo WAV, when the client asks


def build_inbound(*, ws: WebSocket, link: TwilioLink, services: CallServices, hooks: CallHooks,
                  tool_ctx: ToolContext, playback: Playback, options: CallOptions
                  ) -> CallPipeline:
    # Hang-up is the call's job (after the goodbye's mark), never the serializer's.
    serializer = CallTwilioSerializer(
        stream_sid=link.stream_sid, call_sid=link.call_sid, hooks=hooks, playback=playback,
        recorder=options.recorder, audio=options.audio,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    socket = BoundedSendWebSocket(ws, options.send_timeout, hooks.on_send_timeout)
    transport = FastAPIWebsocketTransport(socket, FastAPIWebsocketParams(  # type: ignore[arg-type]
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
        serializer=serializer, audio_out_end_silence_secs=0,
        allowed_origins=[],  # Twilio sends no Origin; the call token is the gate
    ))

    tools = tools_for(tool_ctx.client.enabled_tools)
    context = LLMContext(tools=ToolsSchema(standard_tools=[
        FunctionSchema(name=t.name, description=t.description, properties=t.properties,
                       required=t.required) for t in tools]) if tools else None)
    aggregators = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        vad_analyzer=SharedSileroVADAnalyzer(sample_rate=TWILIO_RATE, params=VAD),
        user_turn_strategies=UserTurnStrategies(
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=USER_SPEECH_TIMEOUT)]),
        user_mute_strategies=[MuteWhileEnding(hooks)],
        user_idle_timeout=options.silence_timeout,
    ))
    llm = services.llm
    for tool in tools:
        llm.register_function(tool.name, _tool_handler(tool_ctx, tool.name))
    _report_turns(aggregators, context, hooks)

    pipeline = Pipeline([
        transport.input(),                  # Twilio media → PCM 8 kHz; dtmf, mark, stop
        OperatorDigit(hooks, options.operator_digit),  # the transfer key
        services.stt,                       # caller audio → transcripts
        DTMFAggregator(),                   # other keys → "DTMF: 12" for the agent
        aggregators.user(),                 # VAD, turn end, barge-in → LLM context
        CallerAudioStop(),                  # the caller's audio goes no further
        llm,                                # context → reply text and tool calls
        services.tts,                       # text → agent audio, sentence by sentence
        PlaybackMarker(playback, link.stream_sid),  # a Twilio mark behind each sentence
        transport.output(),                 # μ-law media to Twilio, paced in real time
        aggregators.assistant(),            # what the agent said → context and transcript
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=TWILIO_RATE,
                              audio_out_sample_rate=TWILIO_RATE, enable_metrics=True),
        observers=[_latency_observer(hooks), _SpeechEndObserver(hooks)],
        enable_rtvi=False, enable_turn_tracking=False,
        idle_timeout_secs=None,  # silence and duration limits belong to the call session
    )

    @transport.event_handler("on_client_connected")
    async def _greet(_transport: Any, _ws: Any) -> None:
        await worker.queue_frames([TTSSpeakFrame(options.greeting)])

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport: Any, _ws: Any) -> None:
        hooks.on_client_disconnected()

    return CallPipeline(worker=worker, serializer=serializer, context=context)


def _tool_handler(ctx: ToolContext, name: str):
    async def handle(params: FunctionCallParams) -> None:
        await params.result_callback(await run_tool(ctx, name, dict(params.arguments or {})))

    return handle


def _report_turns(aggregators: LLMContextAggregatorPair, context: LLMContext,
                  hooks: CallHooks) -> None:
    user = aggregators.user()

    @user.event_handler("on_user_turn_started")
    async def _started(_agg: Any, _strategy: Any) -> None:
        hooks.on_user_speaking()

    @user.event_handler("on_user_turn_stopped")
    async def _user(_agg: Any, _strategy: Any, message: Any) -> None:
        if message.content:
            hooks.on_user_turn(message.content, message.timestamp)

    @user.event_handler("on_user_turn_idle")
    async def _idle(_agg: Any) -> None:
        hooks.on_user_idle()

    @aggregators.assistant().event_handler("on_assistant_turn_stopped")
    async def _assistant(_agg: Any, message: Any) -> None:
        # A turn cut off before any of its text was spoken is reported too (with no
        # content): the call decides whether it belongs in the transcript.
        if message.content or message.interrupted:
            hooks.on_assistant_turn(message.content or "", message.timestamp,
                                    message.interrupted,
                                    _context_fixer(context, message.content or ""))


def _context_fixer(context: LLMContext, said: str) -> Callable[[str], None]:
    """Rewrites the assistant message just added to the context to what was heard."""
    messages = context.get_messages()
    target = next((m for m in reversed(messages) if isinstance(m, dict)
                   and m.get("role") == "assistant" and m.get("content") == said), None)

    def fix(heard: str) -> None:
        if target is None or heard == said:
            return
        if heard:
            target["content"] = heard
        else:
            with contextlib.suppress(ValueError):
                context.get_messages().remove(target)

    return fix


class MuteWhileEnding(BaseUserMuteStrategy):
    """Ignore the caller once the call is ending, so their "thanks, bye" cannot cut off the
    agent's goodbye: the hang-up waits for the goodbye either way, and an interrupted one
    would leave the caller with half a sentence and a dead line."""

    def __init__(self, hooks: CallHooks) -> None:
        super().__init__()
        self._hooks = hooks

    async def process_frame(self, frame: Frame) -> bool:
        return self._hooks.call_ending()


def _latency_observer(hooks: CallHooks) -> UserBotLatencyObserver:
    observer = UserBotLatencyObserver()

    @observer.event_handler("on_latency_breakdown")
    async def _measured(_obs: Any, breakdown: LatencyBreakdown) -> None:
        if breakdown.measured_from is not MeasuredFrom.USER_SILENCE:
            return  # the greeting, timed from the connection, is not a turn
        # The breakdown starts where the caller went quiet: the VAD stop window is its first
        # part. Each stage is kept so an operator can see what a slow turn spent its time on.
        stages: dict[str, int] = {}
        for part in breakdown.contributions:
            stages[part.key] = stages.get(part.key, 0) + round(part.duration_secs * 1000)
        total = round(breakdown.total_secs * 1000)
        hooks.on_turn_metrics({"speech_end_to_audio_ms": total,
                               "vad_stop_to_audio_ms": total - round(VAD.stop_secs * 1000),
                               "stages_ms": stages})

    return observer


class _SpeechEndObserver(BaseObserver):
    """Tells the call when an agent utterance has been sent in full (for hang-up timing)."""

    def __init__(self, hooks: CallHooks) -> None:
        super().__init__()
        self._hooks = hooks

    async def on_push_frame(self, data: FramePushed) -> None:
        # The output transport pushes the frame both ways; count its own push once.
        if (isinstance(data.frame, BotStoppedSpeakingFrame)
                and isinstance(data.source, BaseOutputTransport)
                and data.direction == FrameDirection.DOWNSTREAM):
            self._hooks.on_bot_stopped_speaking()
