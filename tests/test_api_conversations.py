"""/api/clients/{id}/conversations: paging, filters, transcript, delete, CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from db import conversations
from tests.test_api_support import assert_error, fields


async def make_call(pool, client_id: int, sid: str, *, end_reason: str | None = "caller_hangup",
                    turns: tuple[tuple[str, str], ...] = (), created_at: datetime | None = None,
                    caller: str = "+14155550199") -> int:
    conv_id = await conversations.create_pending(pool, call_sid=sid, client_id=client_id,
                                                 caller_phone=caller, token_nonce="n")
    await conversations.activate(pool, call_sid=sid, client_id=client_id, token_nonce="n",
                                 stream_sid="MZ" + sid)
    for role, content in turns:
        await conversations.append_turn(pool, conv_id, {
            "role": role, "content": content, "timestamp": "2026-11-25T10:00:00+00:00",
            "interrupted": False})
    if end_reason is not None:
        await conversations.finish(pool, conv_id, end_reason=end_reason)
    if created_at is not None:
        await pool.execute("UPDATE conversations SET created_at = $2 WHERE id = $1", conv_id,
                           created_at)
    return conv_id


async def test_list_pages_newest_first_with_filters(owner, pool):
    client = await owner.create_client()
    base = f"/api/clients/{client['id']}/conversations"
    now = datetime.now(UTC)
    old = await make_call(pool, client["id"], "CA1", created_at=now - timedelta(days=3))
    mid = await make_call(pool, client["id"], "CA2", end_reason="max_duration",
                          created_at=now - timedelta(days=2))
    new = await make_call(pool, client["id"], "CA3", created_at=now - timedelta(days=1))
    live = await make_call(pool, client["id"], "CA4", end_reason=None)

    page = (await owner.get(base, params={"limit": 2})).json()
    assert page["total"] == 4 and [c["id"] for c in page["items"]] == [live, new]
    page2 = (await owner.get(base, params={"limit": 2, "offset": 2})).json()
    assert [c["id"] for c in page2["items"]] == [mid, old]

    since = (now - timedelta(days=2, hours=12)).isoformat()
    until = (now - timedelta(hours=12)).isoformat()
    ranged = (await owner.get(base, params={"since": since, "until": until})).json()
    assert [c["id"] for c in ranged["items"]] == [new, mid]
    reason = (await owner.get(base, params={"end_reason": "max_duration"})).json()
    assert [c["id"] for c in reason["items"]] == [mid]
    active = (await owner.get(base, params={"status": "active"})).json()
    assert [c["id"] for c in active["items"]] == [live]

    assert fields(await owner.get(base, params={"limit": 101})) == {"limit"}
    assert fields(await owner.get(base, params={"limit": 0})) == {"limit"}
    assert fields(await owner.get(base, params={"since": "yesterday"})) == {"since"}
    assert fields(await owner.get(base, params={"status": "paused"})) == {"status"}


async def test_get_one_has_the_transcript_and_delete_needs_an_ended_call(owner, pool):
    client = await owner.create_client()
    base = f"/api/clients/{client['id']}/conversations"
    ended = await make_call(pool, client["id"], "CA10", turns=(
        ("assistant", "Hello, thanks for calling."), ("user", "Book me for Friday.")))
    live = await make_call(pool, client["id"], "CA11", end_reason=None)
    one = (await owner.get(f"{base}/{ended}")).json()
    assert one["turns"] == 2 and one["end_reason"] == "caller_hangup"
    assert [(t["role"], t["content"]) for t in one["transcript"]] == [
        ("assistant", "Hello, thanks for calling."), ("user", "Book me for Friday.")]

    assert_error(await owner.delete(f"{base}/{live}"), 409, "call_in_progress")
    assert (await owner.delete(f"{base}/{ended}")).status_code == 204
    assert await conversations.get(pool, ended) is None
    assert await conversations.get(pool, live) is not None
    assert_error(await owner.get(f"{base}/{ended}"), 404)


async def test_csv_export_follows_the_filters(owner, pool):
    client = await owner.create_client()
    await make_call(pool, client["id"], "CA20", turns=(("user", "=HYPERLINK(\"x\")"),))
    await make_call(pool, client["id"], "CA21", end_reason="error")
    response = await owner.get(f"/api/clients/{client['id']}/conversations/export",
                               params={"end_reason": "caller_hangup"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["call_sid"] for r in rows] == ["CA20"]
    assert rows[0]["caller_phone"] == "'+14155550199" and rows[0]["turns"] == "1"
    assert rows[0]["transcript"] == "user: =HYPERLINK(\"x\")"  # starts with "u": left as is
    assert (await owner.get(f"/api/clients/{client['id']}/conversations/export")).text.count(
        "\n") == 3


async def test_no_export_cell_can_run_as_a_spreadsheet_formula(owner, pool):
    # Rows as a webhook or a caller could have left them: every column is guarded.
    client = await owner.create_client()
    await make_call(pool, client["id"], "=1+2", caller='=HYPERLINK("http://evil.example")',
                    end_reason="@SUM(A1)", turns=(("assistant", "Hi"),))
    await make_call(pool, client["id"], "-2+3", caller=" =cmd|' /C calc'!A0")
    await make_call(pool, client["id"], "\uff1d1+1", caller="\t=1")
    response = await owner.get(f"/api/clients/{client['id']}/conversations/export")
    rows = list(csv.reader(io.StringIO(response.text)))[1:]
    cells = [cell for row in rows for cell in row]
    assert len(rows) == 3
    assert not [c for c in cells if c.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "\r",
                                                          "\uff1d")]
    assert "'=HYPERLINK(\"http://evil.example\")" in cells and "'@SUM(A1)" in cells
