"""Outbound webhooks end to end: registration, signed deliveries to a local receiver,
retries, the dead-letter list, redelivery, tests, private targets, the durable outbox."""

from __future__ import annotations

import httpx
import pytest

from db import outbox
from tests.test_api_support import api_server, assert_error, register
from tests.waiting import until
from tests.webhook_receiver import webhook_receiver

FAST = {"webhook_allow_private_targets": True, "webhook_retry_delays": "0.2,0.2,0.2",
        "job_retry_base_seconds": 0.1}


@pytest.fixture(scope="module")
async def server(pg_url):
    async with api_server(pg_url, **FAST) as srv:
        yield srv


@pytest.fixture
async def receiver():
    async with webhook_receiver() as r:
        yield r


async def add_endpoint(owner, receiver, events=("appointment.booked",), **extra) -> dict:
    response = await owner.post("/api/webhooks", json={"url": receiver.url,
                                                        "events": list(events), **extra})
    assert response.status_code == 201, response.text
    body = response.json()
    receiver.secret = body["secret"]
    return body


async def record(pool, owner_id: int, type_: str = "appointment.booked", key: str | None = None,
                 **data) -> int | None:
    async with pool.acquire() as conn, conn.transaction():
        return await outbox.record(conn, type_, data or {"appointment_id": 1},
                                   owner_id=owner_id, key=key)


async def deliveries(owner, endpoint_id: int, status: str | None = None) -> list[dict]:
    params = {"status": status} if status else {}
    response = await owner.get(f"/api/webhooks/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_registration_shows_the_secret_once(owner, receiver):
    created = await add_endpoint(owner, receiver, ["call.ended", "call.ended"])
    assert created["secret"].startswith("whsec_") and created["events"] == ["call.ended"]
    listed = (await owner.get("/api/webhooks")).json()
    assert [e["id"] for e in listed] == [created["id"]] and "secret" not in listed[0]
    assert "secret" not in (await owner.get(f"/api/webhooks/{created['id']}")).json()
    # the same routes answer under /api/v1
    assert (await owner.get("/api/v1/webhooks")).json() == listed


async def test_bad_registrations_are_refused_with_the_field_named(owner, receiver):
    for body, field in (({"url": receiver.url, "events": ["call.exploded"]}, "events.0"),
                        ({"url": receiver.url, "events": []}, "events"),
                        ({"url": "ftp://example.com/x", "events": ["call.ended"]}, "url"),
                        ({"url": receiver.url, "events": ["call.ended"], "extra": 1}, "extra")):
        response = await owner.post("/api/webhooks", json=body)
        assert {e["field"] for e in assert_error(response, 422)["detail"]} == {field}, body
    response = await owner.post("/api/webhooks", json={"url": receiver.url,
                                                        "events": ["call.ended"],
                                                        "client_id": 999999})
    assert_error(response, 404)


async def test_a_delivery_is_signed_and_verifies_with_the_readme_snippet(owner, pool, receiver):
    endpoint = await add_endpoint(owner, receiver)
    event_id = await record(pool, owner.id, name="Ana")
    await until(lambda: _ready(receiver.accepted), what="the delivery")
    (hit,) = receiver.received
    assert hit["verified"] and hit["json"]["id"] == f"evt_{event_id}"
    assert hit["json"]["type"] == "appointment.booked" and hit["json"]["data"]["name"] == "Ana"
    assert hit["headers"]["x-frontdesk-event"] == "appointment.booked"
    (delivery,) = await deliveries(owner, endpoint["id"])
    assert delivery["status"] == "delivered" and delivery["event_id"] == event_id
    assert hit["headers"]["x-frontdesk-delivery"] == str(delivery["id"])
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["response"] == "ok"


async def _ready(value):
    return value


async def test_a_receiver_failing_twice_gets_one_delivery_accepted_after_retries(
        owner, pool, receiver):
    receiver.fail_first = 2
    endpoint = await add_endpoint(owner, receiver)
    await record(pool, owner.id)
    await until(lambda: _ready(receiver.accepted), what="the third attempt")
    assert [r["answered"] for r in receiver.received] == [500, 500, 200]
    assert len({r["headers"]["x-frontdesk-delivery"] for r in receiver.received}) == 1
    (delivery,) = await deliveries(owner, endpoint["id"], "delivered")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert delivery["attempts"][0]["response"] == "nope"


async def test_an_always_failing_receiver_ends_in_the_dead_letter_list_then_redelivers(
        owner, pool, receiver):
    receiver.always_fail = True
    endpoint = await add_endpoint(owner, receiver)
    await record(pool, owner.id)

    async def dead():
        return await deliveries(owner, endpoint["id"], "dead")

    (delivery,) = await until(dead, what="the dead letter")
    assert len(delivery["attempts"]) == 4 == len(receiver.received)   # 1 + 3 retries
    assert await deliveries(owner, endpoint["id"], "pending") == []

    receiver.always_fail = False
    path = f"/api/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver"
    response = await owner.post(path)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "pending"
    await until(lambda: _ready(receiver.accepted), what="the redelivery")
    (done,) = await deliveries(owner, endpoint["id"], "delivered")
    assert len(done["attempts"]) == 5
    assert_error(await owner.post(path), 409, "not_dead_lettered")


async def test_only_subscribed_events_of_the_owner_are_delivered(server, owner, pool, receiver):
    await add_endpoint(owner, receiver, ["call.ended"])
    async with httpx.AsyncClient(base_url=server.url) as http:
        other = await register(http)
    await record(pool, owner.id, "appointment.booked")   # not subscribed
    await record(pool, other.id, "call.ended")            # someone else's
    await record(pool, owner.id, "call.ended", marker="mine")
    await until(lambda: _ready(receiver.accepted), what="the delivery")
    assert [r["json"]["data"].get("marker") for r in receiver.received] == ["mine"]


async def test_another_owners_endpoint_is_not_found(server, owner, receiver):
    endpoint = await add_endpoint(owner, receiver)
    async with httpx.AsyncClient(base_url=server.url) as http:
        other = await register(http)
        for method, path in (("GET", ""), ("DELETE", ""), ("GET", "/deliveries"),
                             ("POST", "/test"), ("POST", "/enable"),
                             ("POST", "/deliveries/1/redeliver")):
            response = await http.request(method, f"/api/webhooks/{endpoint['id']}{path}",
                                          headers=other.auth)
            assert_error(response, 404)
    assert (await owner.get(f"/api/webhooks/{endpoint['id']}")).status_code == 200


async def test_the_test_tool_sends_a_signed_ping_and_reports_the_answer(owner, receiver):
    endpoint = await add_endpoint(owner, receiver)
    response = await owner.post(f"/api/webhooks/{endpoint['id']}/test")
    assert response.status_code == 200, response.text
    assert response.json()["delivered"] is True and response.json()["status_code"] == 200
    (hit,) = receiver.received
    assert hit["verified"] and hit["json"]["type"] == "webhook.test"
    receiver.always_fail = True
    failed = (await owner.post(f"/api/webhooks/{endpoint['id']}/test")).json()
    assert failed["delivered"] is False and failed["status_code"] == 500


async def test_delete_stops_deliveries(owner, pool, receiver):
    endpoint = await add_endpoint(owner, receiver)
    response = await owner.http.delete(f"/api/webhooks/{endpoint['id']}", headers=owner.auth)
    assert response.status_code == 204
    assert await pool.fetchval("SELECT count(*) FROM webhook_endpoints") == 0
    await record(pool, owner.id)
    assert await pool.fetchval("SELECT count(*) FROM webhook_deliveries") == 0


async def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_emailed(
        owner, pool, receiver):
    receiver.always_fail = True
    endpoint = await add_endpoint(owner, receiver)
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - interval '25 hours'")
    await record(pool, owner.id)

    async def disabled():
        return await pool.fetchrow("SELECT is_active, disabled_reason FROM webhook_endpoints"
                                   " WHERE NOT is_active")

    row = await until(disabled, what="the endpoint to be disabled")
    assert row["disabled_reason"] == "failing for too long"
    email = await until(lambda: pool.fetchrow(
        "SELECT to_address, subject, body FROM email_messages WHERE kind = 'webhook_disabled'"),
        what="the owner's e-mail")
    assert email["to_address"] == owner.email and receiver.url in email["body"]
    await record(pool, owner.id, key="after")   # nothing goes to a disabled endpoint
    enabled = (await owner.post(f"/api/webhooks/{endpoint['id']}/enable")).json()
    assert enabled["is_active"] is True and enabled["failing_since"] is None


async def test_private_targets_are_refused(pg_url, receiver):
    async with api_server(pg_url) as strict, httpx.AsyncClient(base_url=strict.url) as http:
        owner = await register(http)
        for url in (receiver.url, "https://127.0.0.1/hooks", "https://10.0.0.8/hooks",
                    "https://169.254.169.254/latest", "https://[::1]/x",
                    "https://localhost/hooks", "http://example.com/hooks"):
            response = await owner.post("/api/webhooks", json={"url": url,
                                                                "events": ["call.ended"]})
            body = assert_error(response, 422, "target_not_allowed" if "https" in url
                                else None)
            assert body["detail"][0]["field"] == "url", url
