"""This process's live calls: admission control and draining on shutdown.

A place is counted for each admitted call, each stream whose token has verified and is
being activated, and each call /voice accepted whose token is neither used nor expired.
Sockets that have not authenticated never hold one (they wait in voice.stream_gate), so
nobody without a token from a signed /voice can make the lines busy.

Cross-process state (what an operator sees) lives in the active_calls table; this
registry only knows the calls running here.
"""

from __future__ import annotations

import asyncio
import logging
import time
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
        self._claimed = 0                       # verified streams being activated
        self._expected: dict[str, float] = {}   # call SID -> when its token expires
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        return len(self._calls)

    def expected(self) -> int:
        """Calls /voice accepted whose stream has not come yet (tokens live and unused)."""
        now = time.monotonic()
        for call_sid in [sid for sid, until in self._expected.items() if until <= now]:
            del self._expected[call_sid]
        return len(self._expected)

    def has_room(self) -> bool:
        return self.accepting and len(self._calls) + self._claimed + self.expected() < self.limit

    def expect(self, call_sid: str, ttl_seconds: float) -> bool:
        """/voice: hold a place for this call until its token is used or expires; False
        when there is no room (a retried webhook for the same call keeps its place)."""
        self.expected()   # an expired place is not kept by a late retry
        if call_sid not in self._expected and not self.has_room():
            return False
        self._expected[call_sid] = time.monotonic() + ttl_seconds
        return True

    def forget(self, call_sid: str) -> None:
        """The call will not come (refused after all, or ended before connecting)."""
        self._expected.pop(call_sid, None)

    @asynccontextmanager
    async def claim(self, call_sid: str) -> AsyncIterator[Slot]:
        """For a stream whose token verified: take the place /voice held for it (or a free
        one, for a token another process issued) while the call is activated;
        ``slot.admit`` turns it into a call."""
        held = self._expected.pop(call_sid, 0.0) > time.monotonic()
        if not self.accepting or not (held or self.has_room()):
            raise AtCapacity
        self._claimed += 1
        slot = Slot(self)
        try:
            yield slot
        finally:
            if not slot.converted:
                self._claimed -= 1

    def _add(self, session: CallSession) -> None:
        self._claimed -= 1
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
