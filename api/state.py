"""What the REST API borrows from the application."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from api.crypto import Sealer
from db import secrets
from frontdesk.settings import Settings

log = logging.getLogger("frontdesk.api")


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    pool: asyncpg.Pool
    jwt_secret: str
    # Built on first use (they may need the database); per process, never per request.
    _lazy: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    async def sealer(self) -> Sealer:
        if "sealer" not in self._lazy:
            configured = self.settings.secret("encryption_key")
            if configured:
                self._lazy["sealer"] = Sealer.from_config(configured)
            else:
                log.warning("ENCRYPTION_KEY is not set: calendar credentials are encrypted"
                            " with a key kept in the database. Set it in production.")
                secret = await secrets.get_or_create(self.pool, "encryption")
                self._lazy["sealer"] = Sealer.from_server_secret(secret)
        return self._lazy["sealer"]
