"""One inbound phone call's Pipecat pipeline, built from the client's record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import BotStoppedSpeakingFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.observers.user_bot_latency_observer import UserBotLatencyObserver
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
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
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import (
    SpeechTimeoutUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from starlette.websockets import WebSocket

from pipelines.call_hooks import CallHooks
from pipelines.providers import CallServices
from pipelines.twilio_serializer import CallTwilioSerializer
from tools.audit import run_tool
from tools.context import ToolContext
from tools.registry import tools_for

# Caller-side timing. stop_secs of silence ends speech; the turn then ends as soon as
# the transcript is in. Smart Turn is left out: it costs ~40 ms CPU per turn and falls
# back to a 3 s wait on speech it misjudges (see the Pipecat notes).
VAD = VADParams(confidence=0.7, start_secs=0.2, stop_secs=0.2, min_volume=0.6)
USER_SPEECH_TIMEOUT = 0.2
TWILIO_RATE = 8000


@dataclass(frozen=True)
class TwilioLink:
    """Where the media stream and its call live on Twilio's side."""

    stream_sid: str
    call_sid: str
    account_sid: str | None
    auth_token: str | None
    api_base_url: str


def build_inbound(*, ws: WebSocket, link: TwilioLink, services: CallServices, hooks: CallHooks,
                  tool_ctx: ToolContext, greeting: str) -> tuple[PipelineWorker, Any]:
    """Return the call's worker and the object to queue frames into (the worker)."""
    can_hang_up = bool(link.account_sid and link.auth_token)
    serializer = CallTwilioSerializer(
        stream_sid=link.stream_sid, call_sid=link.call_sid, account_sid=link.account_sid,
        auth_token=link.auth_token, base_url=link.api_base_url, hooks=hooks,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=can_hang_up))
    transport = FastAPIWebsocketTransport(ws, FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
        serializer=serializer, audio_out_end_silence_secs=1,
        allowed_origins=[],  # Twilio sends no Origin; the call token is the gate
    ))

    tools = tools_for(tool_ctx.client.enabled_tools)
    context = LLMContext(tools=ToolsSchema(standard_tools=[
        FunctionSchema(name=t.name, description=t.description, properties=t.properties,
                       required=t.required) for t in tools]) if tools else None)
    aggregators = LLMContextAggregatorPair(context, user_params=LLMUserAggregatorParams(
        vad_analyzer=SileroVADAnalyzer(sample_rate=TWILIO_RATE, params=VAD),
        user_turn_strategies=UserTurnStrategies(
            stop=[SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=USER_SPEECH_TIMEOUT)]),
    ))
    llm = services.llm
    for tool in tools:
        llm.register_function(tool.name, _tool_handler(tool_ctx, tool.name))
    _report_turns(aggregators, hooks)

    pipeline = Pipeline([
        transport.input(),          # Twilio media → PCM 8 kHz
        services.stt,               # caller audio → transcripts
        aggregators.user(),         # VAD, turn end, barge-in → LLM context
        llm,                        # context → reply text and tool calls
        services.tts,               # text → agent audio
        transport.output(),         # PCM → μ-law media to Twilio, paced in real time
        aggregators.assistant(),    # what the agent said → context and transcript
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
        from pipecat.frames.frames import TTSSpeakFrame

        await worker.queue_frames([TTSSpeakFrame(greeting)])

    @transport.event_handler("on_client_disconnected")
    async def _gone(_transport: Any, _ws: Any) -> None:
        hooks.on_client_disconnected()

    return worker, worker


def _tool_handler(ctx: ToolContext, name: str):
    async def handle(params: FunctionCallParams) -> None:
        await params.result_callback(await run_tool(ctx, name, dict(params.arguments or {})))

    return handle


def _report_turns(aggregators: LLMContextAggregatorPair, hooks: CallHooks) -> None:
    @aggregators.user().event_handler("on_user_turn_stopped")
    async def _user(_agg: Any, _strategy: Any, message: Any) -> None:
        if message.content:
            hooks.on_turn("user", message.content, message.timestamp, False)

    @aggregators.assistant().event_handler("on_assistant_turn_stopped")
    async def _assistant(_agg: Any, message: Any) -> None:
        if message.content:
            hooks.on_turn("assistant", message.content, message.timestamp, message.interrupted)


def _latency_observer(hooks: CallHooks) -> UserBotLatencyObserver:
    observer = UserBotLatencyObserver()

    @observer.event_handler("on_latency_measured")
    async def _measured(_obs: Any, latency: float) -> None:
        # Measured from the VAD's stop decision; the caller stopped stop_secs earlier.
        hooks.on_turn_metrics({"vad_stop_to_audio_ms": round(latency * 1000),
                               "speech_end_to_audio_ms": round((latency + VAD.stop_secs) * 1000)})

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
