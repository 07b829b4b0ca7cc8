"""Benchmark: event -> delivered webhook, through the real queue, workers and HTTP.

    .venv/bin/python -m tests.bench_events --workers 1 4 --rate 50 --seconds 10 \
        --burst 2000 --backlog 10000

Needs the PostgreSQL on 127.0.0.1:5432 (it makes and drops its own database). Workers are
`frontdesk worker` processes; the receiver is uvicorn in this process. Reports latency from
commit to the receiver's arrival (p50, p95) at a steady rate, throughput on a burst, and the
time to drain a backlog queued while no worker ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time

import asyncpg
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from api.crypto import Sealer
from db import outbox, users, webhooks
from db.migrate import migrate
from db.pool import create_pool
from tests.serving import free_socket, serving

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
DB = "frontdesk_bench_events"
KEY = Fernet.generate_key().decode()


async def setup() -> str:
    conn = await asyncpg.connect(SERVER)
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.execute(f'CREATE DATABASE "{DB}"')
    await conn.close()
    url = SERVER.rsplit("/", 1)[0] + "/" + DB
    conn = await asyncpg.connect(url)
    await migrate(conn)
    await conn.close()
    return url


def start_workers(url: str, n: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": url, "ENCRYPTION_KEY": KEY, "LOCAL_MODELS": "false",
           "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true", "LOG_LEVEL": "WARNING"}
    exe = os.path.join(os.path.dirname(sys.executable), "frontdesk")
    return [subprocess.Popen([exe, "worker", "--workers", "1"], env=env,
                             stdout=subprocess.DEVNULL) for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait(30)


async def record(pool: asyncpg.Pool, owner_id: int, count: int, per_tx: int = 100) -> None:
    for start in range(0, count, per_tx):
        async with pool.acquire() as conn, conn.transaction():
            for _ in range(min(per_tx, count - start)):
                await outbox.record(conn, "call.ended", {"t": time.time()}, owner_id=owner_id)


async def until(arrivals: list, n: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while len(arrivals) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(arrivals)} of {n} delivered in {limit:.0f} s")
        await asyncio.sleep(0.02)


async def run(args: argparse.Namespace) -> None:
    url = await setup()
    arrivals: list[tuple[float, float]] = []   # (sent at commit, arrived)

    async def hook(request: Request) -> PlainTextResponse:
        body = json.loads(await request.body())
        arrivals.append((body["data"]["t"], time.time()))
        return PlainTextResponse("ok")

    sock = free_socket()
    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    pool = await create_pool(url, min_size=2, max_size=4)
    results = []
    async with serving(app, sock, lifespan="off", access_log=False):
        owner = await users.insert(pool, email="bench@example.com")
        await webhooks.insert(pool, owner_id=owner.id, client_id=None,
                              url=f"http://127.0.0.1:{sock.getsockname()[1]}/hooks",
                              events=["call.ended"], description="bench",
                              secret_ciphertext=Sealer([KEY]).seal({"secret": "whsec_x"}))
        for n in args.workers:
            procs = start_workers(url, n)
            try:
                arrivals.clear()
                await record(pool, owner.id, 1)                  # warm: workers are up
                await until(arrivals, 1, 60)
                # steady rate: latency
                arrivals.clear()
                total = int(args.rate * args.seconds)
                for _ in range(total):
                    await record(pool, owner.id, 1)
                    await asyncio.sleep(1 / args.rate)
                await until(arrivals, total, 120)
                lat = sorted((b - a) * 1000 for a, b in arrivals)
                p50, p95 = statistics.median(lat), lat[int(0.95 * len(lat)) - 1]
                # burst: throughput
                arrivals.clear()
                started = time.time()
                await record(pool, owner.id, args.burst)
                await until(arrivals, args.burst, 600)
                burst_rate = args.burst / (max(b for _, b in arrivals) - started)
                # backlog queued while no worker ran, then drained
                stop(procs)
                procs = []
                await record(pool, owner.id, args.backlog)
                arrivals.clear()
                started = time.time()
                procs = start_workers(url, n)
                await until(arrivals, args.backlog, 1200)
                drain = max(b for _, b in arrivals) - started
            finally:
                stop(procs)
            results.append((n, p50, p95, burst_rate, drain))
            print(f"workers={n}: latency p50 {p50:.0f} ms p95 {p95:.0f} ms at {args.rate}/s;"
                  f" burst {args.burst}: {burst_rate:.0f} deliveries/s;"
                  f" backlog {args.backlog}: drained in {drain:.1f} s"
                  f" ({args.backlog / drain:.0f}/s, including worker start-up)", flush=True)
    await pool.close()
    conn = await asyncpg.connect(SERVER)
    await conn.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    await conn.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    p.add_argument("--rate", type=float, default=50.0, help="events per second (latency run)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--burst", type=int, default=2000)
    p.add_argument("--backlog", type=int, default=10_000)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
