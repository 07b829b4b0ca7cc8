"""Calendar tools against a real PostgreSQL; "now" is passed in, never read from the clock."""

import asyncio
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from db import appointments, clients, contacts, users
from tools.calendar import ToolError, book_appointment, cancel_appointment, get_available_slots
from tools.context import ToolContext

NY = ZoneInfo("America/New_York")
# The day before the Thursday most tests book on (2026-11-26; EST, UTC-5).
BEFORE = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
CALLER = "+12125550123"


async def make_ctx(pool, *, caller: str = CALLER, phone_number: str = "+12125550100",
                   **client_fields) -> ToolContext:
    client_fields.setdefault("timezone", "America/New_York")
    owner = await users.insert(pool, email=f"owner{phone_number}@example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number=phone_number, **client_fields)
    contact_id = await contacts.upsert_by_phone(pool, client_id=client.id, phone_number=caller)
    conversation_id = await pool.fetchval(
        "INSERT INTO conversations (call_sid, client_id, contact_id, caller_phone)"
        " VALUES ($1, $2, $3, $4) RETURNING id",
        f"CA{client.id}{caller}", client.id, contact_id, caller)
    return ToolContext(pool=pool, client=client, conversation_id=conversation_id,
                       caller_phone=caller, contact_id=contact_id)


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=NY)


# --- availability ----------------------------------------------------------------------------

async def test_open_day_lists_every_slot(pool):
    ctx = await make_ctx(pool)
    result = await get_available_slots(ctx, "2026-11-26", now=BEFORE)
    assert result["date"] == "2026-11-26"
    assert result["weekday"] == "Thursday"
    assert result["timezone"] == "America/New_York"
    assert result["slots"][:3] == ["09:00", "09:30", "10:00"]
    assert result["slots"][-1] == "16:30"
    assert len(result["slots"]) == 16
    assert "closed" not in result


async def test_closed_day_says_so_and_points_at_the_next_open_day(pool):
    ctx = await make_ctx(pool)
    result = await get_available_slots(ctx, "2026-11-28", now=BEFORE)  # Saturday
    assert result["slots"] == []
    assert result["closed"] is True
    assert result["weekday"] == "Saturday"
    assert result["next_available"] == [{"date": "2026-11-30", "time": t}
                                        for t in ("09:00", "09:30", "10:00")]


async def test_past_slots_are_hidden(pool):
    ctx = await make_ctx(pool)
    now = local(2026, 11, 26, 10, 10)
    result = await get_available_slots(ctx, "2026-11-26", now=now)
    assert result["slots"][0] == "10:30"
    assert (await get_available_slots(ctx, "2026-11-20", now=now))["slots"] == []


async def test_booked_slots_are_hidden(pool):
    ctx = await make_ctx(pool)
    await book_appointment(ctx, "2026-11-26", "09:30", "Ada Lovelace", now=BEFORE)
    result = await get_available_slots(ctx, "2026-11-26", now=BEFORE)
    assert result["slots"][:2] == ["09:00", "10:00"]


async def test_spring_forward_gap_has_no_slots(pool):
    ctx = await make_ctx(pool, business_hours={"sun": ["01:00", "04:00"]})
    result = await get_available_slots(ctx, "2026-03-08", now=datetime(2026, 3, 1, tzinfo=UTC))
    assert result["slots"] == ["01:00", "01:30", "03:00", "03:30"]


@pytest.mark.parametrize("bad", ["26-11-2026", "2026-02-30", "tomorrow", "", "2026-11-26T09:00"])
async def test_bad_date_is_a_tool_error(pool, bad):
    ctx = await make_ctx(pool)
    with pytest.raises(ToolError, match="date must be YYYY-MM-DD"):
        await get_available_slots(ctx, bad, now=BEFORE)


# --- booking ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "utc_start"), [
    ("2026-11-26", datetime(2026, 11, 26, 19, 30, tzinfo=UTC)),  # EST, UTC-5
    ("2026-07-15", datetime(2026, 7, 15, 18, 30, tzinfo=UTC)),   # EDT, UTC-4
])
async def test_booking_stores_the_utc_instant(pool, day, utc_start):
    ctx = await make_ctx(pool)
    result = await book_appointment(ctx, day, "14:30", "  Ada   Lovelace ", "(917) 555-0199",
                                    now=datetime(2026, 1, 1, tzinfo=UTC))
    assert result == {"booked": True, "appointment_id": result["appointment_id"], "date": day,
                      "weekday": result["weekday"], "time": "14:30", "name": "Ada Lovelace",
                      "phone": "+19175550199"}
    row = await appointments.get(pool, ctx.client.id, result["appointment_id"])
    assert row.starts_at == utc_start
    assert (row.ends_at - row.starts_at).total_seconds() == 30 * 60
    assert (row.status, row.name, row.phone) == ("booked", "Ada Lovelace", "+19175550199")
    assert (row.conversation_id, row.contact_id) == (ctx.conversation_id, ctx.contact_id)
    assert [a.id for a in await appointments.for_conversation(pool, ctx.conversation_id)] == [
        row.id]
    name = await pool.fetchval("SELECT name FROM contacts WHERE id = $1", ctx.contact_id)
    assert name == "Ada Lovelace"


async def test_phone_defaults_to_the_caller(pool):
    ctx = await make_ctx(pool)
    result = await book_appointment(ctx, "2026-11-26", "09:00", "Ada", now=BEFORE)
    assert result["phone"] == CALLER


async def test_unknown_caller_number_needs_a_phone(pool):
    ctx = await make_ctx(pool, caller="anonymous")
    with pytest.raises(ToolError, match="phone is required"):
        await book_appointment(ctx, "2026-11-26", "09:00", "Ada", now=BEFORE)
    with pytest.raises(ToolError, match="phone must be a valid phone number"):
        await book_appointment(ctx, "2026-11-26", "09:00", "Ada", "12345", now=BEFORE)


@pytest.mark.parametrize("bad", ["2pm", "24:00", "14:3", "14:60", "", "14.30"])
async def test_bad_time_is_a_tool_error(pool, bad):
    ctx = await make_ctx(pool)
    with pytest.raises(ToolError, match="time must be HH:MM"):
        await book_appointment(ctx, "2026-11-26", bad, "Ada", now=BEFORE)


async def test_missing_name_is_a_tool_error(pool):
    ctx = await make_ctx(pool)
    with pytest.raises(ToolError, match="name is required"):
        await book_appointment(ctx, "2026-11-26", "09:00", "   ", now=BEFORE)


async def test_database_constraint_refuses_a_double_booking(pool):
    ctx = await make_ctx(pool)
    start = local(2026, 11, 26, 10)
    fields = {"client_id": ctx.client.id, "starts_at": start,
              "ends_at": local(2026, 11, 26, 10, 30), "name": "A", "phone": CALLER}
    await appointments.insert(pool, **fields)
    with pytest.raises(appointments.SlotTaken):
        await appointments.insert(pool, **fields)


async def test_taken_slot_offers_the_nearest_free_ones(pool):
    ctx = await make_ctx(pool)
    assert (await book_appointment(ctx, "2026-11-26", "10:00", "Ada", now=BEFORE))["booked"]
    result = await book_appointment(ctx, "2026-11-26", "10:00", "Grace", now=BEFORE)
    assert result["booked"] is False
    assert result["reason"] == "slot_taken"
    assert result["date"] == "2026-11-26"
    assert [a["time"] for a in result["alternatives"]] == ["09:00", "09:30", "10:30"]
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 1


async def test_concurrent_bookings_exactly_one_wins(pool):
    first = await make_ctx(pool)
    second = ToolContext(pool=pool, client=first.client, conversation_id=None,
                         caller_phone="+13105550111")
    results = await asyncio.gather(
        book_appointment(first, "2026-11-26", "11:00", "Ada", now=BEFORE),
        book_appointment(second, "2026-11-26", "11:00", "Grace", now=BEFORE))
    assert sorted(r["booked"] for r in results) == [False, True]
    loser = next(r for r in results if not r["booked"])
    assert loser["reason"] == "slot_taken"
    assert [a["time"] for a in loser["alternatives"]] == ["10:00", "10:30", "11:30"]
    assert await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE status = 'booked'") == 1


async def test_full_day_offers_the_next_open_days_slots(pool):
    hours = {"thu": ["09:00", "10:00"], "mon": ["09:00", "17:00"]}
    ctx = await make_ctx(pool, business_hours=hours)
    for t in ("09:00", "09:30"):
        assert (await book_appointment(ctx, "2026-11-26", t, "Ada", now=BEFORE))["booked"]
    result = await book_appointment(ctx, "2026-11-26", "09:00", "Grace", now=BEFORE)
    assert result["reason"] == "slot_taken"
    assert result["alternatives"] == [{"date": "2026-11-30", "time": t}
                                      for t in ("09:00", "09:30", "10:00")]
    slots = await get_available_slots(ctx, "2026-11-26", now=BEFORE)
    assert slots["slots"] == [] and "closed" not in slots
    assert slots["next_available"][0] == {"date": "2026-11-30", "time": "09:00"}


@pytest.mark.parametrize(("time", "alternatives"), [
    ("18:00", ["15:30", "16:00", "16:30"]),  # after closing
    ("09:15", ["09:00", "09:30", "10:00"]),  # not on the slot grid
    ("16:45", ["16:00", "16:30", "15:30"]),  # would run past closing
])
async def test_outside_hours(pool, time, alternatives):
    ctx = await make_ctx(pool)
    result = await book_appointment(ctx, "2026-11-26", time, "Ada", now=BEFORE)
    assert (result["booked"], result["reason"]) == (False, "outside_hours")
    assert [a["time"] for a in result["alternatives"]] == sorted(alternatives)
    assert await pool.fetchval("SELECT count(*) FROM appointments") == 0


async def test_closed_day_booking(pool):
    ctx = await make_ctx(pool)
    result = await book_appointment(ctx, "2026-11-28", "10:00", "Ada", now=BEFORE)
    assert (result["booked"], result["reason"]) == (False, "closed")
    assert result["alternatives"][0] == {"date": "2026-11-30", "time": "09:00"}


async def test_past_time_is_refused(pool):
    ctx = await make_ctx(pool)
    result = await book_appointment(ctx, "2026-11-26", "10:00", "Ada",
                                    now=local(2026, 11, 26, 12))
    assert (result["booked"], result["reason"]) == (False, "in_past")
    assert [a["time"] for a in result["alternatives"]] == ["12:30", "13:00", "13:30"]


# --- cancelling ------------------------------------------------------------------------------

async def test_cancel_frees_the_slot(pool):
    ctx = await make_ctx(pool)
    booked = await book_appointment(ctx, "2026-11-26", "10:00", "Ada", now=BEFORE)
    result = await cancel_appointment(ctx, booked["appointment_id"], now=BEFORE)
    assert result == {"cancelled": True, "appointment_id": booked["appointment_id"],
                      "date": "2026-11-26", "time": "10:00"}
    row = await appointments.get(pool, ctx.client.id, booked["appointment_id"])
    assert row.status == "cancelled" and row.cancelled_at is not None
    again = await book_appointment(ctx, "2026-11-26", "10:00", "Grace", now=BEFORE)
    assert again["booked"] is True
    repeat = await cancel_appointment(ctx, booked["appointment_id"], now=BEFORE)
    assert repeat["reason"] == "not_found"


async def test_cancel_is_scoped_to_the_caller_and_client(pool):
    ctx = await make_ctx(pool)
    booked = await book_appointment(ctx, "2026-11-26", "10:00", "Ada", now=BEFORE)
    stranger = ToolContext(pool=pool, client=ctx.client, conversation_id=None,
                           caller_phone="+13105550111")
    other_tenant = await make_ctx(pool, phone_number="+12125550199")
    for who in (stranger, other_tenant):
        result = await cancel_appointment(who, booked["appointment_id"], now=BEFORE)
        assert result["reason"] == "not_found"
    # The same caller on a later call (no shared conversation) may cancel.
    later = ToolContext(pool=pool, client=ctx.client, conversation_id=None, caller_phone=CALLER)
    assert (await cancel_appointment(later, booked["appointment_id"], now=BEFORE))["cancelled"]
