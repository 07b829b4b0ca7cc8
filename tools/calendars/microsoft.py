"""Microsoft 365 / Outlook through Microsoft Graph: calendar view for availability, events
create/update/delete. Tokens from the Microsoft identity platform (v2 endpoints); each
refresh rotates the refresh token, and the new one is stored sealed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from frontdesk.settings import Settings
from tools.calendars.base import (
    Busy,
    CalendarEvent,
    CalendarUnavailable,
    EventDraft,
    ReauthorizationRequired,
)
from tools.calendars.google import new_event_id
from tools.calendars.remote import RemoteCalendar, json_of

SCOPES = "offline_access openid email User.Read Calendars.ReadWrite"
_FREE = {"free", "workingElsewhere"}
_MAX_PAGES = 20
_UTC_TIMES = {"Prefer": 'outlook.timezone="UTC"'}


def token_url(settings: Settings) -> str:
    return f"{settings.microsoft_login_url}/{settings.microsoft_tenant}/oauth2/v2.0/token"


def authorize_url(settings: Settings) -> str:
    return f"{settings.microsoft_login_url}/{settings.microsoft_tenant}/oauth2/v2.0/authorize"


def _graph_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(UTC).replace(tzinfo=None).isoformat(), "timeZone": "UTC"}


def _when(value: dict[str, Any]) -> datetime:
    # With Prefer: outlook.timezone="UTC" times come back as UTC wall-clock, without offset.
    text = str(value.get("dateTime", "")).rstrip("Z")
    parsed = datetime.fromisoformat(text[:26] if "." in text else text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


class MicrosoftCalendar(RemoteCalendar):
    provider = "microsoft"

    @property
    def _calendar(self) -> str:
        calendar_id = self._a.client.calendar_id
        base = self._a.settings.microsoft_graph_url
        if not calendar_id or calendar_id == "primary":
            return f"{base}/me/calendar"
        return f"{base}/me/calendars/{quote(calendar_id, safe='')}"

    def _event(self, event_id: str) -> str:
        return f"{self._a.settings.microsoft_graph_url}/me/events/{quote(event_id, safe='')}"

    async def _grant(self, secret: dict[str, Any]) -> dict[str, Any]:
        s = self._a.settings
        if not secret.get("refresh_token"):
            raise ReauthorizationRequired(self.provider, "Microsoft gave no refresh token"
                                                         " (offline_access missing)")
        if not s.microsoft_client_id or not s.microsoft_client_secret:
            raise CalendarUnavailable(self.provider, "MICROSOFT_CLIENT_ID /"
                                                     " MICROSOFT_CLIENT_SECRET are not set")
        return await self._token_request(token_url(s), {
            "grant_type": "refresh_token", "refresh_token": secret["refresh_token"],
            "client_id": s.microsoft_client_id,
            "client_secret": s.secret("microsoft_client_secret") or "", "scope": SCOPES})

    async def _view(self, start: datetime, end: datetime, **params: str) -> list[dict[str, Any]]:
        url = f"{self._calendar}/calendarView"
        query: dict[str, str] | None = {
            "startDateTime": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "endDateTime": end.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "$select": "id,subject,start,end,showAs,isCancelled,transactionId", **params}
        items: list[dict[str, Any]] = []
        for _ in range(_MAX_PAGES):
            response = await self._api("GET", url, params=query, headers=_UTC_TIMES)
            if response.status_code != 200:
                raise self._unexpected(response, "calendar view")
            body = json_of(response)
            items += [i for i in body.get("value", []) if isinstance(i, dict)]
            url, query = body.get("@odata.nextLink"), None  # followed verbatim
            if not url:
                break
        else:
            raise CalendarUnavailable(self.provider, "calendar view has too many pages")
        return [i for i in items if not i.get("isCancelled")]

    async def busy(self, start: datetime, end: datetime) -> list[Busy]:
        return [Busy(_when(i.get("start", {})), _when(i.get("end", {})))
                for i in await self._view(start, end, **{"$top": "100"})
                if i.get("showAs") not in _FREE]

    def _body(self, draft: EventDraft) -> dict[str, Any]:
        return {"subject": draft.summary,
                "body": {"contentType": "text", "content": draft.description},
                "start": _graph_time(draft.starts_at), "end": _graph_time(draft.ends_at)}

    async def create_event(self, draft: EventDraft) -> str | None:
        response = await self._api("POST", f"{self._calendar}/events", json=self._body(draft)
                                   | {"transactionId": new_event_id()})
        if response.status_code not in (200, 201) or not json_of(response).get("id"):
            raise self._unexpected(response, "event create")
        return str(json_of(response)["id"])

    async def update_event(self, event_id: str, draft: EventDraft) -> str | None:
        response = await self._api("PATCH", self._event(event_id), json=self._body(draft))
        if response.status_code == 404:  # deleted in Outlook meanwhile: put it back
            return await self.create_event(draft)
        if response.status_code != 200:
            raise self._unexpected(response, "event update")
        return event_id

    async def delete_event(self, event_id: str) -> None:
        response = await self._api("DELETE", self._event(event_id))
        if response.status_code not in (200, 204, 404):
            raise self._unexpected(response, "event delete")

    async def events(self, start: datetime, end: datetime, limit: int) -> list[CalendarEvent]:
        items = await self._view(start, end, **{"$orderby": "start/dateTime",
                                                "$top": str(limit)})
        return [CalendarEvent(id=str(i.get("id")), summary=str(i.get("subject") or ""),
                              start=_when(i.get("start", {})), end=_when(i.get("end", {})))
                for i in items][:limit]
