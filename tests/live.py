"""The real app on a real socket: uvicorn on 127.0.0.1, in the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from frontdesk.app import create_app
from frontdesk.server import DrainingServer, uvicorn_options
from frontdesk.settings import Settings
from tests.fake_twilio_rest import FakeTwilioRest, fake_twilio_rest
from tests.serving import free_socket, serving
from voice.registry import CallRegistry

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "0" * 32
# A test machine's load is no measure of a test server's: admission by measured load off.
NO_LOAD_ADMISSION = {"ADMISSION_MAX_LOOP_LAG_MS": "0", "ADMISSION_MAX_CPU_PERCENT": "0"}


@dataclass
class LiveServer:
    url: str
    settings: Settings
    app: Any
    calls: CallRegistry
    twilio: FakeTwilioRest
    server: DrainingServer


def server_settings(pg_url: str, port: int, **overrides: Any) -> Settings:
    env = {"DATABASE_URL": pg_url, "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "LOCAL_MODELS": "false", "METER_TICK_SECONDS": "1", "HEARTBEAT_SECONDS": "0.5",
           "FRONTDESK_HOME": "/nonexistent",
           # The fake Twilio shares the server's event loop: a test that synthesizes speech
           # blocks both for a moment, which must not look like a peer that stopped reading.
           "WS_SEND_TIMEOUT_SECONDS": "10",
           # For the same reason the loop's load is no measure of the server's here.
           **NO_LOAD_ADMISSION}
    return Settings.from_env(env, **overrides)


@asynccontextmanager
async def live_server(pg_url: str, *, providers: Any, drain_seconds: float = 5.0,
                      app_options: dict[str, Any] | None = None,
                      **overrides: Any) -> AsyncIterator[LiveServer]:
    """``app_options`` go to create_app (``load``, ``load_models``); the rest to Settings."""
    async with fake_twilio_rest() as twilio:
        overrides.setdefault("twilio_api_base_url", twilio.url)
        async with _serve(pg_url, providers, twilio, drain_seconds, overrides,
                          app_options or {}) as server:
            yield server


@asynccontextmanager
async def _serve(pg_url: str, providers: Any, twilio: FakeTwilioRest, drain_seconds: float,
                 overrides: dict[str, Any], app_options: dict[str, Any]
                 ) -> AsyncIterator[LiveServer]:
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = server_settings(pg_url, port, **overrides)
    calls = CallRegistry(settings.max_calls)
    app = create_app(settings, calls=calls, providers=providers, **app_options)
    def draining(config: uvicorn.Config) -> DrainingServer:
        return DrainingServer(config, calls, drain_seconds)

    async with serving(app, sock, make_server=draining, lifespan="on",
                       **uvicorn_options(settings)) as server:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings, app=app, calls=calls,
                         twilio=twilio, server=server)
