"""The end_call tool: the agent hangs up once its goodbye has been spoken."""

from __future__ import annotations

from typing import Any

from tools.context import ToolContext


async def end_call(ctx: ToolContext) -> dict[str, Any]:
    # Without a live call (tests, text-only runs) there is nothing to hang up; still "ok"
    # so the LLM does not retry.
    if ctx.call is not None:
        await ctx.call.end_call("agent_hangup")
    return {"ok": True}
