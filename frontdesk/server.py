"""uvicorn, with calls drained before the sockets are closed."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import uvicorn

from frontdesk.settings import Settings
from voice.registry import CallRegistry


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How every frontdesk uvicorn serves (``frontdesk serve`` and the test servers)."""
    send_timeout = settings.ws_send_timeout_seconds
    return {
        "ws": "websockets-sansio", "ws_max_size": 262_144,
        "log_config": None,   # uvicorn's own lines go through frontdesk.logs like ours
        # A peer that stops reading fills socket buffers for a long while before a send
        # blocks; a ping it does not answer shows it at once. Pinged every quarter of the
        # send timeout and dropped three quarters after an unanswered ping, a peer that
        # has stopped reading is gone within the send timeout.
        "ws_ping_interval": send_timeout / 4, "ws_ping_timeout": send_timeout * 3 / 4,
        # Behind a proxy, its X-Forwarded-For names the client (per-address stream bounds).
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
    }


class DrainingServer(uvicorn.Server):
    """First SIGTERM/SIGINT: refuse new calls and let live ones finish (or say goodbye);
    then shut down. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, calls: CallRegistry, drain_seconds: float,
                 banner: Callable[[], str] | None = None,
                 on_started: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._banner = banner
        self._on_started = on_started
        self.calls = calls
        self.drain_seconds = drain_seconds
        self._drain: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Listening, and /readyz already answers; the banner (and a supervisor's "started")
        # waits for the speech models, so a first call made on seeing it is not turned away.
        readiness = getattr(getattr(self.config.app, "state", None), "readiness", None)
        if readiness is not None:
            loaded = asyncio.ensure_future(readiness.wait_for_models())
            while not loaded.done() and not self.should_exit:   # Ctrl-C still stops it
                await asyncio.wait({loaded}, timeout=0.2)
            loaded.cancel()
        if self._banner and not self.should_exit:
            print(self._banner(), flush=True)
        if self._on_started and not self.should_exit:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn raises the signal it stopped on again once it has shut down, so the
        # process dies of it (exit -15) before anything after run() can clean up: the
        # embedded PostgreSQL would be left running. A signal is how this server is asked
        # to stop; stopping is a success.
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None and len(self.calls) and sig in (signal.SIGTERM, signal.SIGINT):
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit(sig, frame))
            return
        super().handle_exit(sig, frame)

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        await self.calls.drain(self.drain_seconds)
        super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Open event streams (the console's live calls) never finish by themselves: end
        # them, or uvicorn waits on them for ever.
        hub = getattr(getattr(self.config.app, "state", None), "live_hub", None)
        if hub is not None:
            hub.close_streams()
        await super().shutdown(sockets)

    async def shutdown_gracefully(self) -> None:
        """What the first signal does, without a signal (for embedding and tests)."""
        await self.calls.drain(self.drain_seconds)
        self.should_exit = True
