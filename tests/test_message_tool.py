"""The take_message tool: one messages row with the call and the contact, an audit row like
every tool, the caller ID as the default callback number, and clear errors the LLM can fix."""

from __future__ import annotations

from db import contacts, messages, tool_executions
from tests.test_api_conversations import make_call
from tests.test_transfer_tool import CALLER, make_ctx
from tools import registry
from tools.audit import run_tool
from tools.context import ToolContext
from tools.outcome import BOOKED, MESSAGE_TAKEN, NO_ACTION, decided


async def with_contact(ctx: ToolContext) -> ToolContext:
    contact_id = await contacts.upsert_by_phone(ctx.pool, client_id=ctx.client.id,
                                                phone_number=CALLER)
    return ToolContext(pool=ctx.pool, client=ctx.client, conversation_id=ctx.conversation_id,
                       caller_phone=ctx.caller_phone, contact_id=contact_id)


async def test_a_message_is_stored_with_the_call_and_the_contact(pool):
    ctx = await with_contact(await make_ctx(pool))
    out = await run_tool(ctx, "take_message", {
        "name": "Maria  Garcia", "message": "Please call me back about my results."})
    assert out["taken"] is True and out["callback_phone"] == CALLER
    [stored] = await messages.for_conversation(pool, ctx.client.id, ctx.conversation_id)
    assert (stored.name, stored.callback_phone, stored.body, stored.reason, stored.contact_id) \
        == ("Maria Garcia", CALLER, "Please call me back about my results.", "requested",
            ctx.contact_id)
    contact = await contacts.get_for_client(pool, ctx.client.id, ctx.contact_id)
    assert contact is not None and contact.name == "Maria Garcia"
    [row] = await tool_executions.for_conversation(pool, ctx.conversation_id)
    assert (row["tool_name"], row["status"], row["output"]["message_id"]) == (
        "take_message", "success", stored.id)


async def test_another_callback_number_is_normalised_and_a_bad_one_is_refused(pool):
    ctx = await make_ctx(pool)
    out = await run_tool(ctx, "take_message", {"message": "Invoice is wrong",
                                               "phone": "(212) 555-0187"})
    assert out["callback_phone"] == "+12125550187"
    bad = await run_tool(ctx, "take_message", {"message": "Hi", "phone": "12"})
    assert bad == {"error": "phone must be a valid phone number, e.g. +12125550123"}
    empty = await run_tool(ctx, "take_message", {"message": "   "})
    assert "message is required" in empty["error"]
    wrong = await run_tool(ctx, "take_message", {"message": "Hi", "reason": "bored"})
    assert wrong == {
        "error": "reason must be one of: requested, not_understood, calendar_unreachable"}
    assert len(await messages.for_conversation(pool, ctx.client.id, ctx.conversation_id)) == 1
    rows = await tool_executions.for_conversation(pool, ctx.conversation_id)
    assert [r["status"] for r in rows] == ["success", "error", "error", "error"]


async def test_a_withheld_caller_id_still_keeps_the_message(pool):
    ctx = await make_ctx(pool)
    anonymous = ToolContext(pool=pool, client=ctx.client, conversation_id=ctx.conversation_id,
                            caller_phone="anonymous")
    out = await run_tool(anonymous, "take_message", {"message": "Call the office", "name": "Bo",
                                                     "reason": "not_understood"})
    assert out["taken"] is True and out["callback_phone"] is None


def test_the_tool_is_offered_by_default_with_its_schema():
    tool = registry.get("take_message")
    assert tool is not None and tool.required == ["message"]
    schema = tool.function_schema()
    assert set(schema["parameters"]["properties"]) == {"message", "name", "phone", "reason"}


async def test_new_clients_have_it_enabled(pool):
    ctx = await make_ctx(pool)
    assert "take_message" in ctx.client.enabled_tools


def test_the_calls_outcome_from_its_audit_rows():
    booked = {"tool_name": "book_appointment", "status": "success", "output": {"booked": True}}
    refused = {"tool_name": "book_appointment", "status": "success",
               "output": {"booked": False, "reason": "slot_taken"}}
    message = {"tool_name": "take_message", "status": "success", "output": {"taken": True}}
    failed = {"tool_name": "take_message", "status": "error", "output": {"error": "x"}}
    assert decided([]) == NO_ACTION
    assert decided([refused, failed]) == NO_ACTION
    assert decided([message, refused]) == MESSAGE_TAKEN
    assert decided([message, booked]) == BOOKED


async def test_the_conversations_api_shows_the_calls_messages(owner, pool):
    client = await owner.create_client()
    conv_id = await make_call(pool, client["id"], "CA77")
    await messages.insert(pool, client_id=client["id"], conversation_id=conv_id,
                          contact_id=None, name="Maria Garcia", callback_phone="+14155550199",
                          body="Please call back.", reason="requested")
    one = (await owner.get(f"/api/clients/{client['id']}/conversations/{conv_id}")).json()
    assert [(m["name"], m["callback_phone"], m["message"], m["reason"])
            for m in one["messages"]] == [
        ("Maria Garcia", "+14155550199", "Please call back.", "requested")]
