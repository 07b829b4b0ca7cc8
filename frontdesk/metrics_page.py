"""GET /metrics: Prometheus text exposition of this process (prometheus_client).

The counters and histograms live where they are measured (``voice.metrics``,
``pipelines.metrics``, ``tools.metrics``) in prometheus_client's process registry; what
belongs to this app (calls in progress, the database pool, the job queue's depth) is read
at each scrape. Open to loopback and private-network scrapers; with ``METRICS_TOKEN`` set,
to anyone sending ``Authorization: Bearer <token>`` and to no one else.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Gauge
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from db import outbox
from frontdesk.settings import Settings
from voice.registry import CallRegistry

log = logging.getLogger("frontdesk")

# Make sure every module's figures are registered before the first scrape.
import pipelines.metrics  # noqa: E402,F401
import tools.metrics  # noqa: E402,F401
import voice.metrics  # noqa: E402,F401


def allowed(request: Request, settings: Settings) -> bool:
    token = settings.secret("metrics_token")
    if token:
        sent = request.headers.get("authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


async def _app_figures(pool: asyncpg.Pool, calls: CallRegistry) -> bytes:
    registry = CollectorRegistry()
    Gauge("frontdesk_calls_in_progress", "Calls this process carries now",
          registry=registry).set(len(calls))
    Gauge("frontdesk_calls_max", "MAX_CALLS of this process", registry=registry).set(
        calls.limit)
    connections = Gauge("frontdesk_db_pool_connections",
                        "The process's database connections, by state", ["state"],
                        registry=registry)
    size, idle = pool.get_size(), pool.get_idle_size()
    connections.labels("in_use").set(size - idle)
    connections.labels("idle").set(idle)
    Gauge("frontdesk_db_pool_max", "The pool's largest size", registry=registry).set(
        pool.get_max_size())
    depth = Gauge("frontdesk_job_queue_depth", "Background jobs waiting or running, by"
                  " entrypoint and status (shared by every process)",
                  ["entrypoint", "status"], registry=registry)
    try:
        for entrypoint, status, count in await outbox.queue_depth(pool):
            depth.labels(entrypoint, status).set(count)
    except (asyncpg.PostgresError, OSError) as exc:
        log.warning("/metrics: job queue depth not read: %s", type(exc).__name__)
    return generate_latest(registry)


async def metrics(request: Request) -> Response:
    state = request.state.voice
    if not allowed(request, state.settings):
        return PlainTextResponse("metrics: send METRICS_TOKEN as a Bearer token, or scrape"
                                 " from a private network", status_code=403)
    body = generate_latest(REGISTRY) + await _app_figures(state.pool, state.calls)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
