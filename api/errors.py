"""One error shape for every API response: {"detail", "error_code", "correlation_id"}."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tools.breaker import BreakerOpen

log = logging.getLogger("frontdesk.api")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited",
          500: "internal_error", 502: "upstream_error", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str | list[dict[str, str]],
                 error_code: str | None = None, headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(str(detail))
        self.status_code = status_code
        self.detail = detail
        self.error_code = error_code or _CODES.get(status_code, "error")
        self.headers = headers
        self.extra = extra  # fields a route documents beside the three (e.g. alternatives)


class FieldError(BaseModel):
    field: str = Field(examples=["phone_number"])
    message: str = Field(examples=["not a valid E.164 phone number"])


class SlotRef(BaseModel):
    date: str = Field(examples=["2026-11-26"], description="The client's local date")
    time: str = Field(examples=["15:00"], description="The client's local time, HH:MM")
    starts_at: str = Field(examples=["2026-11-26T20:00:00Z"])


class ErrorOut(BaseModel):
    """Every error the API returns."""
    detail: str | list[FieldError] = Field(examples=["client not found"])
    error_code: str = Field(examples=["not_found"])
    correlation_id: str = Field(examples=["4f1c2a9e0b7d4e5f8a6b3c2d1e0f9a8b"])
    alternatives: list[SlotRef] | None = Field(
        None, description="Only when a slot was refused (409 slot_taken, 422 starts_at):"
                          " free slots near the one asked for")


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for a route's error statuses, all with the one error shape."""
    return {code: {"model": ErrorOut, "description": _CODES.get(code, "error")}
            for code in codes}


def correlation_id(request: Request) -> str:
    return request.scope.get("state", {}).get("correlation_id") or "-"


def error_response(request: Request, status: int, detail: object, code: str | None = None,
                   headers: dict[str, str] | None = None,
                   extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(
        {**(extra or {}), "detail": detail, "error_code": code or _CODES.get(status, "error"),
         "correlation_id": correlation_id(request)}, status_code=status, headers=headers)


class CorrelationIdMiddleware:
    """Echo a well-formed X-Correlation-ID, or make one; put it on every HTTP response.

    Outermost of ours, so it also turns an unhandled exception into the one error shape
    (Starlette's own 500 page is outside every user middleware and would lose the id).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-correlation-id", b"").decode("latin-1")
        cid = sent if _VALID_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = cid
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", []).append((b"x-correlation-id", cid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error (correlation id %s)", cid)
            if started:
                raise
            body = json.dumps({"detail": "internal server error", "error_code": "internal_error",
                               "correlation_id": cid}).encode()
            await send_with_id({"type": "http.response.start", "status": 500, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "phone_number") -> "phone_number"; ("query", "limit") -> "limit"
    return ".".join(str(p) for p in loc[1:]) or str(loc[0])


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.detail, exc.error_code, exc.headers,
                              exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
        return error_response(request, 422, errors)

    @app.exception_handler(BreakerOpen)
    async def _breaker_open(request: Request, exc: BreakerOpen) -> JSONResponse:
        retry = str(max(1, round(exc.retry_after)))
        return error_response(request, 503, str(exc), "service_unavailable",
                              {"Retry-After": retry})

    # Input PostgreSQL cannot store (NUL characters, lone surrogates, out-of-range numbers)
    # that slipped past validation is the caller's mistake, not a server error.
    @app.exception_handler(asyncpg.DataError)
    @app.exception_handler(UnicodeEncodeError)
    async def _bad_data(request: Request, exc: Exception) -> JSONResponse:
        log.info("rejected input the database cannot store: %s", type(exc).__name__)
        return error_response(request, 400, "the request contains a value that cannot be stored",
                              "invalid_input")


def install(app: FastAPI, settings: Any = None) -> None:
    """Error handlers and the API's middleware (see api.middleware for the order)."""
    from api import middleware

    install_handlers(app)
    middleware.install(app, settings)
