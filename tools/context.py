"""The call context every tool receives instead of reaching for globals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import asyncpg

from db.clients import Client

if TYPE_CHECKING:
    from frontdesk.settings import Settings


class CallControl(Protocol):
    """What a tool may ask of the live call (implemented by voice.session.CallSession)."""

    async def end_call(self, reason: str) -> None:
        """Hang up once the agent's current reply has been spoken."""

    async def transfer_call(self) -> dict[str, Any]:
        """Ask the call to transfer the caller to the client's operator number once the
        agent's current reply has been spoken.

        Returns {"transferring": True, "to": "+1..."} when it will happen, or
        {"transferring": False, "reason": "..."} (no transfer number configured, or no
        Twilio credentials).
        """


@dataclass(frozen=True)
class ToolContext:
    pool: asyncpg.Pool
    client: Client
    conversation_id: int | None
    caller_phone: str
    contact_id: int | None = None
    call: CallControl | None = None
    # How to reach the client's calendar of record (Google, Microsoft 365); without it only
    # the built-in calendar can be used.
    settings: Settings | None = None
