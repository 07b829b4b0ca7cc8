"""The job queue's worker: pgqueuer on a dedicated connection (LISTEN), the entrypoints of
every kind of job, and a clean stop. Runs inside ``frontdesk serve`` (EVENT_WORKERS) and as
``frontdesk worker``; any number of them share the queue through PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import timedelta
from typing import Any

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.models import Job, Schedule

from db import billing, outbox
from events import fanout, notifications, texts, webhooks
from events.deps import Deps
from events.recording_retention import RECORDING_RETENTION, expire_recordings
from tools.messaging import SEND_EMAIL, SEND_SMS

log = logging.getLogger("frontdesk.events")

# NOTIFY wakes a worker for new jobs; this bounds the wait for a retry coming due.
POLL = timedelta(seconds=1)
BILLING_DOWNGRADES = "billing.downgrades"


def _payload(job: Job) -> dict[str, Any]:
    return json.loads(job.payload or b"{}")


def build(deps: Deps, conn: asyncpg.Connection) -> PgQueuer:
    """A PgQueuer with every entrypoint registered."""
    pgq = PgQueuer.from_asyncpg_connection(conn)

    @pgq.entrypoint(outbox.FANOUT)
    async def fan_out(job: Job) -> None:
        await fanout.fan_out(deps, int(_payload(job)["event_id"]))

    @pgq.entrypoint(webhooks.DELIVER)
    async def deliver(job: Job) -> None:
        await webhooks.deliver(deps, int(_payload(job)["delivery_id"]))

    @pgq.entrypoint(SEND_SMS)
    async def send_sms(job: Job) -> None:
        await texts.send(deps, int(_payload(job)["sms_id"]), job.attempts)

    @pgq.entrypoint(SEND_EMAIL)
    async def send_email(job: Job) -> None:
        await notifications.send(deps, int(_payload(job)["email_id"]), job.attempts)

    @pgq.schedule(notifications.DIGEST, "5 * * * *")
    async def digest(_schedule: Schedule) -> None:
        await notifications.digests(deps)

    @pgq.schedule(RECORDING_RETENTION, "23 * * * *")
    async def recording_retention(_schedule: Schedule) -> None:
        await expire_recordings(deps.pool)

    @pgq.schedule(BILLING_DOWNGRADES, "41 * * * *")
    async def billing_downgrades(_schedule: Schedule) -> None:
        # Grace periods after a failed payment or a cancellation that ran out.
        downgraded = await billing.apply_due_downgrades(deps.pool)
        if downgraded:
            log.info("%d organisation(s) back on the free plan", len(downgraded))

    return pgq


class Worker:
    """One queue worker: ``await start()``, later ``await stop()``."""

    def __init__(self, deps: Deps, dsn: str, *, name: str = "worker") -> None:
        self._deps = deps
        self._dsn = dsn
        self._name = name
        self._conn: asyncpg.Connection | None = None
        self._pgq: PgQueuer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._conn = await asyncpg.connect(self._dsn)
        self._pgq = build(self._deps, self._conn)
        s = self._deps.settings
        self._task = asyncio.create_task(self._run(s.job_concurrency))

    async def _run(self, concurrency: int) -> None:
        assert self._pgq is not None
        try:
            await self._pgq.run(batch_size=max(1, concurrency // 2),
                                max_concurrent_tasks=max(2, concurrency),
                                heartbeat_timeout=timedelta(
                                    seconds=self._deps.settings.job_heartbeat_seconds),
                                dequeue_timeout=POLL)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s stopped on an error", self._name)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking jobs; wait (bounded) for the running ones; close the connection."""
        if self._pgq is not None:
            self._pgq.shutdown.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, grace)
        if self._conn is not None:
            await self._conn.close()


async def start_workers(deps: Deps, dsn: str, count: int) -> list[Worker]:
    workers = [Worker(deps, dsn, name=f"worker {i + 1}") for i in range(count)]
    for w in workers:
        await w.start()
    return workers


async def stop_workers(workers: list[Worker]) -> None:
    await asyncio.gather(*(w.stop() for w in workers))
