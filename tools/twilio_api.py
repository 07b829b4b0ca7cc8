"""Twilio's REST API for texts and numbers (Messages, IncomingPhoneNumbers), under breakers.

Form-encoded requests with HTTP Basic auth, JSON answers, as api.twilio.com speaks them;
the base URL is a setting so tests and compatible servers can stand in. Credentials are an
organisation's own account, else the server's (see ``resolve``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from db import twilio_accounts
from db.pool import Executor
from tools.breaker import BreakerOpen, Breakers, shared

log = logging.getLogger("frontdesk.twilio")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
API = "/2010-04-01/Accounts"


class TwilioError(Exception):
    """Twilio refused or could not be reached. ``code`` is Twilio's error code if any."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code

    @property
    def permanent(self) -> bool:
        """A 4xx other than 429: sending the same request again cannot work."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


class Opener(Protocol):
    def open(self, token: bytes) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TwilioAccount:
    account_sid: str
    auth_token: str = field(repr=False)
    base_url: str = "https://api.twilio.com"
    own: bool = False   # the organisation's own account, not the server's

    def breaker_name(self) -> str:
        return f"twilio:{self.base_url}:{self.account_sid}"


async def resolve(db: Executor, organization_id: int, *, opener: Opener | None, base_url: str,
                  server_sid: str | None, server_token: str | None) -> TwilioAccount | None:
    """The organisation's own credentials, else the server's, else None."""
    row = await twilio_accounts.get(db, organization_id)
    if row is not None and opener is not None:
        secret = opener.open(row.ciphertext)
        return TwilioAccount(row.account_sid, secret["auth_token"], base_url, own=True)
    if server_sid and server_token:
        return TwilioAccount(server_sid, server_token, base_url)
    return None


def _failure(exc: BaseException) -> bool:
    """What counts against the breaker: no answer, or a 5xx/429 (a 4xx says Twilio is up)."""
    return not (isinstance(exc, TwilioError) and exc.permanent)


class TwilioClient:
    def __init__(self, http: httpx.AsyncClient, account: TwilioAccount,
                 breakers: Breakers | None = None) -> None:
        self._http = http
        self.account = account
        self._breaker = (breakers or shared).get(account.breaker_name())

    async def _request(self, method: str, path: str, *, form: dict[str, Any] | None = None,
                       params: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.account.base_url.rstrip('/')}{API}/{self.account.account_sid}{path}"

        async def go() -> dict[str, Any]:
            try:
                response = await self._http.request(
                    method, url, data=form, params=params, timeout=TIMEOUT,
                    auth=(self.account.account_sid, self.account.auth_token))
            except httpx.HTTPError as exc:
                raise TwilioError(f"Twilio unreachable: {type(exc).__name__}") from None
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code >= 400:
                raise TwilioError(str(body.get("message") or f"HTTP {response.status_code}"),
                                  status=response.status_code, code=body.get("code"))
            return body if isinstance(body, dict) else {}

        return await self._breaker.call(go, is_failure=_failure)

    async def send_sms(self, *, from_: str, to: str, body: str,
                       status_callback: str | None = None) -> dict[str, Any]:
        """POST Messages.json; the answer has ``sid`` and ``status``."""
        form = {"From": from_, "To": to, "Body": body}
        if status_callback:
            form["StatusCallback"] = status_callback
        return await self._request("POST", "/Messages.json", form=form)

    async def list_numbers(self, *, limit: int = 500) -> list[dict[str, Any]]:
        """Every IncomingPhoneNumber of the account, following next_page_uri."""
        numbers: list[dict[str, Any]] = []
        params: dict[str, Any] | None = {"PageSize": 50}
        path = "/IncomingPhoneNumbers.json"
        while path and len(numbers) < limit:
            page = await self._request("GET", path, params=params)
            numbers.extend(page.get("incoming_phone_numbers") or [])
            next_uri = page.get("next_page_uri")
            prefix = f"{API}/{self.account.account_sid}"
            path = next_uri[len(prefix):] if next_uri and next_uri.startswith(prefix) else ""
            params = None   # next_page_uri carries its own query
        return numbers[:limit]

    async def configure_number(self, number_sid: str, *, voice_url: str, status_callback: str,
                               sms_url: str) -> dict[str, Any]:
        return await self._request("POST", f"/IncomingPhoneNumbers/{number_sid}.json", form={
            "VoiceUrl": voice_url, "VoiceMethod": "POST", "StatusCallback": status_callback,
            "StatusCallbackMethod": "POST", "SmsUrl": sms_url, "SmsMethod": "POST"})


__all__ = ["BreakerOpen", "TwilioAccount", "TwilioClient", "TwilioError", "resolve"]
