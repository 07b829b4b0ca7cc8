"""Request and response bodies of the appointments API (api.appointments)."""

from __future__ import annotations

from datetime import UTC, datetime
from datetime import date as Date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from api.validation import Input, Phone
from db.appointments import Appointment


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-26T19:30:00Z")
    return bounded(value.astimezone(UTC))


def bounded(value: Any) -> Any:
    # Far from any real booking, and clear of overflow when slots and look-aheads are added.
    if not 1900 <= value.year <= 9000:
        raise ValueError("must be between the years 1900 and 9000")
    return value


Instant = Annotated[datetime, AfterValidator(_aware),
                    Field(examples=["2026-11-26T19:30:00Z"],
                          description="UTC ISO-8601 (any offset is accepted)")]
Name = Annotated[str, Field(min_length=1, max_length=100, examples=["Ada Lovelace"])]
Notes = Annotated[str, Field(max_length=2000, examples=["New patient, cleaning"])]


class AppointmentCreate(Input):
    """A booking by staff: a start on the client's slot grid, free in its calendar."""
    starts_at: Instant
    name: Name
    phone: Phone = Field(examples=["+14155550123"])
    notes: Notes = ""
    contact_id: int | None = Field(None, ge=1, le=2**63 - 1, examples=[7],
                                   description="Defaults to the contact with this phone")


class CalendarAppointmentCreate(AppointmentCreate):
    client_id: int = Field(ge=1, le=2**63 - 1, examples=[1])


class AppointmentUpdate(Input):
    """Any of these; a new starts_at moves the booking (the old slot is kept unless the new
    one is booked)."""
    starts_at: Instant | None = None
    name: Name | None = None
    phone: Phone | None = Field(None, examples=["+14155550123"])
    notes: Notes | None = None


class CancelIn(Input):
    reason: str | None = Field(None, max_length=500, examples=["Patient called to cancel"])


class ChangeOut(BaseModel):
    action: str = Field(examples=["rescheduled"])
    actor: str = Field(examples=["agent"], description="agent (in a call) or staff")
    conversation_id: int | None = Field(examples=[42])
    user_id: int | None = Field(examples=[None])
    old_starts_at: datetime | None
    new_starts_at: datetime | None
    reason: str | None = Field(examples=[None])
    created_at: datetime


class AppointmentOut(BaseModel):
    id: int = Field(examples=[12])
    client_id: int = Field(examples=[1])
    conversation_id: int | None = Field(examples=[42], description="The call that booked it")
    contact_id: int | None = Field(examples=[7])
    name: str = Field(examples=["Ada Lovelace"])
    phone: str = Field(examples=["+14155550123"])
    starts_at: datetime
    ends_at: datetime
    status: Literal["booked", "cancelled"] = Field(examples=["booked"])
    notes: str = Field(examples=[""])
    booked_by: str = Field(examples=["agent"])
    calendar_provider: str = Field(examples=["google"],
                                   description="builtin, google or microsoft")
    external_event_id: str | None = Field(examples=["fd0a1b2c3d"],
                                          description="The event in that calendar")
    created_at: datetime
    updated_at: datetime | None
    cancelled_at: datetime | None
    cancelled_by: str | None = Field(examples=[None], description="caller or staff")
    cancel_reason: str | None = Field(examples=[None])

    @classmethod
    def of(cls, a: Appointment) -> AppointmentOut:
        return cls(**{name: getattr(a, name) for name in cls.model_fields})


class AppointmentDetail(AppointmentOut):
    changes: list[ChangeOut] = Field(description="Every change, oldest first")


class AppointmentList(BaseModel):
    items: list[AppointmentOut]
    total: int = Field(examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class SlotOut(BaseModel):
    date: Date = Field(examples=["2026-11-26"], description="The client's local date")
    time: str = Field(examples=["14:30"], description="The client's local time, HH:MM")
    starts_at: datetime


class AvailabilityOut(BaseModel):
    client_id: int = Field(examples=[1])
    date: Date = Field(examples=["2026-11-26"])
    weekday: str = Field(examples=["Thursday"])
    timezone: str = Field(examples=["America/New_York"])
    closed: bool = Field(examples=[False])
    slots: list[SlotOut]
    next_available: list[SlotOut] = Field(
        description="When the day has no free slot: the next open day's first ones")
