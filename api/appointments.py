"""Appointments and free slots: per client, across the owner's clients, and at the calendar
paths other receptionist APIs use (/api/calendar/...). Staff bookings follow the agent's
slot rules and reach the same calendar of record through tools.calendars."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from datetime import date as Date
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator

from api.appointment_schemas import (
    AppointmentCreate,
    AppointmentDetail,
    AppointmentList,
    AppointmentOut,
    AppointmentUpdate,
    AvailabilityOut,
    CalendarAppointmentCreate,
    CancelIn,
    ChangeOut,
    Instant,
    SlotOut,
    bounded,
)
from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.validation import CleanStr, Id, Phone
from db import appointments, contacts
from db.appointments import Actor, Appointment, AppointmentFilter
from db.clients import Client
from tools.calendars import CalendarBackend, CalendarUnavailable, bookings, open_calendar
from tools.calendars.slots import availability

router = APIRouter(tags=["appointments"])

Read = Annotated[Principal, Depends(require("read:appointments"))]
Write = Annotated[Principal, Depends(require("write:appointments"))]
RETRY_AFTER_SECONDS = 30


# --- shared ---------------------------------------------------------------------------------

def _slot(client: Client, instant: datetime) -> SlotOut:
    local = instant.astimezone(ZoneInfo(client.timezone))
    return SlotOut(date=local.date(), time=local.strftime("%H:%M"), starts_at=instant)


def _actor(principal: Principal) -> Actor:
    return Actor("staff", user_id=principal.user_id, api_key_id=principal.api_key_id)


@asynccontextmanager
async def calendar_of_record(request: Request, client: Client) -> AsyncIterator[CalendarBackend]:
    """The client's calendar of record; one it cannot reach is a 503, never a guess."""
    api = request.state.api
    try:
        async with open_calendar(api.pool, api.settings, client) as calendar:
            yield calendar
    except CalendarUnavailable as exc:
        if exc.reason == "calendar_needs_reauthorization":  # a state to fix, not an outage
            raise ApiError(409, f"the {exc.provider} calendar must be connected again"
                                f" ({exc.detail})", exc.reason) from None
        retry = round(exc.retry_after or RETRY_AFTER_SECONDS)
        raise ApiError(503, f"the {exc.provider} calendar cannot be reached right now",
                       "calendar_unavailable", headers={"Retry-After": str(retry)}) from None


_RULES = {"in_past": "is in the past", "closed": "is on a day the business is closed",
          "outside_hours": "is not a slot start within opening hours",
          "same_slot": "is the appointment's current start"}


def _refusal(client: Client, r: bookings.Refused) -> ApiError:
    extra = {"alternatives": [_slot(client, s).model_dump(mode="json") for s in r.alternatives]}
    if r.reason == "slot_taken":
        return ApiError(409, "this slot is already booked", "slot_taken", extra=extra)
    if r.reason in _RULES:
        return ApiError(422, [{"field": "starts_at", "message": _RULES[r.reason]}],
                        extra=extra if r.alternatives else None)
    if r.reason == "started":
        return ApiError(409, "the appointment has already started", "appointment_started")
    return ApiError(409, "the appointment is not booked (cancelled or changed meanwhile)",
                    "appointment_not_booked")


async def _contact(request: Request, client: Client, body: AppointmentCreate) -> int:
    pool = request.state.api.pool
    if body.contact_id is None:
        return await contacts.upsert_by_phone(pool, client_id=client.id,
                                              phone_number=body.phone)
    if await contacts.get_for_client(pool, client.id, body.contact_id) is None:
        raise ApiError(422, [{"field": "contact_id", "message": "no such contact"}])
    return body.contact_id


async def _create(request: Request, principal: Principal, client: Client,
                  body: AppointmentCreate) -> AppointmentOut:
    contact_id = await _contact(request, client, body)
    async with calendar_of_record(request, client) as calendar:
        try:
            booking = await bookings.book(
                request.state.api.pool, calendar, client, starts=body.starts_at,
                name=" ".join(body.name.split()), phone=body.phone, by=_actor(principal),
                now=datetime.now(UTC), contact_id=contact_id, notes=body.notes)
        except bookings.Refused as r:
            raise _refusal(client, r) from None
    return AppointmentOut.of(booking)


async def _update(request: Request, principal: Principal, client: Client, booking: Appointment,
                  body: AppointmentUpdate) -> AppointmentOut:
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise ApiError(422, [{"field": k, "message": "may not be null"} for k in nulls])
    starts = changes.pop("starts_at", None)
    if "name" in changes:
        changes["name"] = " ".join(changes["name"].split())
    if starts is None and not changes:
        return AppointmentOut.of(booking)
    async with calendar_of_record(request, client) as calendar:
        try:
            changed = await bookings.change(
                request.state.api.pool, calendar, client, booking, by=_actor(principal),
                now=datetime.now(UTC), starts=starts, details=changes)
        except bookings.Refused as r:
            raise _refusal(client, r) from None
    return AppointmentOut.of(changed)


async def _cancel(request: Request, principal: Principal, client: Client, booking: Appointment,
                  reason: str | None) -> AppointmentOut:
    if booking.status != "booked":
        raise _refusal(client, bookings.Refused("not_found"))
    async with calendar_of_record(request, client) as calendar:
        try:
            cancelled = await bookings.cancel(request.state.api.pool, calendar, client,
                                              booking, by=_actor(principal), reason=reason)
        except bookings.Refused as r:
            raise _refusal(client, r) from None
    return AppointmentOut.of(cancelled)


async def _availability(request: Request, client: Client, day: Date) -> AvailabilityOut:
    async with calendar_of_record(request, client) as calendar:
        found = await availability(request.state.api.pool, calendar, client, day,
                                   datetime.now(UTC))
    return AvailabilityOut(
        client_id=client.id, date=day, weekday=day.strftime("%A"), timezone=client.timezone,
        closed=found.closed, slots=[_slot(client, s) for s in found.free],
        next_available=[_slot(client, s) for s in found.next_available])


async def _detail(request: Request, booking: Appointment) -> AppointmentDetail:
    changes = await appointments.changes_of(request.state.api.pool, booking.id)
    fields = ChangeOut.model_fields
    return AppointmentDetail(**AppointmentOut.of(booking).model_dump(),
                             changes=[ChangeOut(**{n: getattr(c, n) for n in fields})
                                      for c in changes])


async def _owned(request: Request, principal: Principal, client_id: int,
                 appointment_id: int) -> tuple[Client, Appointment]:
    client = await load_client(request, principal, client_id)
    booking = await appointments.get(request.state.api.pool, client.id, appointment_id)
    if booking is None:
        raise ApiError(404, "appointment not found")
    return client, booking


async def _owned_anywhere(request: Request, principal: Principal,
                          appointment_id: int) -> tuple[Client, Appointment]:
    booking = await appointments.get_for_org(request.state.api.pool, principal.organization_id,
                                               appointment_id)
    if booking is None:
        raise ApiError(404, "appointment not found")
    return await _owned(request, principal, booking.client_id, appointment_id)


class Filters:
    """Query filters of every appointment list."""

    def __init__(
        self,
        since: Annotated[Instant | None, Query(description="Starting at or after")] = None,
        until: Annotated[Instant | None, Query(description="Starting before")] = None,
        status: Annotated[Literal["booked", "cancelled"] | None, Query()] = None,
        contact_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
        phone: Annotated[Phone | None, Query(examples=["+14155550123"])] = None,
    ) -> None:
        self.value = AppointmentFilter(since=since, until=until, status=status,
                                       contact_id=contact_id, phone=phone)


Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Day = Annotated[Date, AfterValidator(bounded),
                Query(description="The client's local date, YYYY-MM-DD", examples=["2026-11-26"])]
ListOk = {"response_model": AppointmentList, "responses": responses(401, 403, 404, 422, 429)}
OneOk = {"response_model": AppointmentDetail, "responses": responses(401, 403, 404, 429)}
WriteOk = {"response_model": AppointmentOut,
           "responses": responses(401, 403, 404, 409, 422, 429, 503)}
SlotsOk = {"response_model": AvailabilityOut,
           "responses": responses(401, 403, 404, 409, 422, 429, 503)}


def _page(items: list[Appointment], total: int, limit: int, offset: int) -> AppointmentList:
    return AppointmentList(items=[AppointmentOut.of(a) for a in items], total=total,
                           limit=limit, offset=offset)


# --- /api/clients/{client_id}/appointments ---------------------------------------------------

@router.get("/clients/{client_id}/appointments", **ListOk,
            summary="List a client's appointments, earliest first (scope read:appointments)")
async def list_client_appointments(client_id: Id, request: Request, principal: Read,
                                   filters: Annotated[Filters, Depends()], limit: Limit = 50,
                                   offset: Offset = 0) -> AppointmentList:
    await load_client(request, principal, client_id)
    items, total = await appointments.list_for_client(request.state.api.pool, client_id,
                                                      filters.value, limit=limit, offset=offset)
    return _page(items, total, limit, offset)


@router.post("/clients/{client_id}/appointments", status_code=201, **WriteOk,
             summary="Book an appointment as staff; 409 with alternatives when the slot is"
                     " taken (scope write:appointments)")
async def create_client_appointment(client_id: Id, body: AppointmentCreate, request: Request,
                                    principal: Write) -> AppointmentOut:
    client = await load_client(request, principal, client_id)
    return await _create(request, principal, client, body)


@router.get("/clients/{client_id}/appointments/{appointment_id}", **OneOk,
            summary="One appointment with its history (scope read:appointments)")
async def get_client_appointment(client_id: Id, appointment_id: Id, request: Request,
                                 principal: Read) -> AppointmentDetail:
    _, booking = await _owned(request, principal, client_id, appointment_id)
    return await _detail(request, booking)


@router.patch("/clients/{client_id}/appointments/{appointment_id}", **WriteOk,
              summary="Change or reschedule an appointment (scope write:appointments)")
async def update_client_appointment(client_id: Id, appointment_id: Id,
                                    body: AppointmentUpdate, request: Request,
                                    principal: Write) -> AppointmentOut:
    client, booking = await _owned(request, principal, client_id, appointment_id)
    return await _update(request, principal, client, booking, body)


@router.post("/clients/{client_id}/appointments/{appointment_id}/cancel", **WriteOk,
             summary="Cancel an appointment, with a reason (scope write:appointments)")
async def cancel_client_appointment(client_id: Id, appointment_id: Id, body: CancelIn,
                                    request: Request, principal: Write) -> AppointmentOut:
    client, booking = await _owned(request, principal, client_id, appointment_id)
    return await _cancel(request, principal, client, booking, body.reason)


@router.get("/clients/{client_id}/availability", **SlotsOk,
            summary="A day's free slots, as the agent sees them (scope read:appointments)")
async def client_availability(client_id: Id, date: Day, request: Request,
                              principal: Read) -> AvailabilityOut:
    return await _availability(request, await load_client(request, principal, client_id), date)


# --- across the owner's clients, and the /api/calendar/... paths -----------------------------

ClientFilter = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="One client only")]


@router.get("/appointments", **ListOk,
            summary="Appointments across all your clients (scope read:appointments)")
@router.get("/calendar/appointments", **ListOk,
            summary="Appointments across all your clients (scope read:appointments)")
async def list_appointments(request: Request, principal: Read,
                            filters: Annotated[Filters, Depends()],
                            client_id: ClientFilter = None, limit: Limit = 50,
                            offset: Offset = 0) -> AppointmentList:
    f = dataclasses.replace(filters.value, client_id=client_id)
    items, total = await appointments.list_for_org(request.state.api.pool,
                                                   principal.organization_id, f, limit=limit,
                                                   offset=offset)
    return _page(items, total, limit, offset)


@router.post("/calendar/appointments", status_code=201, **WriteOk,
             summary="Book an appointment as staff for one of your clients"
                     " (scope write:appointments)")
async def create_appointment(body: CalendarAppointmentCreate, request: Request,
                             principal: Write) -> AppointmentOut:
    client = await load_client(request, principal, body.client_id)
    return await _create(request, principal, client, body)


@router.get("/calendar/appointments/{appointment_id}", **OneOk,
            summary="One appointment with its history (scope read:appointments)")
async def get_appointment(appointment_id: Id, request: Request,
                          principal: Read) -> AppointmentDetail:
    _, booking = await _owned_anywhere(request, principal, appointment_id)
    return await _detail(request, booking)


@router.patch("/calendar/appointments/{appointment_id}", **WriteOk,
              summary="Change or reschedule an appointment (scope write:appointments)")
async def update_appointment(appointment_id: Id, body: AppointmentUpdate, request: Request,
                             principal: Write) -> AppointmentOut:
    client, booking = await _owned_anywhere(request, principal, appointment_id)
    return await _update(request, principal, client, booking, body)


@router.delete("/calendar/appointments/{appointment_id}", **WriteOk,
               summary="Cancel an appointment (kept, marked cancelled; scope"
                       " write:appointments)")
async def delete_appointment(appointment_id: Id, request: Request, principal: Write,
                             reason: Annotated[CleanStr | None, Query(max_length=500)] = None,
                             ) -> AppointmentOut:
    client, booking = await _owned_anywhere(request, principal, appointment_id)
    return await _cancel(request, principal, client, booking, reason)


@router.get("/calendar/availability", **SlotsOk,
            summary="A client's free slots on one day (scope read:appointments)")
async def availability_for(client_id: Annotated[int, Query(ge=1, le=2**63 - 1)], date: Day,
                           request: Request, principal: Read) -> AvailabilityOut:
    return await _availability(request, await load_client(request, principal, client_id), date)

