"""Google Calendar and Microsoft 365 as the calendar of record, through the API: connect,
book, move and cancel with the event following, free/busy, the calendar status (last use,
re-authorisation), the FrontDesk calendar paths, and the calendar events route."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.fernet import Fernet

from db import calendar_credentials
from db.sealing import Sealer
from tests.fake_calendars import fake_google_calendar, fake_graph
from tests.test_api_appointments import CALLER, DAY, at, utc
from tests.test_api_calendar import service_account
from tests.test_api_support import api_server, assert_error, fields, register

KEY = Fernet.generate_key().decode()


@pytest.fixture(scope="module")
async def google():
    async with fake_google_calendar() as g:
        yield g


@pytest.fixture(scope="module")
async def graph():
    async with fake_graph() as m:
        yield m


@pytest.fixture(scope="module")
async def server(pg_url, google, graph):
    async with api_server(pg_url, encryption_key=KEY, **google.settings(),
                          **graph.settings()) as srv:
        yield srv


@pytest.fixture(autouse=True)
def healthy(google, graph):
    for fake in (google, graph):
        fake.events.clear()
        fake.busy.clear()
        fake.fail_next, fake.fail_on, fake.refuse_refresh = 0, None, False
    graph.retry_after = None


async def connect(owner, client, initiate: str) -> httpx.Response:
    started = await owner.post(f"/api/clients/{client['id']}/calendar/{initiate}")
    assert started.status_code == 200, started.text
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        return await browser.get(started.json()["authorization_url"])


@pytest.fixture
async def client(owner):
    return await owner.create_client(timezone="America/New_York")


async def book(owner, client, hour: int, minute: int = 0) -> httpx.Response:
    return await owner.post(f"/api/clients/{client['id']}/appointments",
                            json={"starts_at": at(hour, minute), "name": "Ada Lovelace",
                                  "phone": CALLER})


async def test_google_connected_bookings_reach_the_calendar_and_back(owner, client, google):
    page = await connect(owner, client, "oauth/initiate")
    assert page.status_code == 200 and '"provider": "google"' in page.text
    base = f"/api/clients/{client['id']}"
    status = (await owner.get(f"{base}/calendar/status")).json()
    assert (status["connected"], status["provider"], status["calendar_of_record"]) == (
        True, "google", "google")
    assert status["fallback_available"] is False and status["needs_reauthorization"] is False
    assert status["account_email"] == google.email and status["last_used_at"] is None

    google.busy.append((utc(at(9)), utc(at(10))))
    slots = (await owner.get(f"{base}/availability", params={"date": DAY.isoformat()})).json()
    assert [s["time"] for s in slots["slots"]][:2] == ["10:00", "10:30"]
    taken = await book(owner, client, 9, 30)
    assert taken.status_code == 409 and taken.json()["error_code"] == "slot_taken"

    created = await book(owner, client, 10)
    assert created.status_code == 201, created.text
    appt = created.json()
    event = google.events[appt["external_event_id"]]
    assert "Ada Lovelace" in event["summary"] and CALLER in event["summary"]
    assert appt["calendar_provider"] == "google"

    listed = await owner.get("/api/v1/integrations/calendar/google/events",
                             params={"client_id": client["id"], "days": 30})
    assert listed.status_code == 200, listed.text
    assert listed.json()["status"] == "connected"
    assert [(e["id"], e["appointment_id"]) for e in listed.json()["events"]] == [
        (event["id"], appt["id"])]

    moved = await owner.patch(f"{base}/appointments/{appt['id']}", json={"starts_at": at(11)})
    assert moved.status_code == 200, moved.text
    assert utc(google.events[event["id"]]["start"]["dateTime"]) == utc(at(11))
    cancelled = await owner.post(f"{base}/appointments/{appt['id']}/cancel", json={})
    assert cancelled.json()["status"] == "cancelled" and google.events == {}
    assert (await owner.get(f"{base}/calendar")).json()["last_used_at"] is not None


async def test_an_unreachable_calendar_is_503_and_books_nothing(owner, client, google, pool):
    await connect(owner, client, "oauth/initiate")
    google.fail_next = 10
    refused = await book(owner, client, 10)
    assert_error(refused, 503, "calendar_unavailable")
    assert refused.headers["retry-after"] == "30"
    unreadable = await owner.get(f"/api/clients/{client['id']}/availability",
                                 params={"date": DAY.isoformat()})
    assert_error(unreadable, 503, "calendar_unavailable")
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    google.fail_next = 0
    assert (await book(owner, client, 10)).status_code == 201


async def test_a_refused_refresh_shows_in_the_status_until_connected_again(owner, client,
                                                                            google, pool):
    await connect(owner, client, "oauth/initiate")
    cred = await calendar_credentials.get(pool, client["id"])
    sealer = Sealer.from_config(KEY)
    await calendar_credentials.store_secret(
        pool, client["id"], sealer.seal(sealer.open(cred.ciphertext) | {"expires_at": 0}))
    google.refuse_refresh = True
    refused = await book(owner, client, 10)
    assert_error(refused, 409, "calendar_needs_reauthorization")
    status = (await owner.get(f"/api/clients/{client['id']}/calendar/status")).json()
    assert status["needs_reauthorization"] is True and "invalid_grant" in status["last_error"]
    assert status["reauthorization_required_at"] is not None
    google.refuse_refresh = False
    await connect(owner, client, "oauth/initiate")   # the owner connects again
    status = (await owner.get(f"/api/clients/{client['id']}/calendar/status")).json()
    assert status["needs_reauthorization"] is False and status["last_error"] is None
    assert (await book(owner, client, 10)).status_code == 201


async def test_the_frontdesk_calendar_paths(owner, client, pool):
    base = f"/api/clients/{client['id']}/calendar"
    status = (await owner.get(f"{base}/status")).json()
    assert status == (await owner.get(base)).json()
    assert (status["connected"], status["calendar_of_record"], status["fallback_available"],
            status["last_used_at"]) == (False, "builtin", True, None)
    uploaded = await owner.post(f"{base}/service-account",
                                json={"service_account_json": json.dumps(service_account())})
    assert uploaded.status_code == 200, uploaded.text
    assert (uploaded.json()["kind"], uploaded.json()["provider"]) == ("service_account",
                                                                      "google")
    stored = Sealer.from_config(KEY).open(
        await pool.fetchval("SELECT ciphertext FROM calendar_credentials"))
    assert stored["client_email"] == service_account()["client_email"]
    for bad in ("{not json", json.dumps({"type": "authorized_user"}), json.dumps([1])):
        response = await owner.post(f"{base}/service-account",
                                    json={"service_account_json": bad})
        assert fields(response) == {"service_account_json"}
    assert "service_account_json" in fields(await owner.post(f"{base}/service-account",
                                                             json={}))
    assert (await owner.delete(f"{base}/credentials")).status_code == 204
    assert_error(await owner.delete(f"{base}/credentials"), 404)
    assert await pool.fetchval("SELECT count(*) FROM calendar_credentials") == 0


async def test_events_without_a_connection_name_what_to_configure(owner, client, pg_url):
    for provider, setting in (("google", "GOOGLE_CLIENT_ID"),
                              ("microsoft", "MICROSOFT_CLIENT_ID")):
        response = await owner.get(f"/api/v1/integrations/calendar/{provider}/events",
                                   params={"client_id": client["id"]})
        body = assert_error(response, 403, "calendar_not_connected")
        assert setting in body["detail"] and "INTEGRATIONS_STUB_MODE" in body["detail"]
    assert "provider" in fields(await owner.get("/api/v1/integrations/calendar/yahoo/events",
                                                params={"client_id": client["id"]}))
    assert "client_id" in fields(await owner.get("/api/v1/integrations/calendar/google/events"))

    # (another server, so another signing key: a user of its own)
    async with api_server(pg_url, integrations_stub_mode=True) as stub, \
            httpx.AsyncClient(base_url=stub.url) as http:
        user = await register(http)
        mine = await user.create_client()
        response = await user.get("/api/v1/integrations/calendar/microsoft/events",
                                  params={"client_id": mine["id"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["provider"], body["client_id"]) == ("stub", "microsoft",
                                                                     mine["id"])
    assert len(body["events"]) == 3 and all(e["summary"].startswith("Sample")
                                            for e in body["events"])
    assert any("MICROSOFT_CLIENT_ID" in step for step in body["next_steps"])


async def test_microsoft_connect_book_move_cancel_and_disconnect(owner, client, graph, google,
                                                                 pool):
    page = await connect(owner, client, "microsoft/oauth/initiate")
    assert page.status_code == 200, page.text
    assert '"status": "connected"' in page.text and '"provider": "microsoft"' in page.text
    [code_grant] = [g for g in graph.grants if g["grant_type"] == "authorization_code"]
    assert code_grant["code_verifier"] and "offline_access" in code_grant["scope"]
    base = f"/api/clients/{client['id']}"
    status = (await owner.get(f"{base}/calendar/status")).json()
    assert (status["provider"], status["kind"], status["account_email"]) == (
        "microsoft", "oauth", graph.mail)
    stored = Sealer.from_config(KEY).open(
        await pool.fetchval("SELECT ciphertext FROM calendar_credentials"))
    assert stored["refresh_token"] in graph.refresh_tokens

    appt = (await book(owner, client, 10)).json()
    event = graph.events[appt["external_event_id"]]
    assert "Ada Lovelace" in event["subject"] and appt["calendar_provider"] == "microsoft"
    events = (await owner.get("/api/v1/integrations/calendar/microsoft/events",
                              params={"client_id": client["id"], "days": 30})).json()
    assert [e["id"] for e in events["events"]] == [event["id"]]
    moved = await owner.patch(f"/api/calendar/appointments/{appt['id']}",
                              json={"starts_at": at(15)})
    assert moved.status_code == 200, moved.text
    assert graph.events[event["id"]]["start"]["dateTime"] == \
        utc(at(15)).replace(tzinfo=None).isoformat()
    assert (await owner.delete(f"/api/calendar/appointments/{appt['id']}")).status_code == 200
    assert graph.events == {}

    revoked_before = list(google.revoked)
    assert (await owner.delete(f"{base}/calendar/credentials")).status_code == 204
    assert google.revoked == revoked_before  # nothing sent to Google for a Microsoft login


async def test_microsoft_connect_needs_configuration(pool, pg_url):
    async with api_server(pg_url) as plain, httpx.AsyncClient(base_url=plain.url) as http:
        user = await register(http)
        mine = await user.create_client()
        response = await user.post(f"/api/clients/{mine['id']}/calendar/microsoft/oauth/initiate")
    assert_error(response, 503, "microsoft_not_configured")


async def test_the_microsoft_callback_refuses_a_bad_state(server, graph):
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/api/calendar/microsoft/oauth/callback",
                              params={"state": "forged", "code": "x"})
    assert page.status_code == 400 and "invalid_state" in page.text
    assert not [g for g in graph.grants if g.get("code") == "x"]
