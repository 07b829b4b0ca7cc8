"""/api/calls: the calls of every client of the owner, and what an operator does to them:
end or transfer a live call (in whichever process carries it), rate it, annotate it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.caller import FakeCall
from tests.test_api_conversations import make_call
from tests.test_api_support import assert_error, fields, key_headers, register
from tests.waiting import ended, until


async def test_the_list_spans_the_owners_clients_with_pages_and_filters(owner, server, pool):
    first, second = await owner.create_client(), await owner.create_client()
    now = datetime.now(UTC)
    old = await make_call(pool, first["id"], "CAcl1", created_at=now - timedelta(days=3))
    mid = await make_call(pool, second["id"], "CAcl2", created_at=now - timedelta(days=2))
    new = await make_call(pool, first["id"], "CAcl3", end_reason=None,
                          created_at=now - timedelta(days=1))
    async with httpx.AsyncClient(base_url=server.url) as http:
        stranger = await register(http)
        await make_call(pool, (await stranger.create_client())["id"], "CAcl4")

    body = (await owner.get("/api/calls")).json()
    assert [c["id"] for c in body["items"]] == [new, mid, old]
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (3, 1, 20, 1)
    page2 = (await owner.get("/api/calls", params={"per_page": 2, "page": 2})).json()
    assert [c["id"] for c in page2["items"]] == [old] and page2["pages"] == 2
    active = (await owner.get("/api/calls", params={"status": "active"})).json()
    assert [c["id"] for c in active["items"]] == [new]
    of_second = (await owner.get("/api/calls", params={"client_id": second["id"]})).json()
    assert [c["id"] for c in of_second["items"]] == [mid]
    window = {"date_from": (now - timedelta(days=2, hours=1)).isoformat(),
              "date_to": (now - timedelta(hours=36)).isoformat()}
    assert [c["id"] for c in (await owner.get("/api/calls", params=window)).json()["items"]] \
        == [mid]
    # The same list at CallWaitingAI's path.
    assert (await owner.get("/api/v1/calls")).json()["total"] == 3


async def test_calls_carry_the_callers_sentiment_and_filter_by_it(owner, pool):
    client = await owner.create_client()
    happy = await make_call(pool, client["id"], "CAhappy", turns=(
        ("assistant", "Hello"), ("user", "Great, thank you so much, that's wonderful!")))
    cross = await make_call(pool, client["id"], "CAcross", turns=(
        ("assistant", "Hello"), ("user", "This is terrible. I'm angry and upset.")))
    silent = await make_call(pool, client["id"], "CAsilent", turns=(("assistant", "Hello"),))
    listed = (await owner.get("/api/calls", params={"client_id": client["id"]})).json()
    assert {c["id"]: c["sentiment"] for c in listed["items"]} == {
        happy: "positive", cross: "negative", silent: "none"}
    for label, call_id in (("positive", happy), ("negative", cross), ("none", silent)):
        body = (await owner.get("/api/calls", params={"client_id": client["id"],
                                                      "sentiment": label})).json()
        assert ([c["id"] for c in body["items"]], body["total"]) == ([call_id], 1)
    neutral = await owner.get("/api/calls", params={"client_id": client["id"],
                                                    "sentiment": "neutral"})
    assert neutral.json()["total"] == 0
    assert (await owner.get(f"/api/calls/{cross}")).json()["sentiment"] == "negative"
    assert fields(await owner.get("/api/calls", params={"sentiment": "happy"})) \
        == {"sentiment"}


async def test_bad_list_queries_are_422_and_another_owners_client_is_404(owner, server):
    for params, field in (({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
                          ({"status": "ringing"}, "status"), ({"date_from": "yesterday"},
                                                              "date_from")):
        assert field in fields(await owner.get("/api/calls", params=params))
    backwards = {"date_from": "2026-12-02T00:00:00Z", "date_to": "2026-12-01T00:00:00Z"}
    assert fields(await owner.get("/api/calls", params=backwards)) == {"date_to"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        theirs = await (await register(http)).create_client()
    assert_error(await owner.get("/api/calls", params={"client_id": theirs["id"]}), 404)


async def test_one_call_with_feedback_and_notes(owner, server, pool):
    client = await owner.create_client()
    call_id = await make_call(pool, client["id"], "CAone",
                              turns=(("assistant", "Hello"), ("user", "Book me in")))
    rated = await owner.post(f"/api/calls/{call_id}/feedback",
                             json={"rating": 4, "comment": "Good, a little slow."})
    assert rated.status_code == 201, rated.text
    assert rated.json()["rating"] == 4 and rated.json()["user_id"] == owner.id
    noted = await owner.post(f"/api/v1/calls/{call_id}/transcript",
                             json={"text": "Called back; confirmed Thursday.", "source": "crm"})
    assert noted.status_code == 201, noted.text

    call = (await owner.get(f"/api/calls/{call_id}")).json()
    assert call["call_sid"] == "CAone" and call["live"] is False
    assert [t["content"] for t in call["transcript"]] == ["Hello", "Book me in"]
    assert [(f["rating"], f["comment"]) for f in call["feedback"]] == [(4, "Good, a little slow.")]
    assert [(n["source"], n["text"]) for n in call["notes"]] == [
        ("crm", "Called back; confirmed Thursday.")]
    # Deleting the call deletes what was said about it.
    assert (await owner.delete(f"/api/conversations/{call_id}")).status_code == 204
    assert await pool.fetchval("SELECT count(*) FROM call_feedback") == 0
    assert await pool.fetchval("SELECT count(*) FROM call_notes") == 0


@pytest.mark.parametrize(("body", "bad"), [
    ({"rating": 0}, "rating"), ({"rating": 6}, "rating"), ({}, "rating"),
    ({"rating": 3, "stars": 5}, "stars"), ({"rating": 3, "comment": "x" * 2001}, "comment"),
])
async def test_bad_feedback_is_422_and_stores_nothing(owner, pool, body, bad):
    client = await owner.create_client()
    call_id = await make_call(pool, client["id"], f"CAbad{bad}{len(body)}")
    assert bad in fields(await owner.post(f"/api/calls/{call_id}/feedback", json=body))
    assert await pool.fetchval("SELECT count(*) FROM call_feedback WHERE conversation_id = $1",
                               call_id) == 0


async def test_invalid_json_and_empty_notes_are_422(owner, pool):
    client = await owner.create_client()
    call_id = await make_call(pool, client["id"], "CAjson")
    response = await owner.post(f"/api/calls/{call_id}/transcript", content=b"{not json",
                                headers={"Content-Type": "application/json"})
    assert_error(response, 422)
    assert "text" in fields(await owner.post(f"/api/calls/{call_id}/transcript",
                                             json={"text": ""}))


async def test_another_owners_call_is_404_for_every_operation(owner, server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        stranger = await register(http)
        theirs = await make_call(pool, (await stranger.create_client())["id"], "CAtheirs",
                                 end_reason=None)
    for method, path, body in (("GET", "", None), ("POST", "/end", {}),
                               ("POST", "/transfer", {"to": "+14155550199"}),
                               ("POST", "/feedback", {"rating": 5}),
                               ("POST", "/transcript", {"text": "hi"})):
        response = await owner.http.request(method, f"/api/calls/{theirs}{path}", json=body,
                                            headers=owner.auth)
        assert_error(response, 404)
    assert await pool.fetchval("SELECT count(*) FROM call_feedback") == 0


async def test_a_call_no_process_carries_cannot_be_ended(owner, pool):
    client = await owner.create_client()
    finished = await make_call(pool, client["id"], "CAdone")
    orphan = await make_call(pool, client["id"], "CAorphan", end_reason=None)
    for call_id in (finished, orphan):
        body = assert_error(await owner.post(f"/api/calls/{call_id}/end"), 409)
        assert body["error_code"] == "call_not_active"
    assert fields(await owner.post(f"/api/calls/{orphan}/transfer", json={"to": "12"})) \
        == {"to"}


async def test_a_key_needs_write_calls_to_act(owner, pool):
    client = await owner.create_client()
    call_id = await make_call(pool, client["id"], "CAkey")
    reader = (await owner.create_key("read:conversations"))["key"]
    assert (await owner.http.get(f"/api/calls/{call_id}",
                                 headers=key_headers(reader))).status_code == 200
    refused = await owner.http.post(f"/api/calls/{call_id}/feedback", json={"rating": 5},
                                    headers=key_headers(reader))
    assert assert_error(refused, 403)["error_code"] == "missing_scope"


async def live_call(owner, server) -> tuple[FakeCall, int]:
    client = await owner.create_client()
    call = FakeCall(server.url, to=client["phone_number"])
    await call.dial()
    await call.connect()
    await call.wait_for_agent()
    listed = (await owner.get("/api/calls", params={"status": "active",
                                                     "client_id": client["id"]})).json()
    [row] = listed["items"]
    return call, row["id"]


async def test_an_operator_ends_a_live_call_after_a_goodbye(owner, server, pool):
    call, call_id = await live_call(owner, server)
    assert (await owner.get(f"/api/calls/{call_id}")).json()["live"] is True
    heard = call.media_count()
    response = await owner.post(f"/api/calls/{call_id}/end")
    assert response.status_code == 202, response.text
    assert response.json() == {"id": call_id, "call_sid": call.call_sid, "action": "end",
                               "status": "requested"}
    await call.wait_closed()
    conv = await ended(pool, call.call_sid)
    assert conv.end_reason == "operator_ended"
    assert call.media_count() > heard                       # the goodbye was played
    assert "Goodbye" in conv.transcript[-1]["content"]
    assert server.twilio.hangups(call.call_sid)
    assert_error(await owner.post(f"/api/calls/{call_id}/end"), 409)


async def test_an_operator_transfers_a_live_call(owner, server, pool):
    call, call_id = await live_call(owner, server)
    response = await owner.post(f"/api/calls/{call_id}/transfer", json={"to": "+1 415 555 0142"})
    assert response.status_code == 202, response.text

    async def redirected() -> list:
        return server.twilio.redirects(call.call_sid)

    redirect = (await until(redirected, what="the REST redirect"))[0]
    await call.hang_up()                      # Twilio ends the stream once it dials
    conv = await ended(pool, call.call_sid)
    assert "<Dial>+14155550142</Dial>" in redirect["form"]["Twiml"]
    assert conv.end_reason == "transferred" and conv.transferred_to == "+14155550142"
    assert conv.transcript[-1]["content"] == "Please hold while I transfer you."
