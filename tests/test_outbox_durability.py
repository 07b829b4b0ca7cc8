"""The outbox is durable: an event committed while no worker runs is delivered once, by
whichever of several workers picks it up, when they start."""

from __future__ import annotations

import httpx

from api.state import ApiState
from events.deps import Deps
from events.worker import Worker
from tests.test_api_support import api_server, register
from tests.test_webhooks import FAST, _ready, add_endpoint, deliveries, record
from tests.waiting import until
from tests.webhook_receiver import webhook_receiver


async def test_an_event_committed_while_no_worker_runs_is_delivered_once_after_restart(
        pg_url, pool):
    async with api_server(pg_url, event_workers=0, **FAST) as srv, \
            httpx.AsyncClient(base_url=srv.url) as http, webhook_receiver() as receiver:
        owner = await register(http)
        endpoint = await add_endpoint(owner, receiver)
        # The worker "died" after the commit: the event and its job wait in PostgreSQL.
        assert await record(pool, owner.id, key="booked:1") is not None
        assert await record(pool, owner.id, key="booked:1") is None   # idempotent by key
        assert await pool.fetchval("SELECT count(*) FROM pgqueuer") == 1
        sealer = await ApiState(settings=srv.settings, pool=pool, jwt_secret="").sealer()
        deps = Deps(srv.settings, pool, http, sealer)
        workers = [Worker(deps, pg_url, name=f"w{i}") for i in range(2)]
        for w in workers:
            await w.start()
        try:
            await until(lambda: _ready(receiver.accepted), what="the delivery")

            async def settled():
                return await pool.fetchval("SELECT count(*) FROM pgqueuer"
                                           " WHERE status IN ('queued', 'picked')") == 0

            await until(settled, what="the queue to empty")
        finally:
            for w in workers:
                await w.stop()
        assert len(receiver.received) == 1
        (delivery,) = await deliveries(owner, endpoint["id"], "delivered")
        assert len(delivery["attempts"]) == 1
