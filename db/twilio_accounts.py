"""twilio_accounts: an organisation's own Twilio credentials (auth token sealed by the app)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor


@dataclass(frozen=True)
class TwilioAccountRow:
    owner_id: int
    account_sid: str
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime


_COLUMNS = ", ".join(TwilioAccountRow.__dataclass_fields__)


async def get(db: Executor, owner_id: int) -> TwilioAccountRow | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM twilio_accounts WHERE owner_id = $1",
                            owner_id)
    return TwilioAccountRow(**row) if row else None


async def put(db: Executor, owner_id: int, account_sid: str, ciphertext: bytes) -> None:
    await db.execute(
        "INSERT INTO twilio_accounts (owner_id, account_sid, ciphertext) VALUES ($1, $2, $3)"
        " ON CONFLICT (owner_id) DO UPDATE SET account_sid = EXCLUDED.account_sid,"
        " ciphertext = EXCLUDED.ciphertext, updated_at = now()", owner_id, account_sid,
        ciphertext)


async def delete(db: Executor, owner_id: int) -> bool:
    result = await db.execute("DELETE FROM twilio_accounts WHERE owner_id = $1", owner_id)
    return result.endswith(" 1")
