"""``frontdesk worker``: queue workers in a process of their own, stopped by SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal

import httpx

from api.state import ApiState
from db.pool import open_pool
from events.deps import Deps
from events.worker import start_workers, stop_workers
from frontdesk.database import resolve_url
from frontdesk.settings import Settings

log = logging.getLogger("frontdesk")


async def run_workers(settings: Settings, count: int) -> None:
    dsn, _ = await resolve_url(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_pool(dsn, max_size=2 + 2 * count) as pool, httpx.AsyncClient() as http:
        # The API's sealer opens the secrets it sealed (webhook secrets, Twilio tokens).
        sealer = await ApiState(settings=settings, pool=pool, jwt_secret="").sealer()
        workers = await start_workers(Deps(settings, pool, http, sealer), dsn, count)
        log.info("frontdesk worker: %d queue worker(s) running", count)
        print(f"frontdesk worker: {count} queue worker(s) running", flush=True)
        try:
            await stop.wait()
        finally:
            await stop_workers(workers)
