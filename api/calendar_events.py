"""GET /api/v1/integrations/calendar/{provider}/events: a client's upcoming events in its
connected Google or Microsoft calendar; sample events in stub mode; 403 naming what to
configure otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.appointments import calendar_of_record
from api.calendar import Read
from api.clients import load as load_client
from api.errors import ApiError, responses
from db import calendar_credentials
from db.clients import Client

router = APIRouter(tags=["calendar"])

Provider = Literal["google", "microsoft"]
_NAMES = {"google": "Google Calendar", "microsoft": "Microsoft 365 / Outlook"}


class EventOut(BaseModel):
    id: str = Field(examples=["fd0a1b2c3d4e"])
    summary: str = Field(examples=["Ada Lovelace (+14155550123)"])
    start: datetime
    end: datetime
    appointment_id: int | None = Field(None, examples=[12],
                                       description="Set when frontdesk booked it")


class EventsOut(BaseModel):
    status: Literal["connected", "stub"] = Field(examples=["connected"])
    provider: Provider = Field(examples=["google"])
    client_id: int = Field(examples=[1])
    events: list[EventOut]
    next_steps: list[str] = Field(default_factory=list,
                                  description="In stub mode: how to connect the real calendar")


def _how_to_connect(provider: str, client_id: int) -> list[str]:
    if provider == "google":
        return ["Set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (Google Cloud console, OAuth"
                " client of type Web, Calendar API enabled).",
                f"POST /api/clients/{client_id}/calendar/oauth/initiate and open the"
                " authorization_url, or upload a service-account key to"
                f" /api/clients/{client_id}/calendar/service-account.",
                "Set the client's calendar_id (default primary)."]
    return ["Set MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET (Microsoft Entra app"
            " registration with the Calendars.ReadWrite and offline_access permissions).",
            f"POST /api/clients/{client_id}/calendar/microsoft/oauth/initiate and open the"
            " authorization_url.",
            "Optionally set the client's calendar_id to a calendar other than the default."]


def _samples(client: Client, now: datetime) -> list[EventOut]:
    start = (now + timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    length = timedelta(minutes=client.slot_minutes)
    return [EventOut(id=f"stub-{n}", summary=summary, start=start + timedelta(days=n),
                     end=start + timedelta(days=n) + length)
            for n, summary in enumerate(("Sample: cleaning, Ada Lovelace",
                                         "Sample: check-up, Grace Hopper",
                                         "Sample: consultation, Alan Turing"))]


@router.get("/v1/integrations/calendar/{provider}/events", response_model=EventsOut,
            summary="Upcoming events of a client's connected calendar; sample events in"
                    " stub mode (scope read:calendar)",
            responses=responses(401, 403, 404, 409, 422, 429, 503))
async def calendar_events(provider: Provider, request: Request, principal: Read,
                          client_id: Annotated[int, Query(ge=1, le=2**63 - 1)],
                          days: Annotated[int, Query(ge=1, le=60)] = 14,
                          limit: Annotated[int, Query(ge=1, le=100)] = 25) -> EventsOut:
    client = await load_client(request, principal, client_id)
    api = request.state.api
    cred = await calendar_credentials.get(api.pool, client.id)
    now = datetime.now(UTC)
    if cred is None or cred.provider != provider:
        if api.settings.integrations_stub_mode:
            return EventsOut(status="stub", provider=provider, client_id=client.id,
                             events=_samples(client, now)[:limit],
                             next_steps=_how_to_connect(provider, client.id))
        steps = " ".join(_how_to_connect(provider, client.id))
        raise ApiError(403, f"{_NAMES[provider]} is not connected for this client. {steps}"
                            " Or set INTEGRATIONS_STUB_MODE=true for sample events.",
                       "calendar_not_connected")
    async with calendar_of_record(request, client) as calendar:
        listed = await calendar.events(now, now + timedelta(days=days), limit)
    return EventsOut(status="connected", provider=provider, client_id=client.id,
                     events=[EventOut(id=e.id, summary=e.summary, start=e.start, end=e.end,
                                      appointment_id=e.appointment_id) for e in listed])
