"""The transfer_call tool: the live call decides, run_tool audits, clients opt in."""

from __future__ import annotations

from typing import Any

import pytest

from db import clients, tool_executions, users
from tools import registry
from tools.audit import run_tool
from tools.context import CallControl, ToolContext

CALLER = "+12125550123"
OPERATOR = "+12125550199"


class LiveCall:
    """A real CallControl: records hang-ups and transfer requests, answers as configured."""

    def __init__(self, answer: dict[str, Any] | None = None, *, fail: bool = False) -> None:
        self.answer = answer if answer is not None else {"transferring": True, "to": OPERATOR}
        self.fail = fail
        self.hang_ups: list[str] = []
        self.transfers = 0

    async def end_call(self, reason: str) -> None:
        self.hang_ups.append(reason)

    async def transfer_call(self) -> dict[str, Any]:
        self.transfers += 1
        if self.fail:
            raise RuntimeError("Twilio said no")
        return dict(self.answer)


async def make_ctx(pool, *, call: CallControl | None = None, **client_fields) -> ToolContext:
    owner = await users.insert(pool, email="owner@example.com")
    client = await clients.insert(pool, owner_id=owner.id, name="Dental",
                                  phone_number="+12125550100", **client_fields)
    conversation_id = await pool.fetchval(
        "INSERT INTO conversations (call_sid, client_id, caller_phone) VALUES ('CA1', $1, $2)"
        " RETURNING id", client.id, CALLER)
    return ToolContext(pool=pool, client=client, conversation_id=conversation_id,
                       caller_phone=CALLER, call=call)


async def only_row(ctx: ToolContext) -> dict:
    [row] = await tool_executions.for_conversation(ctx.pool, ctx.conversation_id)
    return row


async def test_transfer_asks_the_live_call_and_is_audited(pool):
    call = LiveCall()
    ctx = await make_ctx(pool, call=call)
    output = await run_tool(ctx, "transfer_call", {})
    assert output == {"transferring": True, "to": OPERATOR}
    assert call.transfers == 1 and call.hang_ups == []
    row = await only_row(ctx)
    assert (row["tool_name"], row["status"], row["error_message"]) == (
        "transfer_call", "success", None)
    assert row["input"] == {} and row["output"] == output
    assert row["client_id"] == ctx.client.id and row["execution_time_ms"] >= 0


async def test_a_refused_transfer_is_returned_as_the_call_said(pool):
    answer = {"transferring": False, "reason": "no transfer number configured"}
    ctx = await make_ctx(pool, call=LiveCall(answer))
    assert await run_tool(ctx, "transfer_call", {}) == answer
    row = await only_row(ctx)
    assert (row["status"], row["output"]) == ("success", answer)


async def test_without_a_live_call_there_is_no_transfer(pool):
    ctx = await make_ctx(pool)
    output = await run_tool(ctx, "transfer_call", {})
    assert output == {"transferring": False, "reason": "transfers are not available on this line"}
    row = await only_row(ctx)
    assert (row["tool_name"], row["status"], row["output"]) == ("transfer_call", "success",
                                                                output)


async def test_the_llm_cannot_choose_the_number(pool):
    call = LiveCall()
    ctx = await make_ctx(pool, call=call)
    output = await run_tool(ctx, "transfer_call", {"to": "+19005550100"})
    assert output == {"error": "unknown argument(s): to"}
    assert call.transfers == 0
    row = await only_row(ctx)
    assert (row["status"], row["error_message"]) == ("error", "unknown argument(s): to")


async def test_a_failing_call_is_hidden_from_the_llm_and_audited(pool):
    ctx = await make_ctx(pool, call=LiveCall(fail=True))
    assert await run_tool(ctx, "transfer_call", {}) == {
        "error": "the transfer is unavailable right now"}
    row = await only_row(ctx)
    assert row["status"] == "error"
    assert row["error_message"] == "RuntimeError: Twilio said no"


async def test_clients_get_transfer_only_when_they_enable_it(pool):
    assert "transfer_call" in registry.KNOWN_TOOLS
    schema = registry.TOOLS["transfer_call"].function_schema()
    assert schema["parameters"] == {"type": "object", "properties": {}, "required": []}

    default = (await make_ctx(pool)).client
    assert "transfer_call" not in default.enabled_tools
    assert "transfer_call" not in [t.name for t in registry.tools_for(default.enabled_tools)]

    owner = await users.insert(pool, email="other@example.com")
    opted_in = await clients.insert(
        pool, owner_id=owner.id, name="Clinic", phone_number="+12125550101",
        enabled_tools=["get_available_slots", "transfer_call", "end_call"])
    assert [t.name for t in registry.tools_for(opted_in.enabled_tools)] == [
        "get_available_slots", "transfer_call", "end_call"]


@pytest.mark.parametrize("call", [None, LiveCall()], ids=["no call", "live call"])
async def test_the_handler_alone(pool, call):
    from tools.transfer import transfer_call

    ctx = await make_ctx(pool, call=call)
    result = await transfer_call(ctx)
    assert result["transferring"] is (call is not None)
