"""What the REST API borrows from the application."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from db.sealing import Sealer, server_sealer
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
            if not configured:
                log.warning("ENCRYPTION_KEY is not set: calendar credentials are encrypted"
                            " with a key kept in the database. Set it in production.")
            self._lazy["sealer"] = await server_sealer(self.pool, configured)
        return self._lazy["sealer"]

    def stripe(self) -> Any:
        """The process's Stripe client (``stripe.StripeClient``), or None when Stripe is
        not configured."""
        if "stripe" not in self._lazy:
            from tools.stripe_api import shared_client

            self._lazy["stripe"] = shared_client(self.settings)
        return self._lazy["stripe"]
