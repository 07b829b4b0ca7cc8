"""/api/analytics: what an owner wants to know about their calls, for all their clients or
one (``client_id``). Days are local days in the client's time zone (UTC across clients)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from api import sentiment
from api.auth import Principal, require
from api.clients import load as load_client
from api.conversations import _cell
from api.errors import ApiError, responses
from db import analytics
from db.analytics import CallRow

router = APIRouter(prefix="/analytics", tags=["analytics"])
# The /api/v1 names for the same data (mounted with include_in_schema=False).
v1_router = APIRouter(prefix="/analytics", tags=["analytics"])

Read = Annotated[Principal, Depends(require("read:analytics"))]
Days = Annotated[int, Query(ge=1, le=365, description="Today and the days before it")]
ClientId = Annotated[int | None, Query(ge=1, le=2**63 - 1,
                                       description="One client; all of yours if left out")]

SENTIMENT_MAX_CALLS = 500
EXPORT_MAX_ROWS = 10_000
EXPORT_MAX_DAYS = 366
_PAGE = 500


class Scope:
    """The owner, the client (checked to be theirs: another owner's is a 404) and the zone."""

    def __init__(self, organization_id: int, client_id: int | None, tz: str) -> None:
        self.organization_id, self.client_id, self.tz = organization_id, client_id, tz


async def _scope(request: Request, principal: Principal, client_id: int | None) -> Scope:
    if client_id is None:
        return Scope(principal.organization_id, None, "UTC")
    client = await load_client(request, principal, client_id)
    return Scope(principal.organization_id, client.id, client.timezone)


def _window(days: int, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    today = datetime.now(zone).date()
    since = datetime.combine(today - timedelta(days=days - 1), time(), zone)
    return since, datetime.combine(today + timedelta(days=1), time(), zone)


class HourCount(BaseModel):
    hour: int = Field(examples=[10], description="Hour of day, 0-23, local")
    calls: int = Field(examples=[7])


class StatsOut(BaseModel):
    client_id: int | None = Field(examples=[1])
    days: int = Field(examples=[30])
    since: datetime
    until: datetime
    calls: int = Field(examples=[42])
    ended_calls: int = Field(examples=[41])
    bookings: int = Field(examples=[15])
    booking_rate: float | None = Field(examples=[0.357],
                                       description="Share of calls that booked at least once")
    transfers: int = Field(examples=[3])
    messages: int = Field(examples=[6], description="Messages taken for the business")
    avg_duration_seconds: float | None = Field(examples=[84.2])
    minutes_used: float = Field(examples=[61.5], description="Billed talk time")
    busiest_hours: list[HourCount] = Field(description="Busiest first, at most 5")


async def _stats(request: Request, scope: Scope, days: int) -> StatsOut:
    pool = request.state.api.pool
    since, until = _window(days, scope.tz)
    s = await analytics.stats(pool, scope.organization_id, scope.client_id, since, until)
    hours = await analytics.busiest_hours(pool, scope.organization_id, scope.client_id, since,
                                          until, scope.tz)
    return StatsOut(
        client_id=scope.client_id, days=days, since=since, until=until, calls=s.calls,
        ended_calls=s.ended_calls, bookings=s.bookings,
        booking_rate=round(s.calls_with_booking / s.calls, 4) if s.calls else None,
        transfers=s.transfers, messages=s.messages,
        avg_duration_seconds=None if s.avg_duration_seconds is None
        else round(s.avg_duration_seconds, 1),
        minutes_used=round(s.billed_seconds / 60, 2),
        busiest_hours=[HourCount(hour=h, calls=n) for h, n in hours[:5]])


@router.get("/stats", response_model=StatsOut,
            summary="Calls, bookings, transfers, messages, duration and minutes over the last"
                    " days (scope read:analytics)",
            responses=responses(401, 403, 404, 422, 429))
async def stats(request: Request, principal: Read, days: Days = 30,
                client_id: ClientId = None) -> StatsOut:
    return await _stats(request, await _scope(request, principal, client_id), days)


@v1_router.get("/summary", response_model=StatsOut, summary="The same as /api/analytics/stats")
async def summary(request: Request, principal: Read, days: Days = 30,
                  client_id: ClientId = None) -> StatsOut:
    return await stats(request, principal, days, client_id)


class DayOut(BaseModel):
    date: date
    calls: int = Field(examples=[5])
    bookings: int = Field(examples=[2])
    transfers: int = Field(examples=[0])
    messages: int = Field(examples=[1])
    minutes_used: float = Field(examples=[7.3])
    avg_duration_seconds: float | None = Field(examples=[88.0])


class DailyOut(BaseModel):
    client_id: int | None
    timezone: str = Field(examples=["America/New_York"])
    days: list[DayOut] = Field(description="Oldest first, every day present")


@router.get("/metrics/daily", response_model=DailyOut,
            summary="One row per day, zeros included, for charts (scope read:analytics)",
            responses=responses(401, 403, 404, 422, 429))
async def daily(request: Request, principal: Read, days: Days = 30,
                client_id: ClientId = None) -> DailyOut:
    scope = await _scope(request, principal, client_id)
    since, until = _window(days, scope.tz)
    rows = await analytics.daily(request.state.api.pool, scope.organization_id, scope.client_id,
                                 since, until, scope.tz)
    return DailyOut(client_id=scope.client_id, timezone=scope.tz, days=[DayOut(
        date=r.day, calls=r.calls, bookings=r.bookings, transfers=r.transfers,
        messages=r.messages, minutes_used=round(r.billed_seconds / 60, 2),
        avg_duration_seconds=None if r.avg_duration_seconds is None
        else round(r.avg_duration_seconds, 1)) for r in rows])


class CallSentiment(BaseModel):
    conversation_id: int = Field(examples=[42])
    client_id: int = Field(examples=[1])
    created_at: datetime
    compound: float | None = Field(examples=[0.4404], description="VADER compound, -1..1")
    label: str = Field(examples=["positive"],
                       json_schema_extra={"enum": ["positive", "neutral", "negative", "none"]})
    caller_turns: int = Field(examples=[4])


class SentimentOut(BaseModel):
    days: int
    calls: int = Field(description=f"Calls scored, newest first, at most {SENTIMENT_MAX_CALLS}")
    average_compound: float | None
    counts: dict[str, int] = Field(examples=[{"positive": 3, "neutral": 1, "negative": 1,
                                              "none": 0}])
    items: list[CallSentiment]


@router.get("/sentiment-analysis", response_model=SentimentOut,
            summary="How callers sounded, per call from their own turns (scope read:analytics)",
            responses=responses(401, 403, 404, 422, 429))
async def sentiment_analysis(request: Request, principal: Read, days: Days = 30,
                             client_id: ClientId = None) -> SentimentOut:
    # Computed on request, not stored at call end: VADER scores a call's caller turns in
    # well under a millisecond, so this needs no column, no backfill for older calls, and a
    # change of lexicon or cut-offs applies to every call at once.
    scope = await _scope(request, principal, client_id)
    since, until = _window(days, scope.tz)
    rows = await analytics.calls(request.state.api.pool, scope.organization_id, scope.client_id,
                                 since, until, limit=SENTIMENT_MAX_CALLS)
    items = []
    for r in rows:
        s = sentiment.of_transcript(r.transcript)
        items.append(CallSentiment(conversation_id=r.id, client_id=r.client_id,
                                   created_at=r.created_at, compound=s.compound,
                                   label=s.label, caller_turns=s.caller_turns))
    scored = [i.compound for i in items if i.compound is not None]
    counts = dict.fromkeys(("positive", "neutral", "negative", "none"), 0)
    for i in items:
        counts[i.label] += 1
    return SentimentOut(days=days, calls=len(items), counts=counts, items=items,
                        average_compound=round(sum(scored) / len(scored), 4) if scored
                        else None)


class CallOut(BaseModel):
    id: int = Field(examples=[42])
    client_id: int = Field(examples=[1])
    call_sid: str
    caller_phone: str = Field(examples=["+14155550123"])
    status: str = Field(examples=["ended"])
    created_at: datetime
    duration_seconds: float | None
    billed_seconds: int
    end_reason: str | None
    transferred: bool
    bookings: int
    messages: int
    sentiment: float | None = Field(description="VADER compound of the caller's turns")

    @classmethod
    def of(cls, r: CallRow) -> CallOut:
        fields = {n: getattr(r, n) for n in cls.model_fields if n != "sentiment"}
        return cls(**fields, sentiment=sentiment.of_transcript(r.transcript).compound)


class CallList(BaseModel):
    items: list[CallOut]
    limit: int
    offset: int


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Range:
    """since/until (UTC when no offset is given): until after since, at most a year apart."""

    def __init__(self, since: Annotated[datetime, Query(description="Calls created at or after")],
                 until: Annotated[datetime | None, Query(
                     description="Calls created before; now if left out")] = None) -> None:
        self.since = _utc(since)
        self.until = _utc(until) if until is not None else datetime.now(UTC)
        if self.until <= self.since:
            raise ApiError(422, [{"field": "until", "message": "must be after since"}])
        if self.until - self.since > timedelta(days=EXPORT_MAX_DAYS):
            raise ApiError(422, [{"field": "until",
                                  "message": f"at most {EXPORT_MAX_DAYS} days after since"}])


@v1_router.get("/calls", response_model=CallList, summary="Calls in a date range with outcomes")
async def calls(request: Request, principal: Read, period: Annotated[Range, Depends()],
                client_id: ClientId = None,
                limit: Annotated[int, Query(ge=1, le=100)] = 50,
                offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> CallList:
    scope = await _scope(request, principal, client_id)
    rows = await analytics.calls(request.state.api.pool, scope.organization_id, scope.client_id,
                                 period.since, period.until, limit=limit, offset=offset)
    return CallList(items=[CallOut.of(r) for r in rows], limit=limit, offset=offset)


_COLUMNS = list(CallOut.model_fields)


@router.get("/export", response_class=StreamingResponse,
            summary=f"Calls in a date range with their outcomes as CSV or JSON, newest first,"
                    f" at most {EXPORT_MAX_ROWS} (scope read:analytics)",
            responses={200: {"content": {"text/csv": {"schema": {"type": "string"}},
                                         "application/json": {"schema": {"type": "array"}}},
                             "description": "CSV with a header row, or a JSON array"},
                       **responses(401, 403, 404, 422, 429)})
async def export(request: Request, principal: Read, period: Annotated[Range, Depends()],
                 client_id: ClientId = None,
                 format: Annotated[Literal["csv", "json"], Query()] = "csv",  # noqa: A002
                 ) -> StreamingResponse:
    scope = await _scope(request, principal, client_id)
    pool = request.state.api.pool

    async def pages() -> AsyncIterator[list[CallOut]]:
        for offset in range(0, EXPORT_MAX_ROWS, _PAGE):
            page = await analytics.calls(pool, scope.organization_id, scope.client_id, period.since,
                                         period.until, limit=_PAGE, offset=offset)
            yield [CallOut.of(r) for r in page]
            if len(page) < _PAGE:
                break

    async def as_csv() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(_COLUMNS)
        async for page in pages():
            writer.writerows([_cell(getattr(c, n)) for n in _COLUMNS] for c in page)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    async def as_json() -> AsyncIterator[str]:
        first = True
        yield "["
        async for page in pages():
            for c in page:
                yield ("" if first else ",") + c.model_dump_json()
                first = False
        yield "]"

    stamp = datetime.now(UTC).strftime("%Y%m%d")
    name = f"calls-{scope.client_id or 'all'}-{stamp}.{format}"
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return StreamingResponse(as_csv() if format == "csv" else as_json(), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})
