"""organizations: the businesses; memberships: who belongs to one, and with which role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from db.pool import Executor

ROLES = ("owner", "admin", "member")
PLANS = ("free", "pro", "enterprise")


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    plan: str
    trial_granted_at: datetime | None
    created_at: datetime
    requested_plan: str | None = None  # asked for at sign-up; plan stays free until billing
    phone_number: str | None = None  # the business's own number (E.164), not a client's line
    timezone: str | None = None  # IANA name; clients keep their own


@dataclass(frozen=True)
class Membership:
    organization_id: int
    user_id: int
    role: str


_COLUMNS = ("id, name, plan, trial_granted_at, created_at, requested_plan, phone_number,"
            " timezone")
PROFILE_FIELDS = ("name", "phone_number", "timezone")


async def get(db: Executor, organization_id: int) -> Organization | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM organizations WHERE id = $1",
                            organization_id)
    return Organization(**row) if row else None


async def membership(db: Executor, user_id: int) -> Membership | None:
    """The user's organisation and role (every user has one: see 0016_organizations.sql)."""
    row = await db.fetchrow("SELECT organization_id, user_id, role FROM memberships"
                            " WHERE user_id = $1", user_id)
    return Membership(**row) if row else None


async def of_user(db: Executor, user_id: int) -> tuple[Organization, str] | None:
    """The user's organisation and their role in it."""
    cols = ", ".join(f"o.{c.strip()}" for c in _COLUMNS.split(","))
    row = await db.fetchrow(f"SELECT {cols}, m.role FROM organizations o"
                            " JOIN memberships m ON m.organization_id = o.id"
                            " WHERE m.user_id = $1", user_id)
    if row is None:
        return None
    values = dict(row)
    role = values.pop("role")
    return Organization(**values), role


async def set_signup(db: Executor, organization_id: int, *, name: str | None,
                     requested_plan: str | None) -> None:
    """What the sign-up form said about the business: its name, the plan it wants."""
    if requested_plan is not None and requested_plan not in PLANS:
        raise ValueError(f"unknown plan {requested_plan!r}")
    await db.execute(
        "UPDATE organizations SET name = coalesce($2, name),"
        " requested_plan = coalesce($3, requested_plan), updated_at = now() WHERE id = $1",
        organization_id, name, requested_plan)


async def update_profile(db: Executor, organization_id: int, changes: dict[str, str | None]
                         ) -> None:
    """Change the business's name, phone number or time zone (only the keys given)."""
    unknown = set(changes) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"not profile fields: {sorted(unknown)}")
    if not changes:
        return
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(changes, start=2))
    await db.execute(f"UPDATE organizations SET {sets}, updated_at = now() WHERE id = $1",
                     organization_id, *changes.values())


# --- the team: members and their roles --------------------------------------------------------

@dataclass(frozen=True)
class Member:
    user_id: int
    email: str
    full_name: str
    role: str
    joined_at: datetime


async def members(db: Executor, organization_id: int) -> list[Member]:
    rows = await db.fetch(
        "SELECT u.id AS user_id, u.email, u.full_name, m.role, m.created_at AS joined_at"
        " FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1"
        " ORDER BY m.created_at, u.id", organization_id)
    return [Member(**r) for r in rows]


async def lock_roles(db: Executor, organization_id: int) -> dict[int, str]:
    """Every member's role, locked until the transaction ends (so two requests cannot both
    take away the last owner)."""
    rows = await db.fetch("SELECT user_id, role FROM memberships WHERE organization_id = $1"
                          " ORDER BY user_id FOR UPDATE", organization_id)
    return {r["user_id"]: r["role"] for r in rows}


async def set_role(db: Executor, organization_id: int, user_id: int, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    await db.execute("UPDATE memberships SET role = $3 WHERE organization_id = $1"
                     " AND user_id = $2", organization_id, user_id, role)


async def holds_anything(db: Executor, organization_id: int, *, besides_user: int) -> bool:
    """Whether the organisation has clients or members other than ``besides_user``."""
    return bool(await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM clients WHERE organization_id = $1)"
        " OR EXISTS (SELECT 1 FROM memberships WHERE organization_id = $1 AND user_id <> $2)",
        organization_id, besides_user))


async def move(db: Executor, user_id: int, organization_id: int, role: str) -> None:
    """Make the user a member of ``organization_id``; the organisation they leave is deleted
    when nobody is left in it (callers check that it holds nothing first)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    old = await db.fetchval("DELETE FROM memberships WHERE user_id = $1 RETURNING"
                            " organization_id", user_id)
    await db.execute("INSERT INTO memberships (organization_id, user_id, role)"
                     " VALUES ($1, $2, $3)", organization_id, user_id, role)
    if old is not None and old != organization_id:
        await db.execute("DELETE FROM organizations o WHERE id = $1 AND NOT EXISTS"
                         " (SELECT 1 FROM memberships m WHERE m.organization_id = o.id)", old)


async def leave(db: Executor, user_id: int) -> int:
    """The user leaves their organisation for a new, empty one of their own (so they can still
    sign in and start again); returns its id."""
    await db.execute("DELETE FROM memberships WHERE user_id = $1", user_id)
    org = await db.fetchval(
        "INSERT INTO organizations (name) SELECT CASE WHEN full_name <> '' THEN full_name"
        " ELSE email END FROM users WHERE id = $1 RETURNING id", user_id)
    await db.execute("INSERT INTO memberships (organization_id, user_id, role)"
                     " VALUES ($1, $2, 'owner')", org, user_id)
    return org
