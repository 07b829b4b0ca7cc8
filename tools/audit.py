"""run_tool: every tool call goes through here and leaves exactly one tool_executions row.

The LLM always gets a readable dict back, never an exception: a crashed tool must not
crash the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from db import call_events, tool_executions
from tools import registry
from tools.calendar import ToolError
from tools.context import ToolContext
from tools.metrics import TOOL_CALLS

log = logging.getLogger("frontdesk.tools")

# How long a cancelled tool call may still run to finish what it started (a booking's
# transaction, a calendar write) before it is cancelled too.
FINISH_GRACE_SECS = 2.0

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}


def check_arguments(tool: registry.Tool, arguments: Any) -> dict[str, Any]:
    """The arguments as handler keywords, or ToolError saying what the LLM got wrong."""
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    # LLMs often send null for an optional argument they mean to omit.
    args = {k: v for k, v in arguments.items() if v is not None or k in tool.required}
    unknown = sorted(set(args) - set(tool.properties))
    if unknown:
        # Also keeps test-only keywords such as `now` out of the LLM's reach.
        raise ToolError(f"unknown argument(s): {', '.join(unknown)}")
    missing = [k for k in tool.required if args.get(k) is None]
    if missing:
        raise ToolError(f"missing argument(s): {', '.join(missing)}")
    for key, value in args.items():
        kind = tool.properties[key].get("type")
        types = _JSON_TYPES.get(kind, (object,))
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            article = "an" if str(kind)[:1] in "aeiou" else "a"
            raise ToolError(f"{key} must be {article} {kind}")
    return args


async def run_tool(ctx: ToolContext, name: str, arguments: Any) -> dict[str, Any]:
    """Run one tool call, audit it, and return what the LLM should see."""
    started = time.perf_counter()
    tool = registry.get(name)
    status, error = "error", None
    try:
        if tool is None:
            raise ToolError(f"unknown tool: {name}")
        work = asyncio.ensure_future(tool.handler(ctx, **check_arguments(tool, arguments)))
        try:
            output = await asyncio.shield(work)
        except asyncio.CancelledError:
            # A barge-in or hang-up cancels the call's tool task, but a booking may be one
            # statement from committed: let it finish briefly so the audit (and the call's
            # outcome) says what happened in the database, then let cancellation proceed.
            await _finish_or_audit_cancelled(ctx, name, arguments, work, started)
            raise
        status = "success"
    except Exception as e:
        output, error = _failure(ctx, name, tool, e)
    await _audit(ctx, name, arguments, output, status, error, started)
    return output


def _failure(ctx: ToolContext, name: str, tool: registry.Tool | None, exc: BaseException
             ) -> tuple[dict[str, Any], str]:
    """What the LLM sees of a tool call that raised ``exc``, and the audit's error."""
    if isinstance(exc, ToolError):
        return {"error": str(exc)}, str(exc)
    # Type and message only: arguments and locals may hold callers' personal data.
    error = f"{type(exc).__name__}: {exc}"[:500]
    log.error("tool %s failed (client %s, conversation %s): %s",
              name, ctx.client.id, ctx.conversation_id, error)
    return {"error": tool.unavailable if tool else "that action is unavailable"}, error


async def _finish_or_audit_cancelled(ctx: ToolContext, name: str, arguments: Any,
                                     work: asyncio.Future, started: float) -> None:
    try:
        done, _ = await asyncio.wait({work}, timeout=FINISH_GRACE_SECS)
    except asyncio.CancelledError:     # cancelled again while waiting: stop waiting
        work.cancel()
        await _audit(ctx, name, arguments, None, "error", "cancelled", started)
        raise
    if not done:
        work.cancel()
        await asyncio.wait({work})
    if work.cancelled():
        await _audit(ctx, name, arguments, None, "error", "cancelled", started)
    elif (exc := work.exception()) is not None:   # it finished by failing: say how
        output, error = _failure(ctx, name, registry.get(name), exc)
        await _audit(ctx, name, arguments, output, "error", error, started)
    else:
        await _audit(ctx, name, arguments, work.result(), "success", None, started)


async def _audit(ctx: ToolContext, name: str, arguments: Any, output: Any, status: str,
                 error: str | None, started: float) -> None:
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    TOOL_CALLS.labels(name if registry.get(name) else "unknown", status).inc()
    try:
        await tool_executions.insert(
            ctx.pool, client_id=ctx.client.id, conversation_id=ctx.conversation_id,
            tool_name=name, input=arguments if isinstance(arguments, dict) else {},
            output=output, status=status, error_message=error, execution_time_ms=elapsed_ms)
    except Exception as e:
        # Losing an audit row is bad; losing the call over it would be worse.
        log.error("tool %s: audit row not written: %s", name, type(e).__name__)
    call_sid = getattr(ctx.call, "call_sid", None)
    if not isinstance(call_sid, str):
        return      # not on a live call: nobody watches it
    try:
        await call_events.publish(
            ctx.pool, kind="tool", client_id=ctx.client.id, call_sid=call_sid,
            conversation_id=ctx.conversation_id, tool_name=name, status=status,
            error=error, execution_time_ms=elapsed_ms)
    except Exception as e:
        log.warning("tool %s: live event not sent: %s", name, type(e).__name__)
