"""A WebSocket whose sends cannot hang: a peer that stops reading ends the call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket


class BoundedSendWebSocket:
    """Wraps a Starlette WebSocket for Pipecat's transport; every send has a deadline."""

    def __init__(self, ws: WebSocket, timeout_seconds: float,
                 on_timeout: Callable[[], None]) -> None:
        self._ws = ws
        self._timeout = timeout_seconds
        self._on_timeout = on_timeout

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)

    async def send_text(self, data: str) -> None:
        await self._bounded(self._ws.send_text(data))

    async def send_bytes(self, data: bytes) -> None:
        await self._bounded(self._ws.send_bytes(data))

    async def _bounded(self, send: Any) -> None:
        try:
            await asyncio.wait_for(send, self._timeout)
        except TimeoutError:
            self._on_timeout()
            raise
