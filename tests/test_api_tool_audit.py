"""/api/.../tool-executions: the audit log per client and per call, stats, owner summary."""

from __future__ import annotations

from db import tool_executions
from tests.test_api_conversations import make_call
from tests.test_api_support import assert_error, fields, register


async def run(pool, client_id: int, conv: int | None, tool: str, ms: int,
              error: str | None = None) -> int:
    return await tool_executions.insert(
        pool, client_id=client_id, conversation_id=conv, tool_name=tool,
        input={"date": "2026-12-08"}, output=None if error else {"ok": True},
        status="error" if error else "success", error_message=error, execution_time_ms=ms)


async def test_log_per_client_per_call_and_one_row(owner, pool):
    client = await owner.create_client()
    conv = await make_call(pool, client["id"], "CAtool1")
    first = await run(pool, client["id"], conv, "get_available_slots", 40)
    second = await run(pool, client["id"], conv, "book_appointment", 90, "slot taken")
    other = await run(pool, client["id"], None, "get_available_slots", 10)
    base = f"/api/clients/{client['id']}"

    page = (await owner.get(base + "/tool-executions")).json()
    assert page["total"] == 3 and [e["id"] for e in page["items"]] == [other, second, first]
    errors = (await owner.get(base + "/tool-executions", params={"status": "error"})).json()
    assert [e["id"] for e in errors["items"]] == [second]
    assert errors["items"][0]["error_message"] == "slot taken"
    slots = (await owner.get(base + "/tool-executions",
                             params={"tool_name": "get_available_slots"})).json()
    assert {e["id"] for e in slots["items"]} == {first, other}

    call = (await owner.get(f"{base}/conversations/{conv}/tool-executions")).json()
    assert [e["id"] for e in call] == [first, second]
    one = (await owner.get(f"{base}/tool-executions/{first}")).json()
    assert one["input"] == {"date": "2026-12-08"} and one["output"] == {"ok": True}
    assert one["execution_time_ms"] == 40 and one["conversation_id"] == conv
    assert_error(await owner.get(f"{base}/tool-executions/999999"), 404, "not_found")
    assert_error(await owner.get(f"{base}/conversations/999999/tool-executions"), 404)
    assert fields(await owner.get(base + "/tool-executions", params={"status": "x"})) \
        == {"status"}


async def test_stats_per_tool_and_the_summary(owner, pool):
    a = await owner.create_client()
    b = await owner.create_client()
    for ms in (10, 20, 30, 40, 100):
        await run(pool, a["id"], None, "get_available_slots", ms)
    await run(pool, a["id"], None, "book_appointment", 50, "calendar down")
    await run(pool, b["id"], None, "book_appointment", 70)

    stats = (await owner.get(f"/api/clients/{a['id']}/tool-executions/stats",
                             params={"days": 7})).json()
    assert stats["tools"] == [
        {"tool_name": "get_available_slots", "count": 5, "errors": 0, "error_rate": 0.0,
         "p50_ms": 30.0, "p95_ms": 88.0},
        {"tool_name": "book_appointment", "count": 1, "errors": 1, "error_rate": 1.0,
         "p50_ms": 50.0, "p95_ms": 50.0}]

    summary = (await owner.get("/api/tool-executions/summary")).json()
    assert (summary["count"], summary["errors"], summary["error_rate"]) == (7, 1, 0.1429)
    booking = next(t for t in summary["tools"] if t["tool_name"] == "book_appointment")
    assert booking["count"] == 2 and booking["error_rate"] == 0.5
    assert [(c["client_id"], c["count"], c["errors"]) for c in summary["clients"]] == [
        (a["id"], 6, 1), (b["id"], 1, 0)]
    assert fields(await owner.get("/api/tool-executions/summary", params={"days": 0})) \
        == {"days"}


async def test_another_owners_client_is_404_and_not_summed(owner, pool):
    client = await owner.create_client()
    conv = await make_call(pool, client["id"], "CAtool2")
    execution = await run(pool, client["id"], conv, "end_call", 5)
    other = await register(owner.http)
    base = f"/api/clients/{client['id']}"
    for path in ("/tool-executions", "/tool-executions/stats",
                 f"/tool-executions/{execution}", f"/conversations/{conv}/tool-executions"):
        assert_error(await other.get(base + path), 404, "not_found")
    summary = (await other.get("/api/tool-executions/summary")).json()
    assert summary["count"] == 0 and summary["tools"] == [] and summary["clients"] == []
