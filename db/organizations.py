"""organizations: the businesses; memberships: who belongs to one, and with which role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor

ROLES = ("owner", "admin", "member")


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    plan: str
    trial_granted_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    organization_id: int
    user_id: int
    role: str


_COLUMNS = "id, name, plan, trial_granted_at, created_at"


async def get(db: Executor, organization_id: int) -> Organization | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM organizations WHERE id = $1",
                            organization_id)
    return Organization(**row) if row else None


async def membership(db: Executor, user_id: int) -> Membership | None:
    """The user's organisation and role (every user has one: see 0016_organizations.sql)."""
    row = await db.fetchrow("SELECT organization_id, user_id, role FROM memberships"
                            " WHERE user_id = $1", user_id)
    return Membership(**row) if row else None
