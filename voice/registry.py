"""This process's live calls: admission control and draining on shutdown.

Cross-process state (what an operator sees) lives in the active_calls table; this
registry only knows the calls running here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from voice.session import CallSession

log = logging.getLogger("frontdesk.calls")


class AtCapacity(Exception):
    """No room for another call in this process, or it is shutting down."""


class CallRegistry:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.accepting = True
        self._calls: dict[str, CallSession] = {}
        self._reserved = 0
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        return len(self._calls)

    def has_room(self) -> bool:
        return self.accepting and len(self._calls) + self._reserved < self.limit

    @asynccontextmanager
    async def reserve(self) -> AsyncIterator[Slot]:
        """Hold a place while a stream is verified; ``slot.admit`` turns it into a call."""
        if not self.has_room():
            raise AtCapacity
        self._reserved += 1
        slot = Slot(self)
        try:
            yield slot
        finally:
            if not slot.converted:
                self._reserved -= 1

    def _add(self, session: CallSession) -> None:
        self._reserved -= 1
        self._calls[session.call_sid] = session
        self._empty.clear()

    def _remove(self, session: CallSession) -> None:
        self._calls.pop(session.call_sid, None)
        if not self._calls:
            self._empty.set()

    def get(self, call_sid: str) -> CallSession | None:
        return self._calls.get(call_sid)

    def sessions(self) -> list[CallSession]:
        return list(self._calls.values())

    async def drain(self, grace_seconds: float) -> None:
        """Refuse new calls, let live ones finish for up to ``grace_seconds``, then end them."""
        self.accepting = False
        if self._calls:
            log.info("draining %d call(s), up to %.0f s", len(self._calls), grace_seconds)
        try:
            await asyncio.wait_for(self._empty.wait(), grace_seconds)
        except TimeoutError:
            for session in self.sessions():
                await session.end_with_goodbye("server_shutdown")
            try:
                await asyncio.wait_for(self._empty.wait(), 20)
            except TimeoutError:
                for session in self.sessions():
                    await session.cancel("server_shutdown")
                await self._empty.wait()


class Slot:
    """A reserved place in the registry."""

    def __init__(self, registry: CallRegistry) -> None:
        self._registry = registry
        self.converted = False

    @asynccontextmanager
    async def admit(self, session: CallSession) -> AsyncIterator[None]:
        self.converted = True
        self._registry._add(session)
        try:
            yield
        finally:
            self._registry._remove(session)
