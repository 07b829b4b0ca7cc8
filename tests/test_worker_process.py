"""`frontdesk worker` as its own process: it works the queue a server left to it, and stops
cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
from cryptography.fernet import Fernet

from tests.test_api_support import api_server, register
from tests.test_webhooks import add_endpoint, record
from tests.waiting import until
from tests.webhook_receiver import webhook_receiver


async def _ready(value):
    return value


async def test_a_separate_worker_process_delivers_and_stops_on_sigterm(pg_url, pool):
    key = Fernet.generate_key().decode()
    async with webhook_receiver() as receiver, \
            api_server(pg_url, event_workers=0, encryption_key=key,
                       webhook_allow_private_targets=True) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        await add_endpoint(owner, receiver)
        await record(pool, owner.id)
        env = {**os.environ, "DATABASE_URL": pg_url, "ENCRYPTION_KEY": key,
               "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "LOCAL_MODELS": "false"}
        exe = os.path.join(os.path.dirname(sys.executable), "frontdesk")
        proc = await asyncio.create_subprocess_exec(exe, "worker", env=env,
                                                    stdout=asyncio.subprocess.PIPE)
        try:
            await until(lambda: _ready(receiver.accepted), within=60, what="the delivery")
            assert receiver.accepted[0]["verified"]
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 30) == 0
        out = (await proc.stdout.read()).decode()
        assert "1 queue worker(s) running" in out


async def test_a_worker_killed_mid_delivery_is_replaced_and_the_delivery_completes(
        pg_url, pool):
    key = Fernet.generate_key().decode()
    async with webhook_receiver() as receiver, \
            api_server(pg_url, event_workers=0, encryption_key=key,
                       webhook_allow_private_targets=True) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        endpoint = await add_endpoint(owner, receiver)
        receiver.hold_first = True
        await record(pool, owner.id)
        env = {**os.environ, "DATABASE_URL": pg_url, "ENCRYPTION_KEY": key,
               "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "LOCAL_MODELS": "false",
               "JOB_HEARTBEAT_SECONDS": "2"}
        exe = os.path.join(os.path.dirname(sys.executable), "frontdesk")
        first = await asyncio.create_subprocess_exec(exe, "worker", env=env,
                                                     stdout=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(receiver.arrived.wait(), 60)   # the delivery is in flight
        finally:
            first.kill()                                          # ... and its worker dies
            await first.wait()
        receiver.release.set()
        second = await asyncio.create_subprocess_exec(exe, "worker", env=env,
                                                      stdout=asyncio.subprocess.DEVNULL)
        try:
            async def delivered():
                return await pool.fetchval("SELECT status = 'delivered' FROM webhook_deliveries")

            await until(delivered, within=60, what="the delivery after the restart")
        finally:
            second.send_signal(signal.SIGTERM)
            await asyncio.wait_for(second.wait(), 30)
        # Sent again after the restart: one delivery id, so the receiver keeps it once.
        assert len(receiver.received) == 2
        assert len({r["headers"]["x-frontdesk-delivery"] for r in receiver.received}) == 1
        assert len({r["json"]["id"] for r in receiver.received}) == 1
        (delivery,) = (await owner.get(f"/api/webhooks/{endpoint['id']}/deliveries")).json()[
            "items"]
        assert [a["status_code"] for a in delivery["attempts"]] == [200]
