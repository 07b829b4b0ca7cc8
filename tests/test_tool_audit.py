"""run_tool and the registry: one audit row per call, readable errors, never an exception."""

import asyncio
import inspect
import logging

import pytest

from db import clients, tool_executions, users
from tools import audit, registry
from tools.audit import run_tool
from tools.calendar import ToolError
from tools.context import ToolContext

CALLER = "+12125550123"
FUTURE_MONDAY = "2099-06-01"  # far enough ahead that the real clock never reaches it


class RecordingCall:
    """A real CallControl: remembers hang-ups, optionally blocks until released."""

    def __init__(self, *, block: bool = False, refuse: str | None = None):
        self.reasons: list[str] = []
        self.refuse = refuse
        self.entered = asyncio.Event()
        self._release = asyncio.Event()
        if not block:
            self._release.set()

    async def end_call(self, reason: str) -> None:
        self.entered.set()
        await self._release.wait()
        if self.refuse:
            raise ToolError(self.refuse)
        self.reasons.append(reason)


async def make_ctx(pool, *, call: RecordingCall | None = None, **client_fields) -> ToolContext:
    client_fields.setdefault("timezone", "America/Chicago")
    owner = await users.insert(pool, email="owner@example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number="+12125550100", **client_fields)
    conversation_id = await pool.fetchval(
        "INSERT INTO conversations (call_sid, client_id, caller_phone) VALUES ('CA1', $1, $2)"
        " RETURNING id", client.id, CALLER)
    return ToolContext(pool=pool, client=client, conversation_id=conversation_id,
                       caller_phone=CALLER, call=call)


async def audit_rows(ctx: ToolContext) -> list[dict]:
    return await tool_executions.for_conversation(ctx.pool, ctx.conversation_id)


async def test_success_is_audited(pool):
    ctx = await make_ctx(pool)
    output = await run_tool(ctx, "get_available_slots", {"date": FUTURE_MONDAY})
    assert output["slots"][0] == "09:00"
    [row] = await audit_rows(ctx)
    assert row["tool_name"] == "get_available_slots"
    assert row["status"] == "success"
    assert row["input"] == {"date": FUTURE_MONDAY}
    assert row["output"] == output
    assert row["error_message"] is None
    assert row["execution_time_ms"] >= 0
    assert row["client_id"] == ctx.client.id


async def test_booking_through_run_tool(pool):
    ctx = await make_ctx(pool)
    args = {"date": FUTURE_MONDAY, "time": "10:00", "name": "Ada", "phone": None}
    output = await run_tool(ctx, "book_appointment", args)
    assert output["booked"] is True and output["phone"] == CALLER  # null phone means omitted
    again = await run_tool(ctx, "book_appointment", args)
    assert again["reason"] == "slot_taken"
    assert [r["status"] for r in await audit_rows(ctx)] == ["success", "success"]


@pytest.mark.parametrize(("name", "arguments", "message"), [
    ("get_available_slots", {"date": "next tuesday"}, "date must be YYYY-MM-DD"),
    ("get_available_slots", {}, "missing argument(s): date"),
    ("get_available_slots", {"date": FUTURE_MONDAY, "now": "2099-01-01"},
     "unknown argument(s): now"),
    ("get_available_slots", {"date": 20990601}, "date must be a string"),
    ("book_appointment", {"date": FUTURE_MONDAY, "time": "10:00"}, "missing argument(s): name"),
    ("cancel_appointment", {"appointment_id": True}, "appointment_id must be an integer"),
    ("get_available_slots", ["2099-06-01"], "arguments must be a JSON object"),
    ("book_a_table", {"date": FUTURE_MONDAY}, "unknown tool: book_a_table"),
])
async def test_mistakes_come_back_as_readable_errors(pool, name, arguments, message):
    ctx = await make_ctx(pool)
    output = await run_tool(ctx, name, arguments)
    assert output == {"error": message}
    [row] = await audit_rows(ctx)
    assert (row["tool_name"], row["status"], row["error_message"]) == (name, "error", message)
    assert row["output"] == output


async def test_unexpected_failure_is_hidden_from_the_llm_but_logged(pool, caplog):
    ctx = await make_ctx(pool, timezone="Mars/Olympus_Mons")  # ZoneInfo cannot load it
    with caplog.at_level(logging.ERROR, logger="frontdesk.tools"):
        output = await run_tool(ctx, "get_available_slots", {"date": FUTURE_MONDAY})
    assert output == {"error": "the calendar is unavailable right now"}
    [row] = await audit_rows(ctx)
    assert row["status"] == "error"
    assert row["error_message"].startswith("ZoneInfoNotFoundError")
    assert "get_available_slots failed" in caplog.text


async def test_end_call_hangs_up_the_live_call(pool):
    call = RecordingCall()
    ctx = await make_ctx(pool, call=call)
    assert await run_tool(ctx, "end_call", {}) == {"ok": True}
    assert call.reasons == ["agent_hangup"]
    [row] = await audit_rows(ctx)
    assert (row["tool_name"], row["status"]) == ("end_call", "success")


async def test_end_call_without_a_live_call_is_harmless(pool):
    ctx = await make_ctx(pool)
    assert await run_tool(ctx, "end_call", {}) == {"ok": True}


async def test_a_cancelled_tool_call_is_still_audited(pool, monkeypatch):
    monkeypatch.setattr(audit, "FINISH_GRACE_SECS", 0)
    call = RecordingCall(block=True)
    ctx = await make_ctx(pool, call=call)
    task = asyncio.create_task(run_tool(ctx, "end_call", {}))
    await call.entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await audit_rows(ctx)
    assert (row["status"], row["error_message"]) == ("error", "cancelled")
    assert call.reasons == []


async def cancelled_as_it_finishes(pool, call: RecordingCall) -> dict:
    """end_call cancelled while it runs, then let finish: its one audit row."""
    ctx = await make_ctx(pool, call=call)
    task = asyncio.create_task(run_tool(ctx, "end_call", {}))
    await call.entered.wait()
    task.cancel()
    call._release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    [row] = await audit_rows(ctx)
    return row


async def test_a_tool_call_cancelled_as_it_finishes_is_audited_with_its_result(pool):
    # A barge-in arriving while a booking commits: the audit says what happened.
    call = RecordingCall(block=True)
    row = await cancelled_as_it_finishes(pool, call)
    assert (row["status"], row["error_message"], row["output"]) == ("success", None,
                                                                    {"ok": True})
    assert call.reasons == ["agent_hangup"]


async def test_a_tool_call_cancelled_as_it_fails_is_audited_with_its_error(pool):
    row = await cancelled_as_it_finishes(pool, RecordingCall(block=True, refuse="the line is busy"))
    assert (row["status"], row["error_message"], row["output"]) == (
        "error", "the line is busy", {"error": "the line is busy"})


def test_tools_for_keeps_known_names_in_order():
    tools = registry.tools_for(["end_call", "send_fax", "get_available_slots", "end_call"])
    assert [t.name for t in tools] == ["end_call", "get_available_slots"]
    assert {"get_available_slots", "book_appointment", "end_call",
            "transfer_call"} <= registry.KNOWN_TOOLS
    assert "send_fax" not in registry.KNOWN_TOOLS


@pytest.mark.parametrize("tool", registry.TOOLS.values(), ids=lambda t: t.name)
def test_schemas_match_the_handlers(tool):
    params = list(inspect.signature(tool.handler).parameters.values())[1:]  # after ctx
    llm_params = [p for p in params if p.kind is not p.KEYWORD_ONLY]
    assert [p.name for p in llm_params] == list(tool.properties)
    assert tool.required == [p.name for p in llm_params if p.default is p.empty]
    schema = tool.function_schema()
    assert schema["parameters"]["type"] == "object"
    assert all(p.get("description") for p in tool.properties.values())
