"""The API's middleware, outermost first: access log, correlation id, CORS, body size
limit, rate-limit headers."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import CorrelationIdMiddleware

DEFAULT_MAX_BODY = 1_048_576
EXPOSED = ["X-Correlation-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining",
           "X-RateLimit-Reset", "Retry-After"]


class BodyLimitMiddleware:
    """413 for a request body over the limit, declared or streamed, before it is buffered."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException survives FastAPI's body parsing unchanged.
                    raise HTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        cid = scope.get("state", {}).get("correlation_id", "-")
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes",
                           "error_code": "payload_too_large", "correlation_id": cid}).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class RateLimitHeadersMiddleware:
    """Copy the rate-limit counters that authentication left in the request state onto
    the response, whatever its status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_limits(message: Message) -> None:
            limits = scope.get("state", {}).get("rate_limit")
            if message["type"] == "http.response.start" and limits is not None:
                headers = message.setdefault("headers", [])
                if not any(k.lower() == b"x-ratelimit-limit" for k, _ in headers):
                    headers.extend((k.encode(), str(v).encode()) for k, v in limits.items())
            await send(message)

        await self.app(scope, receive, send_with_limits)


access_log = logging.getLogger("frontdesk.access")
# The REST API's paths; /voice, /ws, /healthz and /readyz are too busy or have their own lines.
ACCESS_LOGGED = ("/api/", "/console/api/")
# A path parameter so named is a credential (a recording link, an invitation): not logged.
SECRET_PARAMS = ("token", "secret", "password")


def logged_path(scope: Scope) -> str:
    """The request's path with any credential in it replaced by its parameter's name
    (/api/recordings/{token}); the query string is never part of it."""
    path = scope.get("path", "")
    for name, value in (scope.get("path_params") or {}).items():
        if any(s in name for s in SECRET_PARAMS) and str(value):
            path = path.replace(str(value), "{" + name + "}")
    return path


class AccessLogMiddleware:
    """One frontdesk.access line per API request once its response is sent: method, path
    (never the query string, which may hold a token), status, duration, correlation id,
    who called (user and API key ids, never a credential) and the client's address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path + "/").startswith(ACCESS_LOGGED):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500   # what the peer sees if nothing was sent

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self._line(scope, status, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _line(scope: Scope, status: int, duration_ms: float) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        user_id = getattr(principal, "user_id", None)
        key_id = getattr(principal, "api_key_id", None)
        client = scope.get("client")
        address = client[0] if client else "-"
        cid = state.get("correlation_id", "-")
        path = logged_path(scope)
        access_log.info(
            "%s %s %d %.1f ms cid=%s user=%s key=%s from %s", scope.get("method", "-"),
            path, status, duration_ms, cid,
            "-" if user_id is None else user_id, "-" if key_id is None else key_id, address,
            extra={"method": scope.get("method"), "path": path,
                   "status": status, "duration_ms": round(duration_ms, 1),
                   "correlation_id": cid, "user_id": user_id, "api_key_id": key_id,
                   "client": address})


def origins(settings: Any) -> list[str]:
    raw = getattr(settings, "cors_origins", "") or ""
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


def install(app: FastAPI, settings: Any = None) -> None:
    # add_middleware puts each new one outside the previous: add innermost first.
    app.add_middleware(RateLimitHeadersMiddleware)
    app.add_middleware(BodyLimitMiddleware,
                       max_bytes=getattr(settings, "max_body_bytes", DEFAULT_MAX_BODY))
    allowed = origins(settings)
    if allowed:
        app.add_middleware(CORSMiddleware, allow_origins=allowed, allow_credentials=False,
                           allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type",
                                          "X-Correlation-ID"],
                           expose_headers=EXPOSED, max_age=600)
    app.add_middleware(CorrelationIdMiddleware)
    if getattr(settings, "access_log", True):
        app.add_middleware(AccessLogMiddleware)
