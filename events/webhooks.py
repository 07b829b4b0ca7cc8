"""Webhook deliveries: one signed POST per attempt, retried on a fixed schedule (about 1, 5
and 30 minutes by default), then dead-lettered. An endpoint failing for a day is disabled
and its owner e-mailed."""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pgqueuer.errors import RetryRequested

from db import emails, outbox, webhooks
from db.webhooks import Endpoint
from events import signing, targets
from events.deps import Deps

log = logging.getLogger("frontdesk.webhooks")

DELIVER = "webhook.deliver"
RESPONSE_KEEP = 1024
USER_AGENT = "frontdesk-webhooks/1"

# What an endpoint may subscribe to. payment.* are recorded once billing exists.
EVENT_TYPES = ("call.started", "call.ended", "appointment.booked", "appointment.rescheduled",
               "appointment.cancelled", "message.taken", "contact.created",
               "payment.completed", "payment.failed")


def body_of(event: dict[str, Any]) -> bytes:
    """The JSON every endpoint receives for one event, the same bytes on every attempt."""
    return json.dumps({
        "id": f"evt_{event['id']}", "type": event["type"],
        "created_at": event["created_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "client_id": event["client_id"], "data": event["data"],
    }, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    status_code: int | None
    error: str | None
    latency_ms: int
    response: str
    permanent: bool = False   # retrying cannot help (the target is refused)


async def post(deps: Deps, url: str, secret: str, body: bytes, *, event_type: str,
               delivery_id: int | str) -> AttemptResult:
    """One signed POST, bounded in connect and read time, to a checked address."""
    s = deps.settings
    started = time.perf_counter()
    try:
        target = await targets.resolve(url, allow_private=s.webhook_allow_private_targets)
    except targets.TargetRefused as exc:
        return AttemptResult(False, None, str(exc), 0, "", permanent=True)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               "Host": target.host_header, "X-Frontdesk-Event": event_type,
               "X-Frontdesk-Delivery": str(delivery_id),
               signing.HEADER: signing.sign(secret, body)}
    timeout = httpx.Timeout(s.webhook_timeout_seconds, connect=s.webhook_connect_timeout_seconds)
    try:
        response = await deps.http.post(target.url, content=body, headers=headers,
                                        timeout=timeout, follow_redirects=False,
                                        extensions={"sni_hostname": target.host})
    except httpx.HTTPError as exc:
        latency = round((time.perf_counter() - started) * 1000)
        return AttemptResult(False, None, f"{type(exc).__name__}: {exc}"[:300], latency, "")
    latency = round((time.perf_counter() - started) * 1000)
    ok = 200 <= response.status_code < 300
    return AttemptResult(ok, response.status_code, None if ok else f"HTTP {response.status_code}",
                         latency, response.text[:RESPONSE_KEEP])


async def deliver(deps: Deps, delivery_id: int) -> None:
    """The job: one attempt of one delivery. Safe to run twice (a delivered one is done)."""
    pool = deps.pool
    delivery = await webhooks.delivery(pool, delivery_id)
    if delivery is None or delivery.status != "pending":
        return
    endpoint = await webhooks.get(pool, delivery.endpoint_id)
    event = await pool.fetchrow("SELECT id, type, client_id, data, created_at FROM events"
                                " WHERE id = $1", delivery.event_id)
    if endpoint is None or event is None:
        return
    if not endpoint.is_active:
        await webhooks.record_attempt(pool, delivery_id, status_code=None, latency_ms=0,
                                      error="endpoint disabled", response="", outcome="dead",
                                      next_attempt_at=None)
        return
    try:
        secret = deps.sealer.open(endpoint.secret_ciphertext)["secret"]
    except ValueError:   # ENCRYPTION_KEY changed without keeping the old key
        log.error("webhook endpoint %d: cannot decrypt its secret", endpoint.id)
        await webhooks.record_attempt(pool, delivery_id, status_code=None, latency_ms=0,
                                      error="cannot decrypt the endpoint's secret", response="",
                                      outcome="dead", next_attempt_at=None)
        return
    result = await post(deps, endpoint.url, secret, body_of(dict(event)),
                        event_type=event["type"], delivery_id=delivery_id)
    delays = deps.settings.webhook_delays
    retry_in = None
    if not result.ok and not result.permanent and delivery.attempts < len(delays):
        # +-10 % so a receiver coming back up is not hit by every retry at once
        retry_in = delays[delivery.attempts] * random.uniform(0.9, 1.1)
    outcome = "delivered" if result.ok else ("pending" if retry_in is not None else "dead")
    async with pool.acquire() as conn, conn.transaction():
        await webhooks.record_attempt(
            conn, delivery_id, status_code=result.status_code, error=result.error,
            latency_ms=result.latency_ms, response=result.response, outcome=outcome,
            next_attempt_at=(datetime.now(UTC) + timedelta(seconds=retry_in))
            if retry_in is not None else None)
        if result.ok:
            await webhooks.endpoint_succeeded(conn, endpoint.id)
        elif await webhooks.endpoint_failed(
                conn, endpoint.id,
                disable_after_seconds=deps.settings.webhook_disable_after_seconds):
            await _tell_owner_disabled(conn, endpoint)
    if result.ok:
        log.info("webhook delivery %d to endpoint %d: %s in %d ms", delivery_id, endpoint.id,
                 result.status_code, result.latency_ms)
    else:
        log.warning("webhook delivery %d to endpoint %d failed (%s); %s", delivery_id,
                    endpoint.id, result.error, "retrying" if retry_in is not None else "dead")
    if retry_in is not None:
        raise RetryRequested(delay=timedelta(seconds=retry_in), reason=result.error or "")


async def _tell_owner_disabled(conn: Any, endpoint: Endpoint) -> None:
    from events.notifications import SEND_EMAIL

    for owner_id, address in await emails.owner_addresses(
            conn, organization_id=endpoint.organization_id):
        email = await emails.insert(
            conn, kind="webhook_disabled", to_address=address, owner_id=owner_id,
            client_id=endpoint.client_id, key=f"webhook_disabled:{endpoint.id}:{address}:"
            f"{datetime.now(UTC):%Y%m%d%H%M}",
            subject="A webhook endpoint was disabled",
            body=f"Deliveries to {endpoint.url} have been failing for more than a day, so "
                 "frontdesk has stopped sending to it. Fix the endpoint, then enable it "
                 f"again (POST /api/webhooks/{endpoint.id}/enable) and redeliver what was "
                 "missed from its dead-letter list.")
        if email is not None:
            await outbox.enqueue(conn, SEND_EMAIL, {"email_id": email.id},
                                 key=f"email:{email.id}")


async def fan_out(conn: Any, event: dict[str, Any]) -> int:
    """A delivery (and its job) per subscribed endpoint; returns how many were new."""
    count = 0
    for endpoint in await webhooks.subscribed(conn, organization_id=event["organization_id"],
                                              client_id=event["client_id"],
                                              event_type=event["type"]):
        delivery_id = await webhooks.create_delivery(conn, endpoint.id, event["id"])
        if delivery_id is not None:
            await outbox.enqueue(conn, DELIVER, {"delivery_id": delivery_id},
                                 key=f"delivery:{delivery_id}")
            count += 1
    return count
