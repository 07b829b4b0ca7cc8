"""uvicorn, with calls drained before the sockets are closed."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn

from voice.registry import CallRegistry


class DrainingServer(uvicorn.Server):
    """First SIGTERM/SIGINT: refuse new calls and let live ones finish (or say goodbye);
    then shut down. A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, calls: CallRegistry, drain_seconds: float,
                 banner: Callable[[], str] | None = None) -> None:
        super().__init__(config)
        self._banner = banner
        self.calls = calls
        self.drain_seconds = drain_seconds
        self._drain: asyncio.Task[None] | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self._banner and not self.should_exit:
            print(self._banner(), flush=True)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._drain is None and len(self.calls) and sig in (signal.SIGTERM, signal.SIGINT):
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_exit(sig, frame))
            return
        super().handle_exit(sig, frame)

    async def _drain_then_exit(self, sig: int, frame: FrameType | None) -> None:
        await self.calls.drain(self.drain_seconds)
        super().handle_exit(sig, frame)

    async def shutdown_gracefully(self) -> None:
        """What the first signal does, without a signal (for embedding and tests)."""
        await self.calls.drain(self.drain_seconds)
        self.should_exit = True
