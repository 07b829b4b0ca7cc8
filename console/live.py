"""Live calls for the console: one LISTEN per process on the call-events channel, fanned
out to every open event stream (Server-Sent Events), each shown only its own clients.

Calls run in any server process; each publishes its events with pg_notify (db.call_events),
so a stream opened on any process sees every call. Nothing is replayed after a dropped
connection: a stream says ``hello`` when it opens (and ``resync`` when this process's
LISTEN connection came back), and the page then re-reads the calls in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

import api.clients
from api.auth import Principal, require
from api.errors import ApiError
from db import call_events
from db.listener import Listener

log = logging.getLogger("frontdesk.console")

HEARTBEAT_SECONDS = 15.0
RETRY_MS = 2000
QUEUE_SIZE = 1000

router = APIRouter()


class LiveHub:
    """This process's LISTEN connection and the queues of its open streams."""

    def __init__(self, dsn: str, *, heartbeat_seconds: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat_seconds = heartbeat_seconds
        self._listener = Listener(dsn, call_events.CHANNEL, self._on_notify,
                                  name="console live events",
                                  on_reconnected=lambda: self._fan_out({"kind": "resync"}))
        self._streams: set[asyncio.Queue[dict[str, Any]]] = set()
        self._closing = False
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """LISTEN from now on (a stream opening does it when nobody has yet: a process
        nobody watches holds no connection for it)."""
        async with self._starting:
            if not self._listener.started:
                await self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    def close_streams(self) -> None:
        """End every open stream (the server is shutting down; browsers reconnect to
        another process). Without it, a shutdown would wait on them for ever."""
        self._closing = True
        for queue in self._streams:
            self._put(queue, {"kind": "close"})

    @property
    def closing(self) -> bool:
        return self._closing

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        self._streams.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._streams.discard(queue)

    def __len__(self) -> int:
        return len(self._streams)

    def _on_notify(self, payload: str) -> None:
        try:
            event = json.loads(payload)
            if not isinstance(event, dict) or not isinstance(event.get("client_id"), int):
                raise ValueError
        except ValueError:
            log.warning("console live events: malformed notification ignored")
            return
        self._fan_out(event)

    def _fan_out(self, event: dict[str, Any]) -> None:
        for queue in self._streams:
            self._put(queue, event)

    @staticmethod
    def _put(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
        try:
            queue.put_nowait(event)
        except asyncio.QueueFull:
            # A stream that does not read: tell it to start over rather than lie.
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait(event if event["kind"] == "close" else {"kind": "resync"})


class _Scope:
    """Which clients this stream's caller may see, asked of the API's own scoping (and
    remembered for the life of the stream)."""

    def __init__(self, request: Request, principal: Principal) -> None:
        self._request = request
        self._principal = principal
        self._seen: dict[int, bool] = {}

    async def allows(self, client_id: int) -> bool:
        if client_id not in self._seen:
            try:
                await api.clients.load(self._request, self._principal, client_id)
                self._seen[client_id] = True
            except ApiError:
                self._seen[client_id] = False
        return self._seen[client_id]


def _frame(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def _events(request: Request, hub: LiveHub, scope: _Scope) -> AsyncIterator[str]:
    if hub.closing:
        return
    queue = hub.subscribe()   # before the first await: nothing published after is lost
    try:
        yield f"retry: {RETRY_MS}\n: live calls\n\n"
        yield _frame("hello", {})
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), hub.heartbeat_seconds)
            except TimeoutError:
                yield ": heartbeat\n\n"   # keeps proxies from closing an idle stream
                continue
            kind = event.get("kind")
            if kind == "close":
                return
            if kind == "resync":
                yield _frame("resync", {})
            elif kind in call_events.KINDS and await scope.allows(event["client_id"]):
                yield _frame(kind, event)
    finally:
        hub.unsubscribe(queue)


@router.get("/console/api/live", include_in_schema=False)
async def live(request: Request,
               principal: Annotated[Principal, Depends(require("read:calls"))]
               ) -> StreamingResponse:
    """Server-Sent Events: ``started``, ``turn``, ``tool`` and ``ended`` for the caller's
    calls, ``hello``/``resync`` when the page should re-read the calls in progress."""
    hub: LiveHub = request.state.console
    try:
        await hub.start()
    except (OSError, asyncpg.PostgresError) as exc:
        log.warning("console live events: cannot LISTEN: %s", exc)
        raise ApiError(503, "live events are unavailable right now") from None
    return StreamingResponse(
        _events(request, hub, _Scope(request, principal)), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
