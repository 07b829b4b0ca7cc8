"""The transfer_call tool: hand the caller to a person at the business."""

from __future__ import annotations

from typing import Any

from tools.context import ToolContext

NOT_AVAILABLE = "transfers are not available on this line"


async def transfer_call(ctx: ToolContext) -> dict[str, Any]:
    # The live call decides: it knows the client's operator number and Twilio credentials,
    # and transfers only once the agent's current reply has been spoken.
    if ctx.call is None:
        return {"transferring": False, "reason": NOT_AVAILABLE}
    return await ctx.call.transfer_call()
