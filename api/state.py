"""What the REST API borrows from the application."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from frontdesk.settings import Settings


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    pool: asyncpg.Pool
    jwt_secret: str
