"""One error shape for every API response: {"detail", "error_code", "correlation_id"}."""

from __future__ import annotations

import logging
import re
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("frontdesk.api")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          422: "validation_error", 429: "rate_limited", 500: "internal_error"}


class ApiError(Exception):
    def __init__(self, status_code: int, detail: str, error_code: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.error_code = error_code or _CODES.get(status_code, "error")
        self.headers = headers


def correlation_id(request: Request) -> str:
    return request.scope.get("state", {}).get("correlation_id") or "-"


def error_response(request: Request, status: int, detail: object, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "error_code": code or _CODES.get(status, "error"),
         "correlation_id": correlation_id(request)}, status_code=status, headers=headers)


class CorrelationIdMiddleware:
    """Echo a well-formed X-Correlation-ID, or make one; put it on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-correlation-id", b"").decode("latin-1")
        cid = sent if _VALID_ID.match(sent) else uuid.uuid4().hex
        scope.setdefault("state", {})["correlation_id"] = cid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-correlation-id", cid.encode()))
            await send(message)

        await self.app(scope, receive, send_with_id)


def install(app: FastAPI) -> None:
    app.add_middleware(CorrelationIdMiddleware)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status_code, exc.detail, exc.error_code, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(request, exc.status_code, exc.detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": ".".join(str(p) for p in e["loc"][1:]) or e["loc"][0],
                   "message": e["msg"]} for e in exc.errors()]
        return error_response(request, 422, errors)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (correlation id %s)", correlation_id(request))
        return error_response(request, 500, "internal server error")
