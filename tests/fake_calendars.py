"""Google Calendar v3 and Microsoft Graph on 127.0.0.1, with their OAuth token endpoints.

They speak each API's JSON (free/busy, events, calendar view, token grants, errors) over a
real socket; tests add busy blocks, read the events the product wrote, and make the server
fail (``fail_next``) or refuse refreshes (``refuse_refresh``).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.serving import free_socket, serving


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


@dataclass
class _Server:
    url: str = ""
    client_id: str = ""
    client_secret: str = ""
    tokens: dict[str, str] = field(default_factory=dict)          # access token -> account
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> account
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) of API calls
    grants: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0              # answer that many API calls with 503
    fail_on: str | None = None      # answer API calls whose "METHOD /path" contains it with 503
    refuse_refresh: bool = False
    token_lifetime: int = 3599

    def issue(self, account: str) -> dict[str, Any]:
        access, refresh = "at-" + secrets.token_urlsafe(12), "rt-" + secrets.token_urlsafe(12)
        self.tokens[access] = account
        self.refresh_tokens[refresh] = account
        return {"access_token": access, "refresh_token": refresh,
                "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def account(self, request: Request) -> str | None:
        return self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))

    def api_call(self, request: Request) -> Response | None:
        """The refusal this API call gets, if any (injected failure, bad token)."""
        self.requests.append((request.method, request.url.path))
        failing = self.fail_on is not None \
            and self.fail_on in f"{request.method} {request.url.path}"
        if self.fail_next > 0 or failing:
            self.fail_next = max(0, self.fail_next - 1)
            return JSONResponse({"error": {"code": 503, "message": "Backend Error"}}, 503)
        if self.account(request) is None:
            return JSONResponse({"error": {"code": 401, "message": "Invalid Credentials",
                                           "errors": [{"reason": "authError"}]}}, 401)
        return None


# --- Google ----------------------------------------------------------------------------------

@dataclass
class FakeGoogleCalendar(_Server):
    client_id: str = "test-client-id.apps.example"
    client_secret: str = "test-client-secret"
    service_accounts: dict[str, Any] = field(default_factory=dict)  # client_email -> public key
    calendars: set[str] = field(default_factory=lambda: {"primary"})
    email: str = "owner@dental.example"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)

    def settings(self) -> dict[str, Any]:
        return {"google_client_id": self.client_id, "google_client_secret": self.client_secret,
                "google_token_url": f"{self.url}/token",
                "google_calendar_api_url": f"{self.url}/calendar/v3",
                "google_auth_url": f"{self.url}/authorize",
                "google_userinfo_url": f"{self.url}/userinfo",
                "google_revoke_url": f"{self.url}/revoke"}


def _google_app(g: FakeGoogleCalendar) -> Starlette:
    async def authorize(request: Request) -> Response:
        q = request.query_params
        code = secrets.token_urlsafe(12)
        g.codes[code] = {"redirect_uri": q["redirect_uri"], "scope": q["scope"]}
        target = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{target}", 302)

    async def userinfo(request: Request) -> Response:
        if g.account(request) is None:
            return JSONResponse({"error": "invalid_token"}, 401)
        return JSONResponse({"sub": "1", "email": g.email, "email_verified": True})

    async def revoke(request: Request) -> Response:
        g.revoked.append(dict(parse_qsl((await request.body()).decode())).get("token", ""))
        return Response(status_code=200)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        g.grants.append(form)
        if form.get("grant_type") == "authorization_code":
            grant = g.codes.pop(form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse(g.issue(g.email) | {"scope": grant["scope"]})
        if form.get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            claims = jwt.decode(form.get("assertion", ""), options={"verify_signature": False})
            key = g.service_accounts.get(claims.get("iss"))
            try:
                jwt.decode(form["assertion"], key, algorithms=["RS256"],
                           audience="https://oauth2.googleapis.com/token")
            except (jwt.InvalidTokenError, TypeError, ValueError):
                return JSONResponse({"error": "invalid_grant",
                                     "error_description": "Invalid JWT Signature."}, 400)
            issued = g.issue(claims["iss"])
            return JSONResponse({k: v for k, v in issued.items() if k != "refresh_token"})
        account = g.refresh_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != g.client_id \
                or form.get("client_secret") != g.client_secret:
            return JSONResponse({"error": "invalid_client"}, 401)
        if account is None or g.refuse_refresh:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "Token has been expired or revoked."}, 400)
        access = "ya29." + secrets.token_urlsafe(12)
        g.tokens[access] = account
        return JSONResponse({"access_token": access, "expires_in": g.token_lifetime,
                             "scope": "https://www.googleapis.com/auth/calendar",
                             "token_type": "Bearer"})

    async def free_busy(request: Request) -> Response:
        if (refusal := g.api_call(request)) is not None:
            return refusal
        body = await request.json()
        start, end = _parse(body["timeMin"]), _parse(body["timeMax"])
        answer: dict[str, Any] = {}
        for item in body.get("items", []):
            if item["id"] not in g.calendars:
                answer[item["id"]] = {"errors": [{"domain": "global", "reason": "notFound"}]}
                continue
            blocks = g.busy + [(_parse(e["start"]["dateTime"]), _parse(e["end"]["dateTime"]))
                               for e in g.events.values() if e.get("calendar") == item["id"]]
            answer[item["id"]] = {"busy": [
                {"start": s.isoformat().replace("+00:00", "Z"),
                 "end": e.isoformat().replace("+00:00", "Z")}
                for s, e in sorted(blocks) if _overlaps(s, e, start, end)]}
        return JSONResponse({"kind": "calendar#freeBusy", "timeMin": body["timeMin"],
                             "timeMax": body["timeMax"], "calendars": answer})

    def not_found() -> Response:
        return JSONResponse({"error": {"code": 404, "message": "Not Found",
                                       "errors": [{"reason": "notFound"}]}}, 404)

    async def events(request: Request) -> Response:
        if (refusal := g.api_call(request)) is not None:
            return refusal
        calendar = request.path_params["calendar"]
        if calendar not in g.calendars:
            return not_found()
        if request.method == "GET":
            q = request.query_params
            start, end = _parse(q["timeMin"]), _parse(q["timeMax"])
            items = sorted((e for e in g.events.values() if e["calendar"] == calendar
                            and _overlaps(_parse(e["start"]["dateTime"]),
                                          _parse(e["end"]["dateTime"]), start, end)),
                           key=lambda e: e["start"]["dateTime"])
            return JSONResponse({"kind": "calendar#events",
                                 "items": items[:int(q.get("maxResults", 250))]})
        body = await request.json()
        event_id = body.get("id") or secrets.token_hex(8)
        if event_id in g.events:
            return JSONResponse({"error": {"code": 409, "message": "The requested identifier"
                                           " already exists.",
                                           "errors": [{"reason": "duplicate"}]}}, 409)
        g.events[event_id] = body | {"id": event_id, "calendar": calendar,
                                     "status": "confirmed"}
        return JSONResponse(g.events[event_id])

    async def event(request: Request) -> Response:
        if (refusal := g.api_call(request)) is not None:
            return refusal
        found = g.events.get(request.path_params["event"])
        if found is None or found["calendar"] != request.path_params["calendar"]:
            return not_found()
        if request.method == "DELETE":
            del g.events[found["id"]]
            return Response(status_code=204)
        found.update(await request.json())
        return JSONResponse(found)

    base = "/calendar/v3"
    return Starlette(routes=[
        Route("/authorize", authorize), Route("/userinfo", userinfo),
        Route("/revoke", revoke, methods=["POST"]),
        Route("/token", token, methods=["POST"]),
        Route(f"{base}/freeBusy", free_busy, methods=["POST"]),
        Route(f"{base}/calendars/{{calendar}}/events", events, methods=["GET", "POST"]),
        Route(f"{base}/calendars/{{calendar}}/events/{{event}}", event,
              methods=["PATCH", "DELETE"])])


@asynccontextmanager
async def fake_google_calendar() -> AsyncIterator[FakeGoogleCalendar]:
    g = FakeGoogleCalendar()
    sock = free_socket()
    g.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(_google_app(g), sock, lifespan="off"):
        yield g


# --- Microsoft -------------------------------------------------------------------------------

@dataclass
class FakeGraph(_Server):
    client_id: str = "00000000-aaaa-bbbb-cccc-000000000001"
    client_secret: str = "graph-secret"
    tenant: str = "common"
    mail: str = "office@contoso.example"
    page_size: int = 2               # small, so calendar views page with @odata.nextLink
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    retry_after: str | None = None   # with fail_next: answer 429 with this Retry-After
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def settings(self) -> dict[str, Any]:
        return {"microsoft_client_id": self.client_id,
                "microsoft_client_secret": self.client_secret,
                "microsoft_tenant": self.tenant, "microsoft_login_url": self.url,
                "microsoft_graph_url": f"{self.url}/v1.0"}


def _graph_app(m: FakeGraph) -> Starlette:
    def error(status: int, code: str) -> Response:
        return JSONResponse({"error": {"code": code, "message": code, "innerError": {
            "request-id": secrets.token_hex(8), "date": datetime.now(UTC).isoformat()}}}, status)

    def refusal(request: Request) -> Response | None:
        if m.fail_next > 0 and m.retry_after is not None:
            m.requests.append((request.method, request.url.path))
            m.fail_next -= 1
            return Response(status_code=429, headers={"Retry-After": m.retry_after})
        answer = m.api_call(request)
        if answer is not None and answer.status_code == 401:
            return error(401, "InvalidAuthenticationToken")
        return answer

    async def authorize(request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != m.client_id or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, 400)
        code = secrets.token_urlsafe(12)
        m.codes[code] = {"challenge": q["code_challenge"], "redirect_uri": q["redirect_uri"],
                         "scope": q["scope"]}
        target = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{target}", 302)

    async def token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        m.grants.append(form)
        if form.get("client_id") != m.client_id or form.get("client_secret") != m.client_secret:
            return JSONResponse({"error": "invalid_client", "error_codes": [7000215]}, 401)
        if form.get("grant_type") == "authorization_code":
            grant = m.codes.pop(form.get("code", ""), None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(
                form.get("code_verifier", "").encode()).digest()).rstrip(b"=").decode()
            if grant is None or grant["redirect_uri"] != form.get("redirect_uri") \
                    or grant["challenge"] != challenge:
                return JSONResponse({"error": "invalid_grant", "error_codes": [70008]}, 400)
            return JSONResponse(m.issue(m.mail) | {"scope": grant["scope"]})
        account = m.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotated
        if account is None or m.refuse_refresh:
            return JSONResponse({"error": "invalid_grant", "error_description":
                                 "AADSTS70008: The refresh token has expired.",
                                 "error_codes": [70008]}, 400)
        return JSONResponse(m.issue(account) | {"scope": form.get("scope", "")})

    async def me(request: Request) -> Response:
        if (answer := refusal(request)) is not None:
            return answer
        return JSONResponse({"id": "u1", "mail": m.mail, "userPrincipalName": m.mail})

    def shown(event: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in event.items() if k != "_start"}

    async def calendar_view(request: Request) -> Response:
        if (answer := refusal(request)) is not None:
            return answer
        q = request.query_params
        start, end = _parse(q["startDateTime"]), _parse(q["endDateTime"])
        blocks = [{"id": f"busy{n}", "subject": "Busy", "showAs": "busy", "isCancelled": False,
                   "start": {"dateTime": s.replace(tzinfo=None).isoformat() + ".0000000",
                             "timeZone": "UTC"},
                   "end": {"dateTime": e.replace(tzinfo=None).isoformat() + ".0000000",
                           "timeZone": "UTC"}} for n, (s, e) in enumerate(m.busy)]
        items = sorted((e for e in blocks + list(m.events.values())
                        if _overlaps(_parse(e["start"]["dateTime"][:19]),
                                     _parse(e["end"]["dateTime"][:19]), start, end)),
                       key=lambda e: e["start"]["dateTime"])
        skip = int(q.get("$skip", 0))
        page = items[skip:skip + m.page_size]
        body: dict[str, Any] = {"value": [shown(e) for e in page]}
        if skip + m.page_size < len(items):
            more = dict(q) | {"$skip": str(skip + m.page_size)}
            body["@odata.nextLink"] = f"{m.url}{request.url.path}?{urlencode(more)}"
        return JSONResponse(body)

    async def create(request: Request) -> Response:
        if (answer := refusal(request)) is not None:
            return answer
        body = await request.json()
        event_id = f"AAMk{next(m._ids):04d}"
        m.events[event_id] = body | {"id": event_id, "showAs": "busy", "isCancelled": False,
                                     "webLink": f"https://outlook.example/{event_id}"}
        return JSONResponse(m.events[event_id], 201)

    async def event(request: Request) -> Response:
        if (answer := refusal(request)) is not None:
            return answer
        found = m.events.get(request.path_params["event"])
        if found is None:
            return error(404, "ErrorItemNotFound")
        if request.method == "DELETE":
            del m.events[found["id"]]
            return Response(status_code=204)
        found.update(await request.json())
        return JSONResponse(found)

    auth = f"/{m.tenant}/oauth2/v2.0"
    return Starlette(routes=[
        Route(f"{auth}/authorize", authorize), Route(f"{auth}/token", token, methods=["POST"]),
        Route("/v1.0/me", me),
        Route("/v1.0/me/calendar/calendarView", calendar_view),
        Route("/v1.0/me/calendar/events", create, methods=["POST"]),
        Route("/v1.0/me/events/{event}", event, methods=["PATCH", "DELETE"])])


@asynccontextmanager
async def fake_graph() -> AsyncIterator[FakeGraph]:
    m = FakeGraph()
    sock = free_socket()
    m.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(_graph_app(m), sock, lifespan="off"):
        yield m
