"""This process's heartbeat, and the finalization of calls left open by dead processes.

A process registers at start-up and beats every few seconds. Any process (at start-up and
then periodically) finalizes the calls of processes that are certainly dead: on this host
with no such pid, or silent for longer than STALE_AFTER_SECONDS. Such calls end with
``server_restart`` at their last heartbeat, billed up to it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid

import asyncpg

from db import active_calls, conversations, processes
from voice.session import finalize_conversation

log = logging.getLogger("frontdesk.liveness")

REAP_EVERY_BEATS = 6


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessLiveness:
    def __init__(self, pool: asyncpg.Pool, *, heartbeat_seconds: float,
                 stale_after_seconds: float, pending_ttl_seconds: float) -> None:
        self.process_id = uuid.uuid4()
        self.hostname = socket.gethostname()
        self._pool = pool
        self._beat = heartbeat_seconds
        self._stale = stale_after_seconds
        self._pending_ttl = pending_ttl_seconds
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Register, finalize what dead processes left open, start beating."""
        await processes.register(self._pool, process_id=self.process_id,
                                 hostname=self.hostname, pid=os.getpid())
        recovered = await self.reap()
        self._task = asyncio.create_task(self._loop())
        return recovered

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await processes.remove(self._pool, self.process_id)

    async def _loop(self) -> None:
        beats = 0
        while True:
            await asyncio.sleep(self._beat)
            try:
                await processes.heartbeat(self._pool, self.process_id)
                beats += 1
                if beats % REAP_EVERY_BEATS == 0:
                    await self.reap()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("heartbeat failed: %s", exc)

    async def reap(self) -> int:
        """Finalize calls of dead processes; return how many."""
        dead = await processes.dead(self._pool, me=self.process_id, hostname=self.hostname,
                                    stale_after_seconds=self._stale, pid_alive=pid_alive)
        finalized = 0
        for call in await active_calls.of_processes(self._pool, dead) if dead else []:
            if await finalize_conversation(
                    self._pool, conversation_id=call.conversation_id, client_id=call.client_id,
                    call_sid=call.call_sid, end_reason="server_restart",
                    ended_at=call.heartbeat_at):
                finalized += 1
                log.warning("call %s finalized as server_restart (its process died)",
                            call.call_sid)
        for process_id in dead:
            await processes.remove(self._pool, process_id)
        finalized += await self._orphans()
        await conversations.expire_pending(self._pool, self._pending_ttl)
        return finalized

    async def _orphans(self) -> int:
        """Active conversations with no live-call row (e.g. a row deleted by hand)."""
        count = 0
        for conv in await conversations.orphaned(self._pool, older_than_seconds=self._stale):
            count += await finalize_conversation(
                self._pool, conversation_id=conv.id, client_id=conv.client_id,
                call_sid=conv.call_sid, end_reason="server_restart")
        return count
