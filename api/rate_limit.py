"""Per-user, per-key and per-address request limits, counted in PostgreSQL so every
process shares them. The counters go out as X-RateLimit-* on every response."""

from __future__ import annotations

import math
import random

from fastapi import Request

from api.errors import ApiError
from api.plans import api_requests_per_hour
from db import rate_limits

_PRUNE_ONE_IN = 500  # now and then, forget buckets idle for a day (departed keys, addresses)


async def check(request: Request, bucket: str, limit: int, *,
                window: int | None = None) -> None:
    state = request.state.api
    window = window or state.settings.rate_limit_window_seconds
    hit = await rate_limits.hit(state.pool, bucket, window_seconds=window)
    headers = {"X-RateLimit-Limit": limit, "X-RateLimit-Remaining": max(0, limit - hit.count),
               "X-RateLimit-Reset": hit.reset_at}
    # Several limits may apply (per key, per plan): the headers show the nearest.
    previous = getattr(request.state, "rate_limit", None)
    if previous is None or headers["X-RateLimit-Remaining"] < previous["X-RateLimit-Remaining"]:
        request.state.rate_limit = headers
    if random.randrange(_PRUNE_ONE_IN) == 0:
        await rate_limits.prune(state.pool, older_than_seconds=max(86_400, window))
    if hit.count > limit:
        retry = max(1, math.ceil(hit.seconds_left))
        raise ApiError(429, f"rate limit of {limit} requests per {window} s exceeded;"
                            f" retry in {retry} s", headers={"Retry-After": str(retry)})


PLAN_WINDOW_SECONDS = 3600


async def by_plan(request: Request, organization_id: int) -> None:
    """API keys: the organisation's plan sets its requests per hour (api.plans), shared by
    all of its keys. Signed-in sessions (the console) are bound by the per-user limit."""
    name = await rate_limits.plan_of(request.state.api.pool, organization_id)
    limit = api_requests_per_hour(request.state.api.settings, name or "free")
    if limit is not None:
        await check(request, f"plan:{organization_id}", limit, window=PLAN_WINDOW_SECONDS)


async def by_address(request: Request) -> None:
    """Dependency for the unauthenticated sign-in endpoints: limit per client address."""
    host = request.client.host if request.client else "unknown"
    await check(request, f"addr:{host}", request.state.api.settings.auth_rate_limit_requests)
