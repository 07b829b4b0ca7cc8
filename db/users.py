"""users: the owners of clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.pool import Executor


@dataclass(frozen=True)
class User:
    id: int
    email: str
    full_name: str
    is_active: bool
    created_at: datetime


_COLUMNS = "id, email, full_name, is_active, created_at"


async def insert(db: Executor, *, email: str, password_hash: str | None = None,
                 full_name: str = "") -> User:
    row = await db.fetchrow(
        f"INSERT INTO users (email, password_hash, full_name) VALUES ($1, $2, $3)"
        f" RETURNING {_COLUMNS}", email.lower(), password_hash, full_name)
    return User(**row)


async def get(db: Executor, user_id: int) -> User | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
    return User(**row) if row else None


async def get_by_email(db: Executor, email: str) -> User | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE email = $1", email.lower())
    return User(**row) if row else None


# --- authentication (the management API) -----------------------------------------------------

@dataclass(frozen=True)
class Credentials:
    """What sign-in needs beyond ``User``: kept apart so User rows never carry the hash."""
    id: int
    email: str
    password_hash: str | None
    is_active: bool
    is_admin: bool
    google_sub: str | None
    tokens_valid_after: datetime | None


_AUTH_COLUMNS = "id, email, password_hash, is_active, is_admin, google_sub, tokens_valid_after"


async def credentials(db: Executor, user_id: int) -> Credentials | None:
    row = await db.fetchrow(f"SELECT {_AUTH_COLUMNS} FROM users WHERE id = $1", user_id)
    return Credentials(**row) if row else None


async def credentials_by_email(db: Executor, email: str) -> Credentials | None:
    row = await db.fetchrow(f"SELECT {_AUTH_COLUMNS} FROM users WHERE email = $1",
                            email.lower())
    return Credentials(**row) if row else None


async def credentials_by_google_sub(db: Executor, google_sub: str) -> Credentials | None:
    row = await db.fetchrow(f"SELECT {_AUTH_COLUMNS} FROM users WHERE google_sub = $1",
                            google_sub)
    return Credentials(**row) if row else None


async def insert_google(db: Executor, *, email: str, google_sub: str,
                        full_name: str = "") -> User:
    row = await db.fetchrow(
        "INSERT INTO users (email, google_sub, full_name) VALUES ($1, $2, $3)"
        f" RETURNING {_COLUMNS}", email.lower(), google_sub, full_name)
    return User(**row)


async def link_google(db: Executor, user_id: int, google_sub: str) -> None:
    await db.execute("UPDATE users SET google_sub = $2, updated_at = now() WHERE id = $1",
                     user_id, google_sub)


async def set_password(db: Executor, user_id: int, password_hash: str) -> None:
    """New password; access tokens issued before now stop working."""
    await db.execute(
        "UPDATE users SET password_hash = $2, tokens_valid_after = now(), updated_at = now()"
        " WHERE id = $1", user_id, password_hash)


async def rehash_password(db: Executor, user_id: int, password_hash: str) -> None:
    """Same password, stronger hash parameters: sessions stay valid."""
    await db.execute("UPDATE users SET password_hash = $2 WHERE id = $1",
                     user_id, password_hash)


async def update_profile(db: Executor, user_id: int, *, full_name: str) -> User | None:
    row = await db.fetchrow(
        f"UPDATE users SET full_name = $2, updated_at = now() WHERE id = $1"
        f" RETURNING {_COLUMNS}", user_id, full_name)
    return User(**row) if row else None


async def set_email(db: Executor, user_id: int, email: str) -> None:
    await db.execute("UPDATE users SET email = $2, updated_at = now() WHERE id = $1",
                     user_id, email.lower())


async def set_admin(db: Executor, user_id: int, is_admin: bool) -> None:
    """Operators only (``frontdesk admin create-admin``): no API route sets this."""
    await db.execute("UPDATE users SET is_admin = $2, updated_at = now() WHERE id = $1",
                     user_id, is_admin)


async def preferences(db: Executor, user_id: int) -> dict[str, Any]:
    return dict(await db.fetchval("SELECT preferences FROM users WHERE id = $1", user_id) or {})


async def set_preferences(db: Executor, user_id: int, values: dict[str, Any]) -> None:
    """Replace the user's preferences (what the console remembers for them)."""
    await db.execute("UPDATE users SET preferences = $2, updated_at = now() WHERE id = $1",
                     user_id, values)  # the pool's codec writes it as JSON
