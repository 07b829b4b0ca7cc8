"""What Google Calendar and Microsoft Graph share: the one door to their servers, bearer
tokens that are refreshed (once across every process) and stored sealed, and the mapping of
their failures onto CalendarUnavailable / ReauthorizationRequired."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import asyncpg
import httpx

from db import calendar_credentials
from db.calendar_credentials import CalendarCredential
from db.clients import Client
from db.sealing import Sealer
from frontdesk.settings import Settings
from tools import breaker as breakers
from tools.calendars.base import CalendarUnavailable, ReauthorizationRequired

log = logging.getLogger("frontdesk.calendars")

_EARLY_REFRESH_SECONDS = 120   # a token this close to expiry is refreshed before use
_GRANT_REFUSALS = {"invalid_grant", "invalid_client", "unauthorized_client", "invalid_scope",
                   "interaction_required", "consent_required"}


@dataclass
class Access:
    """A connected calendar as the backend needs it; ``secret`` is the opened ciphertext."""
    pool: asyncpg.Pool
    settings: Settings
    client: Client
    credential: CalendarCredential
    sealer: Sealer
    secret: dict[str, Any]
    http: httpx.AsyncClient


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(1.0, float(value))
    except ValueError:
        try:
            return max(1.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class RemoteCalendar:
    """Base of the backends that talk to a provider over HTTPS."""

    provider = "remote"

    def __init__(self, access: Access) -> None:
        self._a = access

    # -- the one door -----------------------------------------------------------------------

    async def _external(self, request: httpx.Request) -> httpx.Response:
        """Every request to the provider (API calls and token grants alike) goes through here
        and only here, behind a circuit breaker per provider and client. Raises
        CalendarUnavailable for what says the provider is failing (no answer, 5xx, 429, an
        open breaker); any other answer is returned."""
        breaker = breakers.shared.get(f"calendar:{self.provider}:{self._a.client.id}")
        try:
            return await breaker.call(lambda: self._send(request),
                                      is_failure=lambda e: isinstance(e, CalendarUnavailable))
        except breakers.BreakerOpen as exc:
            raise CalendarUnavailable(self.provider, "failing, not tried for now",
                                      retry_after=exc.retry_after) from None

    async def _send(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._a.http.send(request)
        except httpx.HTTPError as exc:
            raise CalendarUnavailable(self.provider, f"no answer ({type(exc).__name__})") \
                from None
        if response.status_code >= 500 or response.status_code == 429:
            raise CalendarUnavailable(self.provider, f"answered {response.status_code}",
                                      retry_after=_retry_after(response))
        return response

    async def _api(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """An authorised API call: refreshes the token when it is stale or refused (once)."""
        headers = dict(kwargs.pop("headers", None) or {})
        token = await self._token()
        for attempt in (1, 2):
            request = self._a.http.build_request(
                method, url, headers=headers | {"Authorization": f"Bearer {token}"}, **kwargs)
            response = await self._external(request)
            if response.status_code != 401 or attempt == 2:
                break
            token = await self._token(rejected=token)
        if response.status_code == 401:
            await self._refused("the provider refused a freshly refreshed token")
        if self._throttled(response):
            raise CalendarUnavailable(self.provider, "rate limited",
                                      retry_after=_retry_after(response))
        if response.status_code < 400:
            await calendar_credentials.mark_used(self._a.pool, self._a.client.id)
        return response

    def _throttled(self, response: httpx.Response) -> bool:
        return False

    def _unexpected(self, response: httpx.Response, what: str) -> CalendarUnavailable:
        # The answer is a refusal we cannot act on; the body may name the calendar, not the caller.
        log.warning("%s calendar of client %s refused %s: %s %s", self.provider,
                    self._a.client.id, what, response.status_code, response.text[:300])
        return CalendarUnavailable(self.provider, f"{what} refused ({response.status_code})")

    # -- tokens -----------------------------------------------------------------------------

    @staticmethod
    def _fresh(secret: dict[str, Any]) -> bool:
        expires_at = secret.get("expires_at")
        return bool(secret.get("access_token")) and isinstance(expires_at, int | float) \
            and expires_at > time.time() + _EARLY_REFRESH_SECONDS

    async def _token(self, *, rejected: str | None = None) -> str:
        secret = self._a.secret
        if rejected is None and self._fresh(secret):
            return secret["access_token"]
        refusal: ReauthorizationRequired | None = None
        async with self._a.pool.acquire() as conn, conn.transaction():
            cred = await calendar_credentials.lock(conn, self._a.client.id)
            if cred is None or cred.needs_reauthorization:
                raise ReauthorizationRequired(self.provider, "the calendar is not connected")
            secret = self._a.sealer.open(cred.ciphertext)
            usable = self._fresh(secret) and secret["access_token"] != rejected
            if not usable:  # nobody else refreshed it meanwhile: this process does
                try:
                    granted = await self._grant(secret)
                except ReauthorizationRequired as exc:
                    refusal = exc
                    await calendar_credentials.require_reauthorization(
                        conn, self._a.client.id, exc.detail)
                else:
                    secret = secret | granted
                    await calendar_credentials.store_secret(conn, self._a.client.id,
                                                            self._a.sealer.seal(secret))
        if refusal is not None:
            log.warning("%s calendar of client %s needs re-authorisation: %s", self.provider,
                        self._a.client.id, refusal.detail)
            raise refusal
        self._a.secret = secret
        return secret["access_token"]

    async def _grant(self, secret: dict[str, Any]) -> dict[str, Any]:
        """A new access token: {"access_token", "expires_at"[, "refresh_token"]}. Runs with
        the credential row locked: raise ReauthorizationRequired, never write the row."""
        raise NotImplementedError

    async def _token_request(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        response = await self._external(self._a.http.build_request("POST", url, data=form))
        body = json_of(response)
        if response.status_code == 200 and isinstance(body.get("access_token"), str):
            lifetime = body.get("expires_in")
            lifetime = int(lifetime) if isinstance(lifetime, int | str) and \
                str(lifetime).isdigit() else 3600
            granted = {"access_token": body["access_token"],
                       "expires_at": int(time.time()) + lifetime}
            if isinstance(body.get("refresh_token"), str):
                granted["refresh_token"] = body["refresh_token"]  # Microsoft rotates it
            return granted
        error = str(body.get("error") or response.status_code)
        if error in _GRANT_REFUSALS or response.status_code in (400, 401, 403):
            raise ReauthorizationRequired(self.provider, f"token refresh refused ({error})")
        raise CalendarUnavailable(self.provider, f"token endpoint answered {error}")

    async def _refused(self, detail: str) -> None:
        await calendar_credentials.require_reauthorization(self._a.pool, self._a.client.id,
                                                           detail)
        raise ReauthorizationRequired(self.provider, detail)
