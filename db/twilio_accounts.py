"""twilio_accounts: an organisation's own Twilio credentials (auth token sealed by the app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class TwilioAccountRow:
    organization_id: int
    owner_id: int | None  # who set them
    account_sid: str
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime


_COLUMNS = ", ".join(TwilioAccountRow.__dataclass_fields__)


async def get(db: Executor, organization_id: int) -> TwilioAccountRow | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM twilio_accounts WHERE organization_id = $1", organization_id)
    return TwilioAccountRow(**row) if row else None


async def put(db: Executor, organization_id: int, account_sid: str, ciphertext: bytes, *,
              set_by: int | None = None) -> None:
    await db.execute(
        "INSERT INTO twilio_accounts (organization_id, owner_id, account_sid, ciphertext)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (organization_id) DO UPDATE SET"
        " owner_id = EXCLUDED.owner_id, account_sid = EXCLUDED.account_sid,"
        " ciphertext = EXCLUDED.ciphertext, updated_at = now()",
        organization_id, set_by, account_sid, ciphertext)


async def delete(db: Executor, organization_id: int) -> bool:
    result = await db.execute("DELETE FROM twilio_accounts WHERE organization_id = $1",
                              organization_id)
    return result.endswith(" 1")
