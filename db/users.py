"""users: the owners of clients."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
