"""What calls ask of Twilio's REST API: hang up, redirect (transfer), and place a call.

Both are idempotent from our side: a call Twilio no longer knows (HTTP 404 / error 20404)
has already ended, which is what we wanted.
"""

from __future__ import annotations

import logging

import httpx

from tools.breaker import BreakerOpen, Breakers, shared

log = logging.getLogger("frontdesk.twilio")

TIMEOUT = httpx.Timeout(5.0)


class _Unavailable(Exception):
    """A 5xx or 429 from Twilio: counts against the breaker."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response


class CallNotPlaced(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TwilioRest:
    def __init__(self, http: httpx.AsyncClient, *, base_url: str, account_sid: str | None,
                 auth_token: str | None, breakers: Breakers | None = None) -> None:
        self._http = http
        self._breakers = breakers or shared
        self._base = base_url.rstrip("/")
        self._account = account_sid
        self._token = auth_token

    @property
    def configured(self) -> bool:
        return bool(self._account and self._token)

    async def hang_up(self, call_sid: str) -> bool:
        """True when the call is (now or already) over."""
        return await self._update(call_sid, {"Status": "completed"})

    async def redirect(self, call_sid: str, twiml: str) -> bool:
        """Replace what the live call is doing with ``twiml``; False if it is over."""
        return await self._update(call_sid, {"Twiml": twiml})

    async def place_call(self, form: dict[str, str]) -> str:
        """Create a call (Calls.json); its CallSid. Raises CallNotPlaced with Twilio's reason."""
        if not self.configured:
            raise CallNotPlaced(503, "Twilio REST credentials are not configured")
        try:
            response = await self._post("Calls.json", form)
        except (httpx.HTTPError, BreakerOpen) as exc:
            raise CallNotPlaced(502, f"Twilio could not be reached ({type(exc).__name__})") \
                from None
        if response.status_code >= 500 or response.status_code == 429:
            raise CallNotPlaced(502, f"Twilio answered HTTP {response.status_code}")
        body = _json(response)
        if response.status_code == 201 and isinstance(body.get("sid"), str):
            return body["sid"]
        # Twilio's own reason (21211: invalid 'To', 21210: 'From' not verified, ...).
        reason = body.get("message") or f"HTTP {response.status_code}"
        raise CallNotPlaced(502 if response.status_code in (401, 403) else 422,
                            f"Twilio refused the call: {reason} (code {body.get('code', '?')})")

    async def _update(self, call_sid: str, form: dict[str, str]) -> bool:
        if not self.configured:
            return False
        try:
            response = await self._post(f"Calls/{call_sid}.json", form)
        except (httpx.HTTPError, BreakerOpen) as exc:
            log.warning("call %s: Twilio REST update failed: %s", call_sid, type(exc).__name__)
            return False
        if response.status_code in (200, 201):
            return True
        if response.status_code == 404:
            log.info("call %s: already over on Twilio's side", call_sid)
            return "Status" in form  # hanging up an ended call succeeded; redirecting did not
        log.warning("call %s: Twilio REST update answered %d", call_sid, response.status_code)
        return False

    async def _post(self, path: str, form: dict[str, str]) -> httpx.Response:
        """POST to the account's ``path`` through the account's breaker; a 5xx or 429 counts
        against it and is returned like any other answer."""
        url = f"{self._base}/2010-04-01/Accounts/{self._account}/{path}"

        async def post() -> httpx.Response:
            response = await self._http.post(url, data=form, timeout=TIMEOUT,
                                             auth=(self._account or "", self._token or ""))
            if response.status_code >= 500 or response.status_code == 429:
                raise _Unavailable(response)
            return response

        breaker = self._breakers.get(f"twilio:{self._base}:{self._account}")
        try:
            return await breaker.call(post)
        except _Unavailable as exc:
            return exc.response
