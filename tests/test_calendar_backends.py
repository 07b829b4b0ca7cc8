"""The calendar tools against local Google Calendar and Microsoft Graph servers: busy blocks
there remove slots, bookings create events, moves patch them, cancellations delete them,
tokens are refreshed and stored sealed, and a calendar that cannot be reached never yields a
booking."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from db import appointments, calendar_credentials, clients, contacts, users
from db.sealing import Sealer
from frontdesk.settings import Settings
from tests.fake_calendars import fake_google_calendar, fake_graph
from tools import registry
from tools.audit import run_tool
from tools.context import ToolContext

KEY = Fernet.generate_key().decode()
SEALER = Sealer.from_config(KEY)
BEFORE = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)   # the day before Thursday 2026-11-26
CALLER = "+12125550123"
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def at(hour: int, minute: int = 0, day: int = 26) -> datetime:
    """A New York wall-clock time on 2026-11-<day> (EST, UTC-5) as a UTC instant."""
    return datetime(2026, 11, day, hour + 5, minute, tzinfo=UTC)


@pytest.fixture
async def google():
    async with fake_google_calendar() as g:
        yield g


@pytest.fixture
async def graph():
    async with fake_graph() as m:
        yield m


async def make_ctx(pool, *, settings: dict, caller: str = CALLER, **client_fields) -> ToolContext:
    owner = await users.insert(pool, email=f"owner{time.monotonic_ns()}@example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Bright Smile",
                                  phone_number=f"+1212555{time.monotonic_ns() % 10000:04d}",
                                  timezone="America/New_York", **client_fields)
    contact_id = await contacts.upsert_by_phone(pool, client_id=client.id, phone_number=caller)
    conversation_id = await pool.fetchval(
        "INSERT INTO conversations (call_sid, client_id, contact_id, caller_phone)"
        " VALUES ($1, $2, $3, $4) RETURNING id", f"CA{time.monotonic_ns()}", client.id,
        contact_id, caller)
    return ToolContext(pool=pool, client=client, conversation_id=conversation_id,
                       caller_phone=caller, contact_id=contact_id,
                       settings=Settings.from_env({}, encryption_key=KEY, **settings))


async def connect_oauth(pool, ctx: ToolContext, server, *, provider: str = "google",
                        expires_in: int = 3599) -> dict:
    tokens = server.issue("owner@dental.example")
    secret = {"access_token": tokens["access_token"], "refresh_token": tokens["refresh_token"],
              "expires_at": int(time.time()) + expires_in}
    await calendar_credentials.upsert(pool, client_id=ctx.client.id, kind="oauth",
                                      account_email="owner@dental.example", scopes=[],
                                      ciphertext=SEALER.seal(secret), provider=provider)
    return secret


async def stored_secret(pool, ctx: ToolContext) -> dict:
    return SEALER.open((await calendar_credentials.get(pool, ctx.client.id)).ciphertext)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch):
    """The calendar tools see "now" as BEFORE; everything else about them is as shipped."""
    for name in ("get_available_slots", "book_appointment", "find_appointments",
                 "reschedule_appointment", "cancel_appointment"):
        original = registry.TOOLS[name]
        monkeypatch.setitem(registry.TOOLS, name, dataclasses.replace(
            original, handler=functools.partial(original.handler, now=BEFORE)))


async def tool(ctx: ToolContext, tool_name: str, /, **arguments) -> dict:
    """Through run_tool: arguments checked, audit row written."""
    return await run_tool(ctx, tool_name, arguments)


# --- Google Calendar -------------------------------------------------------------------------

async def test_google_busy_block_removes_the_slot(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    await connect_oauth(pool, ctx, google)
    google.busy.append((at(10), at(11)))
    result = await tool(ctx, "get_available_slots", date="2026-11-26")
    assert result["slots"][:3] == ["09:00", "09:30", "11:00"]
    assert ("POST", "/calendar/v3/freeBusy") in google.requests
    refused = await tool(ctx, "book_appointment", date="2026-11-26", time="10:30", name="Ada")
    assert (refused["booked"], refused["reason"]) == (False, "slot_taken")
    assert [a["time"] for a in refused["alternatives"]] == ["09:30", "11:00", "11:30"]
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    assert (await calendar_credentials.get(pool, ctx.client.id)).last_used_at is not None


async def test_google_booking_moving_and_cancelling_follow_the_event(pool, google):
    ctx = await make_ctx(pool, settings=google.settings(), calendar_id="frontdesk@group.example")
    google.calendars.add("frontdesk@group.example")
    await connect_oauth(pool, ctx, google)
    booked = await tool(ctx, "book_appointment", date="2026-11-26", time="14:30",
                        name="Ada Lovelace")
    assert booked["booked"] is True, booked
    row = await appointments.get(pool, ctx.client.id, booked["appointment_id"])
    [event] = google.events.values()
    assert row.external_event_id == event["id"] and row.calendar_provider == "google"
    assert event["calendar"] == "frontdesk@group.example"
    assert "Ada Lovelace" in event["summary"] and CALLER in event["summary"]
    assert CALLER in event["description"]
    assert event["start"]["dateTime"] == "2026-11-26T19:30:00Z"
    assert event["extendedProperties"]["private"]["frontdesk_appointment_id"] == str(row.id)

    found = await tool(ctx, "find_appointments")
    assert found == {"appointments": [{"appointment_id": row.id, "date": "2026-11-26",
                                       "time": "14:30", "weekday": "Thursday",
                                       "name": "Ada Lovelace"}]}
    moved = await tool(ctx, "reschedule_appointment", appointment_id=row.id,
                       date="2026-11-27", time="09:00")
    assert moved["rescheduled"] is True and moved["previous"] == {"date": "2026-11-26",
                                                                   "time": "14:30"}
    assert google.events[event["id"]]["start"]["dateTime"] == "2026-11-27T14:00:00Z"
    assert ("PATCH", f"/calendar/v3/calendars/frontdesk@group.example/events/{event['id']}") \
        in google.requests
    assert (await appointments.get(pool, ctx.client.id, row.id)).starts_at == at(9, day=27)

    cancelled = await tool(ctx, "cancel_appointment", appointment_id=row.id)
    assert cancelled["cancelled"] is True and google.events == {}
    changes = [(c.action, c.conversation_id) for c in await appointments.changes_of(pool, row.id)]
    assert changes == [("booked", ctx.conversation_id), ("rescheduled", ctx.conversation_id),
                       ("cancelled", ctx.conversation_id)]
    audit = await pool.fetch("SELECT tool_name, status FROM tool_executions ORDER BY id")
    assert [(a["tool_name"], a["status"]) for a in audit] == [
        ("book_appointment", "success"), ("find_appointments", "success"),
        ("reschedule_appointment", "success"), ("cancel_appointment", "success")]


async def test_an_expired_google_token_is_refreshed_and_stored_sealed(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    old = await connect_oauth(pool, ctx, google, expires_in=-10)
    assert (await tool(ctx, "get_available_slots", date="2026-11-26"))["slots"]
    [grant] = google.grants
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == old["refresh_token"]
    assert grant["client_secret"] == google.client_secret
    stored = await stored_secret(pool, ctx)
    assert stored["access_token"] != old["access_token"]
    assert stored["access_token"] in google.tokens and stored["expires_at"] > time.time() + 3000
    assert stored["refresh_token"] == old["refresh_token"]  # Google keeps the old one
    ciphertext = (await calendar_credentials.get(pool, ctx.client.id)).ciphertext
    assert stored["access_token"].encode() not in ciphertext
    # Fresh now: the next call uses it without another grant.
    await tool(ctx, "get_available_slots", date="2026-11-26")
    assert len(google.grants) == 1


async def test_a_revoked_access_token_is_refreshed_once_and_the_call_retried(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    old = await connect_oauth(pool, ctx, google)
    del google.tokens[old["access_token"]]   # revoked at Google before it expired
    assert (await tool(ctx, "book_appointment", date="2026-11-26", time="09:00",
                       name="Ada"))["booked"] is True
    assert [g["grant_type"] for g in google.grants] == ["refresh_token"]


async def test_a_refused_refresh_marks_the_connection_and_books_nothing(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    await connect_oauth(pool, ctx, google, expires_in=-10)
    google.refuse_refresh = True
    result = await tool(ctx, "book_appointment", date="2026-11-26", time="09:00", name="Ada")
    assert (result["booked"], result["reason"]) == (False, "calendar_unreachable")
    assert "take a message" in result["message"]
    cred = await calendar_credentials.get(pool, ctx.client.id)
    assert cred.needs_reauthorization and "invalid_grant" in cred.last_error
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    # Marked: no further requests until the owner connects again.
    grants = len(google.grants)
    again = await tool(ctx, "get_available_slots", date="2026-11-26")
    assert again["reason"] == "calendar_unreachable" and again["slots"] == []
    assert len(google.grants) == grants


@pytest.mark.parametrize("failing", ["POST /calendar/v3/freeBusy", "/events"])
async def test_a_failing_google_calendar_never_yields_a_booking(pool, google, failing):
    ctx = await make_ctx(pool, settings=google.settings())
    await connect_oauth(pool, ctx, google)
    google.fail_on = failing
    result = await tool(ctx, "book_appointment", date="2026-11-26", time="09:00", name="Ada")
    assert (result["booked"], result["reason"]) == (False, "calendar_unreachable")
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0
    assert await pool.fetchval("SELECT count(*) FROM appointment_changes") == 0
    assert google.events == {}
    google.fail_on = None  # back up: the same request books
    assert (await tool(ctx, "book_appointment", date="2026-11-26", time="09:00",
                       name="Ada"))["booked"] is True


async def test_an_unreadable_google_calendar_is_not_free(pool, google):
    ctx = await make_ctx(pool, settings=google.settings(), calendar_id="gone@group.example")
    await connect_oauth(pool, ctx, google)
    result = await tool(ctx, "get_available_slots", date="2026-11-26")
    assert result["reason"] == "calendar_unreachable" and result["slots"] == []


async def test_a_failed_cancel_or_move_leaves_the_booking_as_it_was(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    await connect_oauth(pool, ctx, google)
    booked = await tool(ctx, "book_appointment", date="2026-11-26", time="09:00", name="Ada")
    google.fail_on = "/events/"
    for name, extra in (("cancel_appointment", {}),
                        ("reschedule_appointment", {"date": "2026-11-26", "time": "11:00"})):
        result = await tool(ctx, name, appointment_id=booked["appointment_id"], **extra)
        assert result["reason"] == "calendar_unreachable", result
    row = await appointments.get(pool, ctx.client.id, booked["appointment_id"])
    assert (row.status, row.starts_at) == ("booked", at(9))
    assert len(google.events) == 1


async def test_google_service_account_signs_its_grant(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    email = "desk@p.iam.gserviceaccount.com"
    google.service_accounts[email] = _RSA.public_key()
    key_file = {"type": "service_account", "client_email": email, "private_key_id": "k1",
                "private_key": _RSA.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption()).decode(),
                "token_uri": "https://oauth2.googleapis.com/token"}
    await calendar_credentials.upsert(pool, client_id=ctx.client.id, kind="service_account",
                                      account_email=email, scopes=[],
                                      ciphertext=SEALER.seal(key_file))
    assert (await tool(ctx, "book_appointment", date="2026-11-26", time="09:00",
                       name="Ada"))["booked"] is True
    [grant] = google.grants
    assert grant["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    stored = await stored_secret(pool, ctx)
    assert stored["private_key"] == key_file["private_key"] and stored["access_token"]


async def test_racing_bookings_through_google_exactly_one_wins(pool, google):
    first = await make_ctx(pool, settings=google.settings())
    await connect_oauth(pool, first, google)
    second = ToolContext(pool=pool, client=first.client, conversation_id=None,
                         caller_phone="+13105550111", settings=first.settings)
    results = await asyncio.gather(
        tool(first, "book_appointment", date="2026-11-26", time="11:00", name="Ada"),
        tool(second, "book_appointment", date="2026-11-26", time="11:00", name="Grace"))
    assert sorted(r["booked"] for r in results) == [False, True]
    assert next(r for r in results if not r["booked"])["reason"] == "slot_taken"
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 1
    assert len(google.events) == 1


# --- Microsoft Graph -------------------------------------------------------------------------

async def test_graph_busy_blocks_across_pages_remove_slots(pool, graph):
    ctx = await make_ctx(pool, settings=graph.settings())
    await connect_oauth(pool, ctx, graph, provider="microsoft")
    graph.busy += [(at(9), at(9, 30)), (at(10), at(10, 30)), (at(13), at(14))]
    result = await tool(ctx, "get_available_slots", date="2026-11-26")
    assert "09:00" not in result["slots"] and "10:00" not in result["slots"]
    assert "13:00" not in result["slots"] and "13:30" not in result["slots"]
    assert result["slots"][:2] == ["09:30", "10:30"]
    views = [r for r in graph.requests if r[1].endswith("/calendarView")]
    assert len(views) == 2  # the third block came on the @odata.nextLink page


async def test_graph_booking_moving_and_cancelling_follow_the_event(pool, graph):
    ctx = await make_ctx(pool, settings=graph.settings())
    await connect_oauth(pool, ctx, graph, provider="microsoft")
    booked = await tool(ctx, "book_appointment", date="2026-11-26", time="14:30",
                        name="Ada Lovelace")
    assert booked["booked"] is True, booked
    [event] = graph.events.values()
    assert "Ada Lovelace" in event["subject"] and CALLER in event["subject"]
    assert CALLER in event["body"]["content"]
    assert event["start"] == {"dateTime": "2026-11-26T19:30:00", "timeZone": "UTC"}
    row = await appointments.get(pool, ctx.client.id, booked["appointment_id"])
    assert (row.external_event_id, row.calendar_provider) == (event["id"], "microsoft")

    moved = await tool(ctx, "reschedule_appointment", appointment_id=row.id,
                       date="2026-11-26", time="16:00")
    assert moved["rescheduled"] is True
    assert graph.events[event["id"]]["start"]["dateTime"] == "2026-11-26T21:00:00"
    assert (await tool(ctx, "cancel_appointment", appointment_id=row.id))["cancelled"]
    assert graph.events == {}


async def test_graph_refresh_rotates_and_stores_the_refresh_token(pool, graph):
    ctx = await make_ctx(pool, settings=graph.settings())
    old = await connect_oauth(pool, ctx, graph, provider="microsoft", expires_in=-10)
    assert (await tool(ctx, "get_available_slots", date="2026-11-26"))["slots"]
    [grant] = graph.grants
    assert grant["grant_type"] == "refresh_token" and "Calendars.ReadWrite" in grant["scope"]
    stored = await stored_secret(pool, ctx)
    assert stored["refresh_token"] != old["refresh_token"]
    assert stored["refresh_token"] in graph.refresh_tokens   # the rotated one is the live one


async def test_graph_throttling_is_unreachable_and_books_nothing(pool, graph):
    ctx = await make_ctx(pool, settings=graph.settings())
    await connect_oauth(pool, ctx, graph, provider="microsoft")
    graph.fail_next, graph.retry_after = 1, "7"
    result = await tool(ctx, "book_appointment", date="2026-11-26", time="09:00", name="Ada")
    assert (result["booked"], result["reason"]) == (False, "calendar_unreachable")
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0


async def test_an_expired_token_without_a_refresh_token_needs_reauthorisation(pool, google):
    ctx = await make_ctx(pool, settings=google.settings())
    await calendar_credentials.upsert(
        pool, client_id=ctx.client.id, kind="oauth", account_email=None, scopes=[],
        ciphertext=SEALER.seal({"access_token": "ya29.old", "expires_at": 0}))
    result = await asyncio.wait_for(
        tool(ctx, "book_appointment", date="2026-11-26", time="09:00", name="Ada"), 20)
    assert result["reason"] == "calendar_unreachable"
    cred = await calendar_credentials.get(pool, ctx.client.id)
    assert cred.needs_reauthorization and "no refresh token" in cred.last_error
    assert google.grants == []
