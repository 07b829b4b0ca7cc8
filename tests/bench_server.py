"""``python -m tests.bench_server [--baseline]``: the real app with instant providers, for
``frontdesk-loadtest bench`` and ``soak``. Configured from the environment like
``frontdesk serve``; test-only, so no client can ever select these providers.

- Providers: an STT that "hears" one fixed short sentence per VAD segment, instantly;
  EchoLLM; a tone TTS that speaks at a natural pace (so agent audio fills the line as a
  real reply would).
- ``--baseline``: each call runs the pipeline Pipecat's own Twilio example builds
  (pipecat-examples twilio-chatbot/inbound/bot.py) with Pipecat's defaults: Silero VAD at
  its defaults, Smart Turn v3 (the default stop strategy), default transport and worker
  params (RTVI, turn tracking, idle timeout), ``WorkerRunner`` without ``force_gc``
  (``--force-gc`` for the example's current ``force_gc=True``). It still comes in through
  our ``/voice`` and call-token path, so the replayer drives both identically. Left out of
  the example: its AudioBufferProcessor (a recording feature) and the REST hang-up
  (``auto_hang_up``, which needs Twilio).
- A client on ``--number`` is created with a practically endless balance.

``GET /bench/loop-stalls`` serves the event loop's longest stalls and its garbage
collections since the last read (``tests.loop_stalls``). Once the app is configured it
prints one line, ``BENCH-SERVER {json}``, with the pipeline
and its deliberate end-of-turn wait (``turn_wait_ms``), which the bench subtracts.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import math
import os
import socket
import time
from collections.abc import AsyncGenerator, Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import uvicorn
from pipecat.frames.frames import Frame, TranscriptionFrame, TTSAudioRawFrame
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.utils.time import time_now_iso8601

from db import clients, users
from db.clients import Client
from db.pool import open_pool
from frontdesk import logs
from frontdesk.app import create_app
from frontdesk.database import opened, resolve_url
from frontdesk.server import DrainingServer
from frontdesk.settings import Settings
from frontdesk.supervisor import Supervisor, bind_sockets
from pipelines.providers import CallServices, ProviderPlan
from tests.loop_stalls import LoopStallProbe, with_probe
from tests.providers import EchoLLM, ToneTTS
from voice.registry import CallRegistry

HEARD = "I would like to book an appointment for tomorrow afternoon."
GREETING = "Thanks for calling. How can I help you today?"
SECONDS_PER_WORD = 0.3  # ~200 words a minute, a brisk receptionist
BALANCE = 10**9


class FixedSTT(SegmentedSTTService):
    """Hears the same sentence in every speech segment, instantly."""

    def __init__(self, text: str = HEARD, **kwargs: Any) -> None:
        super().__init__(settings=STTSettings(model="fixed", language=None), **kwargs)
        self._text = text

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        yield TranscriptionFrame(self._text, "caller", time_now_iso8601(), finalized=True)


class SpeakingToneTTS(ToneTTS):
    """A tone as long as the text would take to say."""

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        seconds = max(0.3, SECONDS_PER_WORD * len(text.split()))
        t = np.arange(math.ceil(self.sample_rate * seconds)) / self.sample_rate
        pcm = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16).tobytes()
        yield TTSAudioRawFrame(pcm, self.sample_rate, 1, context_id=context_id)


class BenchProviders:
    def plan(self, client: Client) -> ProviderPlan:
        return ProviderPlan(stt="test/fixed", llm="test/echo", tts="test/tone", tts_voice="tone")

    def build(self, plan: ProviderPlan, client: Client, *, call_sid: str) -> CallServices:
        return CallServices(stt=FixedSTT(), llm=EchoLLM(), tts=SpeakingToneTTS())


def _baseline_serializer(**kwargs: Any) -> Any:
    from pipecat.serializers.twilio import TwilioFrameSerializer

    class Serializer(TwilioFrameSerializer):
        last_received = time.monotonic()

        async def deserialize(self, data: str | bytes) -> Any:
            self.last_received = time.monotonic()  # the session's dead-socket watch
            return await super().deserialize(data)

    return Serializer(**kwargs)


def build_baseline(*, ws: Any, link: Any, services: CallServices, **_ours: Any
                   ) -> SimpleNamespace:
    """Pipecat's Twilio example pipeline, with our instant services in it.

    Takes what our build_inbound takes and ignores what the example has no use for
    (our hooks, tools, playback tracking, options); returns what the session keeps.
    """
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import LLMRunFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.serializers.twilio import TwilioFrameSerializer
    from pipecat.transports.websocket.fastapi import (
        FastAPIWebsocketParams,
        FastAPIWebsocketTransport,
    )

    serializer = _baseline_serializer(
        stream_sid=link.stream_sid, call_sid=link.call_sid, account_sid="", auth_token="",
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False))
    transport = FastAPIWebsocketTransport(websocket=ws, params=FastAPIWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
        serializer=serializer))
    context = LLMContext()
    user_aggregator, assistant_aggregator = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([
        transport.input(),
        services.stt,
        user_aggregator,
        services.llm,
        services.tts,
        transport.output(),
        assistant_aggregator,
    ])
    worker = PipelineWorker(pipeline, params=PipelineParams(
        audio_in_sample_rate=8000, audio_out_sample_rate=8000, enable_metrics=True,
        enable_usage_metrics=True))

    @transport.event_handler("on_client_connected")
    async def on_client_connected(_transport: Any, _client: Any) -> None:
        context.add_message({"role": "user", "content": "Please introduce yourself to the user."})
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(_transport: Any, _client: Any) -> None:
        await worker.cancel()

    return SimpleNamespace(worker=worker, serializer=serializer, context=context)


def use_baseline(*, force_gc: bool) -> None:
    """Swap the baseline into the call session (test-only: the product has no such switch)."""
    from pipecat.workers.runner import WorkerRunner

    import voice.session

    def runner(*, handle_sigint: bool = False, **_ignored: Any) -> WorkerRunner:
        return WorkerRunner(handle_sigint=handle_sigint, force_gc=force_gc)

    voice.session.build_inbound = build_baseline  # type: ignore[assignment]
    voice.session.WorkerRunner = runner  # type: ignore[assignment,misc]


def freeze_after_startup(app: Any) -> Any:
    """Experiment: ``gc.freeze()`` once the app has started, so a full collection (ours runs
    one after every call: ``WorkerRunner(force_gc=True)``) skips the long-lived heap."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def send_and_freeze(message: Any) -> None:
            if message["type"] == "lifespan.startup.complete":
                gc.collect()
                gc.freeze()
            await send(message)

        return await app(scope, receive, send_and_freeze)

    return wrapped


def log_slow_collections(threshold_s: float = 0.02) -> None:
    """Diagnostics: print every garbage collection that holds the event loop this long."""
    started: dict[str, float] = {}

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started["t"] = time.perf_counter()
        elif "t" in started:
            took = time.perf_counter() - started.pop("t")
            if took >= threshold_s:
                print(f"BENCH-GC generation {info['generation']} took {took * 1000:.0f} ms "
                      f"({info['collected']} collected)", flush=True)

    gc.callbacks.append(callback)


def turn_wait_ms(baseline: bool) -> float:
    """The deliberate wait between the end of speech and the turn's end."""
    if baseline:  # VAD stop; Smart Turn then answers at once when it judges the turn done
        from pipecat.audio.vad.vad_analyzer import VADParams

        return VADParams().stop_secs * 1000
    from pipelines.inbound import USER_SPEECH_TIMEOUT, VAD

    return (VAD.stop_secs + USER_SPEECH_TIMEOUT) * 1000


async def ensure_client(settings: Settings, number: str) -> int:
    dsn, _ = await resolve_url(settings)
    async with open_pool(dsn, max_size=2) as pool:
        client = await clients.get_by_phone(pool, number)
        if client is None:
            email = f"bench-{number.lstrip('+')}@frontdesk.local"
            owner = await users.get_by_email(pool, email) or await users.insert(pool, email=email)
            client = await clients.insert(pool, owner_id=owner.id, name="Bench",
                                          phone_number=number, balance_seconds=BALANCE,
                                          initial_greeting=GREETING)
        else:
            await pool.execute("UPDATE clients SET balance_seconds = $2, is_active = true"
                               " WHERE id = $1", client.id, BALANCE)
        return client.id


def serve_bench(settings: Settings, sockets: list[socket.socket] | None,
                on_started: Callable[[], None] | None, *, baseline: bool, force_gc: bool,
                log_gc: bool, gc_freeze: bool) -> None:
    """One bench server process (also each child of ``--workers N``)."""
    if baseline:
        use_baseline(force_gc=force_gc)
    if log_gc:
        log_slow_collections()
    calls = CallRegistry(settings.max_calls)
    app = create_app(settings, calls=calls, providers=BenchProviders())
    served = with_probe(freeze_after_startup(app) if gc_freeze else app, LoopStallProbe())
    config = uvicorn.Config(
        served, host=settings.host, port=settings.port, loop="uvloop", http="httptools",
        ws="websockets-sansio", ws_max_size=262_144, lifespan="on", log_level="warning",
        proxy_headers=False, timeout_graceful_shutdown=5)
    DrainingServer(config, calls, 10.0, on_started=on_started).run(sockets=sockets)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m tests.bench_server")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--force-gc", action="store_true", help="baseline: WorkerRunner(force_gc=True)")
    ap.add_argument("--number", default="+15555550142")
    ap.add_argument("--cpu", type=int, help="pin this process to one core")
    ap.add_argument("--log-gc", action="store_true", help="print collections of ≥ 20 ms")
    ap.add_argument("--gc-freeze", action="store_true",
                    help="experiment: gc.freeze() after start-up (not what the product does)")
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes on the port, as `frontdesk serve --workers N`")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    settings = Settings.from_env(os.environ)
    logs.configure(settings.log_level)
    client_id = asyncio.run(ensure_client(settings, args.number))
    info = {"pipeline": "baseline" if args.baseline else "frontdesk", "number": args.number,
            "client_id": client_id, "turn_wait_ms": turn_wait_ms(args.baseline),
            "pid": os.getpid(), "cpus": sorted(os.sched_getaffinity(0)),
            "workers": args.workers,
            "gc_freeze": args.gc_freeze, "force_gc": not args.baseline or args.force_gc}
    print("BENCH-SERVER " + json.dumps(info), flush=True)
    serve = functools.partial(serve_bench, baseline=args.baseline, force_gc=args.force_gc,
                              log_gc=args.log_gc, gc_freeze=args.gc_freeze)
    if args.workers == 1:
        serve(settings, None, None)
        return
    with opened(settings) as database:   # the children share what this process started
        children = settings.model_copy(update={"database_url": database.url})
        sockets = bind_sockets(settings.host, settings.port, args.workers)
        raise SystemExit(Supervisor(children, sockets, banner=lambda: "BENCH-SERVER ready",
                                    target=serve).run())


if __name__ == "__main__":
    main()
