"""/api/analytics: stats, daily metrics, sentiment, export; scoped to the owner's clients."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from db import appointments, messages
from tests.test_api_conversations import make_call
from tests.test_api_support import assert_error, fields, register

HAPPY = (("user", "Hi, I would love to book a cleaning, thank you so much!"),
         ("assistant", "Sure, Thursday at ten?"), ("user", "Great, that is perfect."))
ANGRY = (("user", "This is terrible, I am angry and frustrated."),)


async def seed(pool, client_id: int) -> dict[str, int]:
    """Three calls today (one booked, one transferred with a message), one 3 days ago."""
    now = datetime.now(UTC)
    booked = await make_call(pool, client_id, f"CAb{client_id}", turns=HAPPY)
    tomorrow = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    await appointments.insert(pool, client_id=client_id, starts_at=tomorrow,
                              ends_at=tomorrow + timedelta(minutes=30), name="Maria",
                              phone="+14155550123", conversation_id=booked)
    angry = await make_call(pool, client_id, f"CAa{client_id}", turns=ANGRY)
    await pool.execute("UPDATE conversations SET transferred_to = '+14155550199',"
                       " billed_seconds = 90, duration_seconds = 90 WHERE id = $1", angry)
    await messages.insert(pool, client_id=client_id, conversation_id=angry, contact_id=None,
                          name="Maria", callback_phone=None, body="Call me back")
    silent = await make_call(pool, client_id, f"CAs{client_id}")
    old = await make_call(pool, client_id, f"CAo{client_id}", turns=HAPPY,
                          created_at=now - timedelta(days=3))
    await pool.execute("UPDATE conversations SET billed_seconds = 30 WHERE id = $1", booked)
    return {"booked": booked, "angry": angry, "silent": silent, "old": old}


async def test_stats_count_what_the_calls_did(owner, pool):
    client = await owner.create_client()
    await seed(pool, client["id"])
    today = (await owner.get("/api/analytics/stats",
                             params={"days": 1, "client_id": client["id"]})).json()
    assert {k: today[k] for k in ("client_id", "days", "calls", "ended_calls", "bookings",
                                  "booking_rate", "transfers", "messages", "minutes_used")} == {
        "client_id": client["id"], "days": 1, "calls": 3, "ended_calls": 3, "bookings": 1,
        "booking_rate": round(1 / 3, 4), "transfers": 1, "messages": 1, "minutes_used": 2.0}
    assert sum(h["calls"] for h in today["busiest_hours"]) == 3
    week = (await owner.get("/api/analytics/stats", params={"days": 7})).json()
    assert week["client_id"] is None and week["calls"] == 4 and week["bookings"] == 1
    # /api/v1/analytics/summary is the same numbers
    v1 = (await owner.get("/api/v1/analytics/summary", params={"days": 7})).json()
    assert v1["calls"] == 4


async def test_daily_has_every_day_oldest_first(owner, pool):
    client = await owner.create_client()
    await seed(pool, client["id"])
    body = (await owner.get("/api/analytics/metrics/daily",
                            params={"days": 5, "client_id": client["id"]})).json()
    assert body["timezone"] == "UTC" and len(body["days"]) == 5
    assert [d["calls"] for d in body["days"]] == [0, 1, 0, 0, 3]
    assert body["days"][-1]["date"] == datetime.now(UTC).date().isoformat()
    assert body["days"][-1]["bookings"] == 1 and body["days"][-1]["transfers"] == 1
    assert body["days"][0]["avg_duration_seconds"] is None


async def test_sentiment_per_call_from_the_callers_turns(owner, pool):
    client = await owner.create_client()
    ids = await seed(pool, client["id"])
    body = (await owner.get("/api/analytics/sentiment-analysis",
                            params={"days": 1, "client_id": client["id"]})).json()
    by_id = {i["conversation_id"]: i for i in body["items"]}
    assert by_id[ids["booked"]]["label"] == "positive"
    assert by_id[ids["booked"]]["caller_turns"] == 2
    assert by_id[ids["angry"]]["label"] == "negative" and by_id[ids["angry"]]["compound"] < 0
    assert by_id[ids["silent"]] | {"created_at": None} == {
        "conversation_id": ids["silent"], "client_id": client["id"], "created_at": None,
        "compound": None, "label": "none", "caller_turns": 0}
    assert body["counts"] == {"positive": 1, "neutral": 0, "negative": 1, "none": 1}


async def test_export_csv_and_json_by_date_range(owner, pool):
    client = await owner.create_client()
    ids = await seed(pool, client["id"])
    now = datetime.now(UTC)
    period = {"since": (now - timedelta(days=1)).isoformat(), "client_id": client["id"]}
    response = await owner.get("/api/analytics/export", params=period)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {int(r["id"]) for r in rows} == {ids["booked"], ids["angry"], ids["silent"]}
    angry = next(r for r in rows if int(r["id"]) == ids["angry"])
    assert (angry["transferred"], angry["messages"], angry["bookings"]) == ("True", "1", "0")
    assert angry["caller_phone"] == "'+14155550199"   # formula guard on a leading +

    older = {"since": (now - timedelta(days=4)).isoformat(),
             "until": (now - timedelta(days=2)).isoformat(), "format": "json"}
    items = json.loads((await owner.get("/api/analytics/export", params=older)).text)
    assert [i["id"] for i in items] == [ids["old"]] and items[0]["sentiment"] > 0
    calls = (await owner.get("/api/v1/analytics/calls", params=older)).json()
    assert [i["id"] for i in calls["items"]] == [ids["old"]]


async def test_bad_days_and_ranges_are_422(owner):
    for days in (0, 366, "x"):
        assert fields(await owner.get("/api/analytics/stats", params={"days": days})) \
            == {"days"}
    assert fields(await owner.get("/api/analytics/metrics/daily", params={"days": 400})) \
        == {"days"}
    now = datetime.now(UTC)
    backwards = {"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()}
    assert fields(await owner.get("/api/analytics/export", params=backwards)) == {"until"}
    too_long = {"since": (now - timedelta(days=400)).isoformat(), "until": now.isoformat()}
    assert fields(await owner.get("/api/analytics/export", params=too_long)) == {"until"}
    assert fields(await owner.get("/api/analytics/export", params={})) == {"since"}
    assert fields(await owner.get("/api/analytics/export",
                                  params={"since": now.isoformat(), "format": "xml"})) \
        == {"format"}


async def test_another_owners_client_is_404_and_not_counted(owner, pool):
    theirs = await owner.create_client()
    await seed(pool, theirs["id"])
    other = await register(owner.http)
    for path in ("/api/analytics/stats", "/api/analytics/metrics/daily",
                 "/api/analytics/sentiment-analysis", "/api/v1/analytics/summary"):
        assert_error(await other.get(path, params={"client_id": theirs["id"]}), 404,
                     "not_found")
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert_error(await other.get("/api/analytics/export",
                                 params={"since": since, "client_id": theirs["id"]}), 404)
    mine = (await other.get("/api/analytics/stats", params={"days": 30})).json()
    assert mine["calls"] == 0 and mine["booking_rate"] is None
    exported = await other.get("/api/analytics/export", params={"since": since})
    assert exported.text.strip().count("\n") == 0    # the header only


async def test_a_key_needs_read_analytics(owner):
    key = await owner.create_key("read:analytics")
    ok = await owner.http.get("/api/analytics/stats", headers={"X-API-Key": key["key"]})
    assert ok.status_code == 200
