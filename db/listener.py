"""A dedicated connection LISTENing on one channel, reconnecting when it drops (a restarted
database must not silence cross-process notifications for good)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg

log = logging.getLogger("frontdesk.db")

RECONNECT_SECONDS = (0.5, 1.0, 2.0, 5.0)


class Listener:
    """``on_payload(payload)`` for every notification; ``on_reconnected()`` after the
    connection came back (notifications sent meanwhile are lost)."""

    def __init__(self, dsn: str, channel: str, on_payload: Callable[[str], None], *,
                 name: str, on_reconnected: Callable[[], None] | None = None) -> None:
        self._dsn = dsn
        self._channel = channel
        self._on_payload = on_payload
        self._on_reconnected = on_reconnected
        self._name = name
        self._conn: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        await self._connect()    # the first connection fails loudly
        self._task = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self._dsn)
        self._lost.clear()
        conn.add_termination_listener(lambda _conn: self._lost.set())
        await conn.add_listener(self._channel, self._notified)
        self._conn = conn

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_payload(payload)

    async def _keep_connected(self) -> None:
        while True:
            await self._lost.wait()
            log.warning("%s: connection lost, reconnecting", self._name)
            attempt = 0
            while self._lost.is_set():
                await asyncio.sleep(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
                attempt += 1
                try:
                    await self._connect()
                except (OSError, asyncpg.PostgresError) as exc:
                    log.warning("%s: reconnect failed: %s", self._name, exc)
            if self._on_reconnected is not None:
                self._on_reconnected()
