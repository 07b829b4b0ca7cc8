"""What every job borrows from the process: settings, the pool, HTTP, keys, breakers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from pgqueuer.errors import RetryRequested

from tools.breaker import Breakers, shared
from tools.email import EmailConfig, Mailer
from tools.messaging import EMAIL_BREAKER_ALIAS, twilio_breaker_alias
from tools.twilio_api import Opener, TwilioAccount
from tools.twilio_api import resolve as resolve_twilio

MAX_RETRY_DELAY = 3600.0


@dataclass
class Deps:
    settings: Any          # frontdesk.settings.Settings
    pool: asyncpg.Pool
    http: httpx.AsyncClient
    sealer: Opener         # opens secrets the API sealed (webhook secrets, Twilio tokens)
    breakers: Breakers = field(default_factory=lambda: shared)

    def mailer(self) -> Mailer:
        return Mailer(EmailConfig.of(self.settings), self.http, self.breakers,
                      alias=EMAIL_BREAKER_ALIAS)

    async def twilio(self, organization_id: int) -> TwilioAccount | None:
        s = self.settings
        account = await resolve_twilio(self.pool, organization_id, opener=self.sealer,
                                       base_url=s.twilio_api_base_url,
                                       server_sid=s.twilio_account_sid,
                                       server_token=s.secret("twilio_auth_token"))
        if account is not None:   # so the agent's send_sms can tell when it is down
            self.breakers.alias(twilio_breaker_alias(organization_id), account.breaker_name())
        return account

    def retry_or_give_up(self, attempts: int, reason: str) -> None:
        """Raise RetryRequested with exponential backoff and jitter, unless the job has had
        its attempts (then return: the caller records the failure)."""
        if attempts + 1 >= self.settings.job_max_attempts:
            return
        base = self.settings.job_retry_base_seconds * 2 ** attempts
        delay = min(MAX_RETRY_DELAY, base * random.uniform(0.5, 1.5))
        raise RetryRequested(delay=timedelta(seconds=delay), reason=reason[:200])
