"""/api/webhooks: outbound webhook endpoints, their delivery log, redelivery and a test."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.validation import CleanStr, Id, Input
from db import outbox, webhooks
from db.webhooks import Endpoint
from events import signing, targets
from events import webhooks as deliveries
from events.webhooks import EVENT_TYPES

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

Read = Annotated[Principal, Depends(require("read:webhooks"))]
Write = Annotated[Principal, Depends(require("write:webhooks"))]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]


class EndpointIn(Input):
    url: CleanStr = Field(max_length=targets.MAX_URL, examples=["https://example.com/hooks"])
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES),
                                    examples=[["call.ended", "appointment.booked"]])
    client_id: int | None = Field(None, ge=1, description="Only this client's events; "
                                  "omit for every client", examples=[1])
    description: CleanStr = Field("", max_length=200, examples=["CRM"])

    @field_validator("events")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))


class EndpointOut(BaseModel):
    id: int = Field(examples=[1])
    url: str = Field(examples=["https://example.com/hooks"])
    events: list[str] = Field(examples=[["call.ended"]])
    client_id: int | None = Field(examples=[None])
    description: str = Field(examples=["CRM"])
    is_active: bool = Field(examples=[True])
    failing_since: datetime | None
    disabled_at: datetime | None
    disabled_reason: str | None = Field(examples=[None])
    created_at: datetime

    @classmethod
    def of(cls, e: Endpoint) -> EndpointOut:
        return cls(**{name: getattr(e, name) for name in cls.model_fields})


class EndpointCreated(EndpointOut):
    secret: str = Field(description="Signs every delivery. Shown once: store it now.",
                        examples=["whsec_5e0ZMxH0lK..."])


class AttemptOut(BaseModel):
    attempt: int = Field(examples=[1])
    status_code: int | None = Field(examples=[500])
    error: str | None = Field(examples=["HTTP 500"])
    latency_ms: int = Field(examples=[84])
    response: str = Field(description="The first 1 KB of the answer", examples=["oops"])
    created_at: datetime


class DeliveryOut(BaseModel):
    id: int = Field(examples=[7])
    event_id: int = Field(examples=[31])
    event_type: str = Field(examples=["call.ended"])
    status: str = Field(description="pending, delivered or dead (the dead-letter list)",
                        examples=["delivered"])
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


class TestResult(BaseModel):
    delivered: bool = Field(examples=[True])
    status_code: int | None = Field(examples=[200])
    latency_ms: int = Field(examples=[42])
    error: str | None = Field(examples=[None])
    response: str = Field(examples=["ok"])


def _delivery(row: dict, attempts: list) -> DeliveryOut:
    values = {k: v for k, v in row.items() if k != "attempts"}   # the count: the list says it
    return DeliveryOut(**values, attempts=[AttemptOut(**a.__dict__) for a in attempts])


async def _endpoint(request: Request, principal: Principal, endpoint_id: int) -> Endpoint:
    endpoint = await webhooks.get_for_org(request.state.api.pool, principal.organization_id,
                                            endpoint_id)
    if endpoint is None:
        raise ApiError(404, "webhook endpoint not found")
    return endpoint


@router.get("", response_model=list[EndpointOut],
            summary="Your webhook endpoints (scope read:webhooks)",
            responses=responses(401, 403, 429))
async def list_endpoints(request: Request, principal: Read) -> list[EndpointOut]:
    items = await webhooks.list_for_org(request.state.api.pool, principal.organization_id)
    return [EndpointOut.of(e) for e in items]


@router.post("", status_code=201, response_model=EndpointCreated,
             summary="Register an endpoint; the signing secret is shown once"
                     " (scope write:webhooks)",
             responses=responses(401, 403, 404, 422, 429))
async def create_endpoint(body: EndpointIn, request: Request,
                          principal: Write) -> EndpointCreated:
    state = request.state.api
    if body.client_id is not None:
        await load_client(request, principal, body.client_id)
    try:
        await targets.resolve(body.url,
                              allow_private=state.settings.webhook_allow_private_targets)
    except targets.TargetRefused as exc:
        raise ApiError(422, [{"field": "url", "message": str(exc)}], "target_not_allowed") \
            from None
    secret = signing.new_secret()
    sealer = await state.sealer()
    endpoint = await webhooks.insert(state.pool, owner_id=principal.user_id,
                                     organization_id=principal.organization_id,
                                     client_id=body.client_id, url=body.url, events=body.events,
                                     description=body.description,
                                     secret_ciphertext=sealer.seal({"secret": secret}))
    return EndpointCreated(**EndpointOut.of(endpoint).model_dump(), secret=secret)


@router.get("/{endpoint_id}", response_model=EndpointOut,
            summary="One endpoint (scope read:webhooks)", responses=responses(401, 403, 404, 429))
async def get_endpoint(endpoint_id: Id, request: Request, principal: Read) -> EndpointOut:
    return EndpointOut.of(await _endpoint(request, principal, endpoint_id))


@router.delete("/{endpoint_id}", status_code=204, response_class=Response,
               summary="Remove an endpoint and its delivery log (scope write:webhooks)",
               responses=responses(401, 403, 404, 429))
async def delete_endpoint(endpoint_id: Id, request: Request, principal: Write) -> Response:
    if not await webhooks.delete_for_org(request.state.api.pool, principal.organization_id,
                                           endpoint_id):
        raise ApiError(404, "webhook endpoint not found")
    return Response(status_code=204)


@router.post("/{endpoint_id}/enable", response_model=EndpointOut,
             summary="Enable an endpoint that was disabled for failing (scope write:webhooks)",
             responses=responses(401, 403, 404, 429))
async def enable_endpoint(endpoint_id: Id, request: Request, principal: Write) -> EndpointOut:
    endpoint = await webhooks.enable_for_org(request.state.api.pool, principal.organization_id,
                                               endpoint_id)
    if endpoint is None:
        raise ApiError(404, "webhook endpoint not found")
    return EndpointOut.of(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList,
            summary="Deliveries with every attempt, newest first; status=dead is the"
                    " dead-letter list (scope read:webhooks)",
            responses=responses(401, 403, 404, 422, 429))
async def list_deliveries(endpoint_id: Id, request: Request, principal: Read,
                          status: Literal["pending", "delivered", "dead"] | None = None,
                          limit: Annotated[int, Query(ge=1, le=100)] = 50,
                          offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0
                          ) -> DeliveryList:
    pool = request.state.api.pool
    await _endpoint(request, principal, endpoint_id)
    rows = await webhooks.deliveries_for_endpoint(pool, endpoint_id, status=status,
                                                  limit=limit, offset=offset)
    attempts = await webhooks.attempts_for(pool, [r["id"] for r in rows])
    items = [_delivery(r, attempts.get(r["id"], [])) for r in rows]
    return DeliveryList(items=items, limit=limit, offset=offset)


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver", status_code=202,
             response_model=DeliveryOut,
             summary="Send a dead-lettered delivery again (scope write:webhooks)",
             responses=responses(401, 403, 404, 409, 429))
async def redeliver(endpoint_id: Id, delivery_id: Id, request: Request,
                    principal: Write) -> DeliveryOut:
    pool = request.state.api.pool
    endpoint = await _endpoint(request, principal, endpoint_id)
    delivery = await webhooks.delivery_for_endpoint(pool, endpoint.id, delivery_id)
    if delivery is None:
        raise ApiError(404, "delivery not found")
    if not endpoint.is_active:
        raise ApiError(409, "the endpoint is disabled: enable it first", "endpoint_disabled")
    async with pool.acquire() as conn, conn.transaction():
        if not await webhooks.requeue(conn, delivery_id):
            raise ApiError(409, "only a dead-lettered delivery can be redelivered",
                           "not_dead_lettered")
        # A new key: the finished job may still hold the old one until pgqueuer logs it.
        await outbox.enqueue(conn, deliveries.DELIVER, {"delivery_id": delivery_id},
                             key=f"delivery:{delivery_id}:again:{delivery.attempts}")
    (row,) = await webhooks.deliveries_for_endpoint(pool, endpoint.id, status=None, limit=1,
                                                    offset=0, delivery_id=delivery_id)
    attempts = await webhooks.attempts_for(pool, [delivery_id])
    return _delivery(row, attempts.get(delivery_id, []))


@router.post("/{endpoint_id}/test", response_model=TestResult,
             summary="Send a signed webhook.test event now and report the answer"
                     " (scope write:webhooks)",
             responses=responses(401, 403, 404, 429))
async def test_endpoint(endpoint_id: Id, request: Request, principal: Write) -> TestResult:
    endpoint = await _endpoint(request, principal, endpoint_id)
    sealer = await request.state.api.sealer()
    now = datetime.now(UTC)
    body = json.dumps({"id": f"evt_test_{int(now.timestamp())}", "type": "webhook.test",
                       "created_at": now.isoformat().replace("+00:00", "Z"),
                       "client_id": endpoint.client_id,
                       "data": {"endpoint_id": endpoint.id, "message": "It works."}},
                      separators=(",", ":")).encode()
    result = await deliveries.post(request.state.events, endpoint.url,
                                   sealer.open(endpoint.secret_ciphertext)["secret"], body,
                                   event_type="webhook.test", delivery_id="test")
    return TestResult(delivered=result.ok, status_code=result.status_code,
                      latency_ms=result.latency_ms, error=result.error,
                      response=result.response)

