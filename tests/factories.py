"""Rows the tests need, made through the product's own db functions."""

from __future__ import annotations

import itertools
from typing import Any

import asyncpg

from db import clients, users
from db.clients import Client

_numbers = itertools.count(100)


async def make_client(pool: asyncpg.Pool, *, balance_seconds: int = 600,
                      owner_id: int | None = None, **values: Any) -> Client:
    n = next(_numbers)
    if owner_id is None:
        owner_id = (await users.insert(pool, email=f"owner{n}@example.com")).id
    values.setdefault("phone_number", f"+1555777{n:04d}")
    values.setdefault("initial_greeting", "Hello, thanks for calling.")
    return await clients.insert(pool, owner_id=owner_id, name=f"Client {n}",
                                balance_seconds=balance_seconds, **values)
