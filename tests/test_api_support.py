"""Helpers for the REST API tests (no tests here): a live app, a signed-in HTTP client, a
fake Google OAuth server and an SMTP sink, all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.live import LiveServer, live_server
from tests.providers import ScriptedProviders
from tests.serving import free_socket, serving

PASSWORD = "correct horse battery"
_n = itertools.count(1)


def phone() -> str:
    """A fresh valid E.164 number (415-555-xxxx numbers pass libphonenumber)."""
    return f"+1415555{next(_n) % 10000:04d}"


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"detail", "error_code", "correlation_id"}, body
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    if code is not None:
        assert body["error_code"] == code, body
    return body


def fields(response: httpx.Response) -> set[str]:
    """The fields a 422 names."""
    body = assert_error(response, 422, "validation_error")
    return {e["field"] for e in body["detail"]}


@asynccontextmanager
async def api_server(pg_url: str, **overrides: Any) -> AsyncIterator[LiveServer]:
    overrides.setdefault("rate_limit_requests", 10_000)
    overrides.setdefault("auth_rate_limit_requests", 10_000)
    overrides.setdefault("plan_api_requests_per_hour", "free=unlimited,pro=unlimited")
    async with live_server(pg_url, providers=ScriptedProviders(), **overrides) as server:
        yield server


@dataclass
class User:
    http: httpx.AsyncClient
    id: int
    email: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.get(path, headers=self.auth | kw.pop("headers", {}), **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.post(path, headers=self.auth | kw.pop("headers", {}), **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.put(path, headers=self.auth | kw.pop("headers", {}), **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.patch(path, headers=self.auth | kw.pop("headers", {}), **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.http.delete(path, headers=self.auth | kw.pop("headers", {}), **kw)

    async def create_client(self, **values: Any) -> dict:
        body = {"name": "Bright Smile Dental", "phone_number": phone()} | values
        response = await self.post("/api/clients", json=body)
        assert response.status_code == 201, response.text
        return response.json()

    async def create_key(self, *scopes: str, name: str = "test key") -> dict:
        response = await self.post("/api/api-keys", json={"name": name, "scopes": list(scopes)})
        assert response.status_code == 201, response.text
        return response.json()


async def register(http: httpx.AsyncClient, email: str | None = None) -> User:
    email = email or f"owner{next(_n)}@example.com"
    response = await http.post("/api/auth/register",
                               json={"email": email, "password": PASSWORD, "full_name": "Dana"})
    assert response.status_code == 201, response.text
    body = response.json()
    return User(http, body["user"]["id"], email, body["access_token"], body["refresh_token"])


def key_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


# --- a fake Google: /authorize, /token, /userinfo, /revoke --------------------------------

@dataclass
class FakeGoogle:
    url: str = ""
    client_id: str = "test-client-id.apps.example"
    client_secret: str = "test-client-secret"
    profile: dict[str, Any] = field(default_factory=lambda: {
        "sub": "google-sub-1", "email": "googler@example.com", "email_verified": True,
        "name": "Gail Googler"})
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        return {"google_client_id": self.client_id, "google_client_secret": self.client_secret,
                "google_auth_url": f"{self.url}/authorize",
                "google_token_url": f"{self.url}/token",
                "google_userinfo_url": f"{self.url}/userinfo",
                "google_revoke_url": f"{self.url}/revoke"}


@asynccontextmanager
async def fake_google() -> AsyncIterator[FakeGoogle]:
    g = FakeGoogle()

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != g.client_id or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, 400)
        if q.get("deny"):
            target = {"error": "access_denied", "state": q["state"]}
        else:
            code = secrets.token_urlsafe(12)
            g.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                             "scope": q["scope"]}
            target = {"code": code, "state": q["state"]}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode(target)}", 302)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        g.token_requests.append(form)
        grant = g.codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if (grant is None or form.get("client_secret") != g.client_secret
                or form.get("redirect_uri") != grant["redirect_uri"]
                or challenge != grant["challenge"]):
            return JSONResponse({"error": "invalid_grant"}, 400)
        access = "ya29." + secrets.token_urlsafe(16)
        g.tokens[access] = dict(g.profile)
        return JSONResponse({"access_token": access, "refresh_token": "1//" + access[5:],
                             "expires_in": 3599, "token_type": "Bearer",
                             "scope": grant["scope"]})

    async def userinfo(request: Request) -> Response:
        access = request.headers.get("authorization", "").removeprefix("Bearer ")
        if access not in g.tokens:
            return JSONResponse({"error": "invalid_token"}, 401)
        return JSONResponse(g.tokens[access])

    async def revoke(request: Request) -> Response:
        g.revoked.append(dict(parse_qsl((await request.body()).decode())).get("token", ""))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/authorize", authorize),
                            Route("/token", token, methods=["POST"]),
                            Route("/userinfo", userinfo),
                            Route("/revoke", revoke, methods=["POST"])])
    sock = free_socket()
    g.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(app, sock, lifespan="off"):
        yield g


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


# --- an SMTP sink ---------------------------------------------------------------------------

@dataclass
class SmtpSink:
    url: str = ""
    messages: list[str] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)


@asynccontextmanager
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    """Just enough SMTP for smtplib.send_message: EHLO, MAIL, RCPT, DATA, QUIT."""
    sink = SmtpSink()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ESMTP\r\n")
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-sink\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                await writer.drain()
                data = await reader.readuntil(b"\r\n.\r\n")
                sink.messages.append(data[:-5].decode())
                sink.received.set()
                writer.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sink.url = f"smtp://127.0.0.1:{port}"
    async with server:
        yield sink
