"""Google Calendar API v3: free/busy for availability, events insert/patch/delete.

Tokens: an OAuth connection refreshes with its refresh token; a service account signs a JWT
grant with google-auth. Both go to GOOGLE_TOKEN_URL and are stored sealed.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from google.auth import crypt, jwt

from tools.calendars.base import (
    Busy,
    CalendarEvent,
    CalendarUnavailable,
    EventDraft,
    ReauthorizationRequired,
)
from tools.calendars.remote import RemoteCalendar, json_of

SCOPE = "https://www.googleapis.com/auth/calendar"
# Google checks this audience whatever token_uri the key file names.
_JWT_AUDIENCE = "https://oauth2.googleapis.com/token"
_RATE_LIMITS = {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"}


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _when(value: dict[str, Any]) -> datetime:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    return datetime.fromisoformat(value["date"]).replace(tzinfo=UTC)  # an all-day event


def new_event_id() -> str:
    """A client-chosen id (base32hex), so a retried insert is recognised as a duplicate."""
    return "fd" + uuid.uuid4().hex


class GoogleCalendar(RemoteCalendar):
    provider = "google"

    @property
    def _calendar(self) -> str:
        return quote(self._a.client.calendar_id or "primary", safe="")

    @property
    def _base(self) -> str:
        return self._a.settings.google_calendar_api_url

    def _throttled(self, response: httpx.Response) -> bool:
        if response.status_code != 403:
            return False
        errors = json_of(response).get("error", {})
        reasons = {e.get("reason") for e in errors.get("errors", []) if isinstance(e, dict)} \
            if isinstance(errors, dict) else set()
        return bool(reasons & _RATE_LIMITS)

    async def _grant(self, secret: dict[str, Any]) -> dict[str, Any]:
        s = self._a.settings
        if self._a.credential.kind == "service_account":
            now = int(time.time())
            signer = crypt.RSASigner.from_service_account_info(secret)
            assertion = jwt.encode(signer, {"iss": secret["client_email"], "scope": SCOPE,
                                            "aud": _JWT_AUDIENCE, "iat": now, "exp": now + 3600})
            return await self._token_request(s.google_token_url, {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": assertion.decode()})
        if not secret.get("refresh_token"):
            raise ReauthorizationRequired(self.provider, "Google gave no refresh token")
        if not s.google_client_id or not s.google_client_secret:
            raise CalendarUnavailable(self.provider, "GOOGLE_CLIENT_ID / GOOGLE_CLIENT_SECRET"
                                                     " are not set")
        return await self._token_request(s.google_token_url, {
            "grant_type": "refresh_token", "refresh_token": secret["refresh_token"],
            "client_id": s.google_client_id, "client_secret": s.secret("google_client_secret")})

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        calendar_id = self._a.client.calendar_id or "primary"
        response = await self._api("POST", f"{self._base}/freeBusy", json={
            "timeMin": _rfc3339(start), "timeMax": _rfc3339(end), "timeZone": "UTC",
            "items": [{"id": calendar_id}]})
        if response.status_code != 200:
            raise self._unexpected(response, "free/busy")
        found = json_of(response).get("calendars", {}).get(calendar_id)
        # An unreadable calendar comes back with errors and no busy list: never "free".
        if not isinstance(found, dict) or found.get("errors") or "busy" not in found:
            reasons = [e.get("reason") for e in (found or {}).get("errors", [])]
            raise CalendarUnavailable(self.provider, f"calendar not readable {reasons}")
        return [Busy(_when({"dateTime": b["start"]}), _when({"dateTime": b["end"]}))
                for b in found["busy"]]

    def _body(self, draft: EventDraft) -> dict[str, Any]:
        return {"summary": draft.summary, "description": draft.description,
                "start": {"dateTime": _rfc3339(draft.starts_at), "timeZone": "UTC"},
                "end": {"dateTime": _rfc3339(draft.ends_at), "timeZone": "UTC"},
                "extendedProperties": {"private": {
                    "frontdesk_appointment_id": str(draft.appointment_id),
                    "phone": draft.phone}}}

    async def create_event(self, draft: EventDraft) -> str | None:
        event_id = new_event_id()
        response = await self._api(
            "POST", f"{self._base}/calendars/{self._calendar}/events",
            params={"sendUpdates": "none"}, json={"id": event_id} | self._body(draft))
        if response.status_code == 409:  # our id: an earlier try of this insert got through
            return event_id
        if response.status_code not in (200, 201):
            raise self._unexpected(response, "event insert")
        return str(json_of(response).get("id") or event_id)

    async def update_event(self, event_id: str, draft: EventDraft) -> str | None:
        response = await self._api(
            "PATCH", f"{self._base}/calendars/{self._calendar}/events/{quote(event_id)}",
            params={"sendUpdates": "none"}, json=self._body(draft))
        if response.status_code in (404, 410):  # deleted in Google meanwhile: put it back
            return await self.create_event(draft)
        if response.status_code != 200:
            raise self._unexpected(response, "event patch")
        return event_id

    async def delete_event(self, event_id: str) -> None:
        response = await self._api(
            "DELETE", f"{self._base}/calendars/{self._calendar}/events/{quote(event_id)}",
            params={"sendUpdates": "none"})
        if response.status_code not in (200, 204, 404, 410):
            raise self._unexpected(response, "event delete")

    async def events(self, start: datetime, end: datetime, limit: int) -> list[CalendarEvent]:
        response = await self._api(
            "GET", f"{self._base}/calendars/{self._calendar}/events",
            params={"timeMin": _rfc3339(start), "timeMax": _rfc3339(end),
                    "singleEvents": "true", "orderBy": "startTime", "maxResults": str(limit)})
        if response.status_code != 200:
            raise self._unexpected(response, "event list")
        listed = []
        for item in json_of(response).get("items", []):
            if not isinstance(item, dict) or item.get("status") == "cancelled":
                continue
            ours = (item.get("extendedProperties") or {}).get("private", {}) \
                .get("frontdesk_appointment_id")
            listed.append(CalendarEvent(
                id=str(item.get("id")), summary=str(item.get("summary") or ""),
                start=_when(item.get("start", {})), end=_when(item.get("end", {})),
                appointment_id=int(ours) if str(ours or "").isdigit() else None))
        return listed[:limit]
