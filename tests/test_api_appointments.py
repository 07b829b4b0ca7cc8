"""The appointments API on the built-in calendar: staff bookings under the agent's slot rules,
listing and filters, changes, reschedules and cancellations with their history, free slots,
the /api/calendar/... paths, and a staff booking racing the agent's for one slot."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from db import clients as db_clients
from tests.test_api_support import assert_error, fields, register
from tools.audit import run_tool
from tools.context import ToolContext

NY = ZoneInfo("America/New_York")
CALLER = "+14155550123"


def weekday_ahead(days: int = 8) -> date:
    """A Monday-to-Friday date at least ``days`` ahead (the API reads the real clock)."""
    day = date.today() + timedelta(days=days)
    while day.weekday() > 4:
        day += timedelta(days=1)
    return day


DAY = weekday_ahead()


def at(hour: int, minute: int = 0, day: date = DAY) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=NY).astimezone(UTC) \
        .isoformat().replace("+00:00", "Z")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
async def client(owner):
    return await owner.create_client(timezone="America/New_York")


async def book(owner, client, hour: int, minute: int = 0, **extra):
    return await owner.post(f"/api/clients/{client['id']}/appointments",
                            json={"starts_at": at(hour, minute), "name": "Ada Lovelace",
                                  "phone": CALLER} | extra)


async def test_staff_booking_is_listed_read_and_removed_from_the_free_slots(owner, client, pool):
    base = f"/api/clients/{client['id']}"
    before = (await owner.get(f"{base}/availability", params={"date": DAY.isoformat()})).json()
    assert before["timezone"] == "America/New_York" and before["closed"] is False
    assert [s["time"] for s in before["slots"]][:3] == ["09:00", "09:30", "10:00"]

    created = await book(owner, client, 10, notes="cleaning")
    assert created.status_code == 201, created.text
    appt = created.json()
    assert (appt["status"], appt["booked_by"], appt["calendar_provider"]) == (
        "booked", "staff", "builtin")
    assert utc(appt["starts_at"]) == utc(at(10)) and utc(appt["ends_at"]) == utc(at(10, 30))
    assert appt["contact_id"] is not None  # the contact with that number, made if new
    assert await pool.fetchval("SELECT phone_number FROM contacts WHERE id = $1",
                               appt["contact_id"]) == CALLER

    after = (await owner.get(f"{base}/availability", params={"date": DAY.isoformat()})).json()
    assert "10:00" not in [s["time"] for s in after["slots"]]
    assert len(after["slots"]) == len(before["slots"]) - 1
    seeded = (await owner.get("/api/calendar/availability",
                              params={"client_id": client["id"], "date": DAY.isoformat()}))
    assert seeded.json() == after

    listed = (await owner.get(f"{base}/appointments")).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == appt["id"]
    for path in ("/api/appointments", "/api/calendar/appointments"):
        assert [a["id"] for a in (await owner.get(path)).json()["items"]] == [appt["id"]]
    one = (await owner.get(f"{base}/appointments/{appt['id']}")).json()
    assert [(c["action"], c["actor"], c["user_id"]) for c in one["changes"]] == [
        ("booked", "staff", owner.id)]
    assert (await owner.get(f"/api/calendar/appointments/{appt['id']}")).json() == one


async def test_a_taken_slot_is_409_with_alternatives(owner, client, pool):
    assert (await book(owner, client, 11)).status_code == 201
    again = await book(owner, client, 11)
    body = again.json()
    assert again.status_code == 409 and body["error_code"] == "slot_taken"
    assert set(body) == {"detail", "error_code", "correlation_id", "alternatives"}
    assert body["correlation_id"] == again.headers["x-correlation-id"]
    assert [a["time"] for a in body["alternatives"]] == ["10:00", "10:30", "11:30"]
    assert all(a["date"] == DAY.isoformat() for a in body["alternatives"])
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 1


@pytest.mark.parametrize(("starts_at", "message"), [
    (at(9, 15), "slot start"),                                       # off the grid
    (at(18), "slot start"),                                          # after closing
    (at(10, day=DAY + timedelta(days=(5 - DAY.weekday()) % 7 or 7)), "closed"),  # a Saturday
    ((datetime.now(UTC) - timedelta(days=1)).isoformat(), "past"),
])
async def test_the_agents_slot_rules_apply_to_staff(owner, client, pool, starts_at, message):
    response = await owner.post(f"/api/clients/{client['id']}/appointments",
                                json={"starts_at": starts_at, "name": "Ada", "phone": CALLER})
    body = response.json()
    assert response.status_code == 422 and body["error_code"] == "validation_error", body
    assert body["detail"][0]["field"] == "starts_at" and message in body["detail"][0]["message"]
    assert body["alternatives"]
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"phone": "555-0123"}, "phone"),
    ({"name": ""}, "name"),
    ({"starts_at": "2026-11-26T10:00:00"}, "starts_at"),   # no offset: ambiguous
    ({"starts_at": "tomorrow"}, "starts_at"),
    ({"colour": "red"}, "colour"),
    ({"contact_id": 999999}, "contact_id"),
    ({"notes": "x" * 2001}, "notes"),
])
async def test_bad_bookings_are_422_naming_the_field(owner, client, pool, change, field):
    body = {"starts_at": at(10), "name": "Ada", "phone": CALLER} | change
    response = await owner.post(f"/api/clients/{client['id']}/appointments", json=body)
    assert field in fields(response)
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0


async def test_bad_queries_are_422(owner, client):
    base = f"/api/clients/{client['id']}"
    assert "date" in fields(await owner.get(f"{base}/availability", params={"date": "soon"}))
    assert "date" in fields(await owner.get(f"{base}/availability"))
    assert "status" in fields(await owner.get(f"{base}/appointments",
                                              params={"status": "maybe"}))
    assert "since" in fields(await owner.get(f"{base}/appointments",
                                             params={"since": "2026-01-01T00:00:00"}))
    assert "client_id" in fields(await owner.get("/api/calendar/availability",
                                                 params={"date": DAY.isoformat()}))


async def test_reschedule_frees_the_old_slot_only_when_the_new_one_is_taken(owner, client, pool):
    base = f"/api/clients/{client['id']}/appointments"
    first = (await book(owner, client, 9)).json()
    other = (await book(owner, client, 14, phone="+14155550124")).json()
    blocked = await owner.patch(f"{base}/{first['id']}", json={"starts_at": at(14)})
    assert blocked.status_code == 409 and blocked.json()["error_code"] == "slot_taken"
    kept = (await owner.get(f"{base}/{first['id']}")).json()
    assert utc(kept["starts_at"]) == utc(at(9)) and kept["status"] == "booked"

    moved = await owner.patch(f"{base}/{first['id']}", json={"starts_at": at(15),
                                                             "name": "Ada  King"})
    assert moved.status_code == 200, moved.text
    assert utc(moved.json()["starts_at"]) == utc(at(15)) and moved.json()["name"] == "Ada King"
    assert (await book(owner, client, 9, phone="+14155550125")).status_code == 201  # freed
    history = (await owner.get(f"{base}/{first['id']}")).json()["changes"]
    assert [c["action"] for c in history] == ["booked", "updated", "rescheduled"]
    assert utc(history[-1]["old_starts_at"]) == utc(at(9))
    assert utc(history[-1]["new_starts_at"]) == utc(at(15))
    assert other["status"] == "booked"
    nulls = await owner.patch(f"{base}/{first['id']}", json={"name": None})
    assert "name" in fields(nulls)
    same = await owner.patch(f"{base}/{first['id']}", json={"starts_at": at(15)})
    assert "starts_at" in fields(same)


async def test_cancel_records_who_and_why_and_frees_the_slot(owner, client, pool):
    base = f"/api/clients/{client['id']}/appointments"
    appt = (await book(owner, client, 10)).json()
    cancelled = await owner.post(f"{base}/{appt['id']}/cancel",
                                 json={"reason": "patient is unwell"})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancelled_by"], body["cancel_reason"]) == (
        "cancelled", "staff", "patient is unwell")
    again = await owner.post(f"{base}/{appt['id']}/cancel", json={})
    assert again.status_code == 409 and again.json()["error_code"] == "appointment_not_booked"
    moved = await owner.patch(f"{base}/{appt['id']}", json={"starts_at": at(11)})
    assert moved.status_code == 409
    assert (await book(owner, client, 10)).status_code == 201  # the slot is free again
    second = (await book(owner, client, 11)).json()
    deleted = await owner.delete(f"/api/calendar/appointments/{second['id']}",
                                 params={"reason": "duplicate"})
    assert deleted.json()["status"] == "cancelled" and deleted.json()["cancel_reason"] == \
        "duplicate"
    changes = await pool.fetch("SELECT action, actor, reason FROM appointment_changes"
                               " WHERE action = 'cancelled' ORDER BY id")
    assert [tuple(c) for c in changes] == [("cancelled", "staff", "patient is unwell"),
                                           ("cancelled", "staff", "duplicate")]


async def test_lists_filter_and_page(owner, client, server):
    base = f"/api/clients/{client['id']}/appointments"
    ids = [(await book(owner, client, h, phone=f"+1415555013{h % 10}")).json()["id"]
           for h in (9, 10, 11, 12)]
    await owner.post(f"{base}/{ids[1]}/cancel", json={})
    other = await owner.create_client(timezone="America/New_York")
    elsewhere = (await book(owner, other, 9)).json()

    async def listed(path: str, **params) -> list[int]:
        response = await owner.get(path, params=params)
        assert response.status_code == 200, response.text
        return [a["id"] for a in response.json()["items"]]

    assert await listed(base) == ids
    assert await listed(base, status="cancelled") == [ids[1]]
    assert await listed(base, since=at(10, 30), until=at(12)) == [ids[2]]
    assert await listed(base, phone="+14155550132") == [ids[3]]
    page = (await owner.get(base, params={"limit": 2, "offset": 1})).json()
    assert ([a["id"] for a in page["items"]], page["total"]) == (ids[1:3], 4)
    everywhere = await listed("/api/appointments", limit=100)
    assert sorted(everywhere) == sorted([*ids, elsewhere["id"]])
    assert await listed("/api/calendar/appointments", client_id=other["id"]) == [elsewhere["id"]]
    contact = (await owner.get(f"{base}/{ids[0]}")).json()["contact_id"]
    assert await listed(base, contact_id=contact) == [ids[0]]


async def test_the_calendar_paths_create_and_change_too(owner, client):
    created = await owner.post("/api/calendar/appointments",
                               json={"client_id": client["id"], "starts_at": at(13),
                                     "name": "Grace", "phone": CALLER})
    assert created.status_code == 201, created.text
    moved = await owner.patch(f"/api/calendar/appointments/{created.json()['id']}",
                              json={"starts_at": at(13, 30)})
    assert utc(moved.json()["starts_at"]) == utc(at(13, 30))
    missing = await owner.post("/api/calendar/appointments",
                               json={"starts_at": at(13), "name": "Grace", "phone": CALLER})
    assert "client_id" in fields(missing)


async def test_another_tenants_appointments_are_404(owner, client, server):
    appt = (await book(owner, client, 10)).json()
    stranger = await register(owner.http)
    mine = await stranger.create_client(timezone="America/New_York")
    for method, path, body in [
        ("GET", f"/api/calendar/appointments/{appt['id']}", None),
        ("PATCH", f"/api/calendar/appointments/{appt['id']}", {"name": "x"}),
        ("DELETE", f"/api/calendar/appointments/{appt['id']}", None),
        ("GET", f"/api/clients/{mine['id']}/appointments/{appt['id']}", None),
        ("POST", f"/api/clients/{mine['id']}/appointments/{appt['id']}/cancel", {}),
        ("POST", "/api/calendar/appointments", {"client_id": client["id"], "starts_at": at(11),
                                                "name": "x", "phone": CALLER}),
        ("GET", "/api/calendar/availability", None),
    ]:
        params = {"client_id": client["id"], "date": DAY.isoformat()} \
            if path.endswith("availability") else None
        response = await stranger.http.request(method, path, json=body, params=params,
                                               headers=stranger.auth)
        assert_error(response, 404)
    assert (await stranger.get("/api/appointments")).json()["total"] == 0
    assert (await stranger.get("/api/calendar/appointments",
                               params={"client_id": client["id"]})).json()["total"] == 0
    still = (await owner.get(f"/api/calendar/appointments/{appt['id']}")).json()
    assert (still["status"], still["name"]) == ("booked", "Ada Lovelace")


async def test_a_staff_booking_racing_the_agent_exactly_one_wins(owner, client, pool, server):
    record = await db_clients.get(pool, client["id"])
    agent = ToolContext(pool=pool, client=record, conversation_id=None,
                        caller_phone="+13105550111", settings=server.settings)
    for hour in (9, 10, 11, 12, 13):
        staff, tool = await asyncio.gather(
            book(owner, client, hour),
            run_tool(agent, "book_appointment", {"date": DAY.isoformat(),
                                                 "time": f"{hour:02d}:00", "name": "Grace"}))
        assert sorted([staff.status_code == 201, tool.get("booked") is True]) == [False, True]
        loser_says = tool.get("reason") if staff.status_code == 201 \
            else staff.json()["error_code"]
        assert loser_says == "slot_taken"
    assert await pool.fetchval("SELECT count(*) FROM appointments WHERE status = 'booked'") == 5
