"""Twilio's REST API, the part a call uses (update a Call), on 127.0.0.1."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.serving import free_socket, serving


@dataclass
class FakeTwilioRest:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)

    def redirects(self, call_sid: str) -> list[dict]:
        return [r for r in self.requests if r["call_sid"] == call_sid and "Twiml" in r["form"]]

    def hangups(self, call_sid: str) -> list[dict]:
        return [r for r in self.requests
                if r["call_sid"] == call_sid and r["form"].get("Status") == "completed"]


@asynccontextmanager
async def fake_twilio_rest() -> AsyncIterator[FakeTwilioRest]:
    state = FakeTwilioRest()

    async def update_call(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        auth = request.headers.get("authorization", "")
        user = base64.b64decode(auth.removeprefix("Basic ")).decode().split(":")[0] if auth \
            else ""
        call_sid = request.path_params["call_sid"]
        state.requests.append({"account": request.path_params["account"], "user": user,
                               "call_sid": call_sid, "form": form, "at": time.monotonic()})
        if call_sid in state.ended:
            return JSONResponse({"code": 20404, "message": "not found", "status": 404}, 404)
        if form.get("Status") == "completed":
            state.ended.add(call_sid)
        return JSONResponse({"sid": call_sid, "status": form.get("Status", "in-progress")})

    app = Starlette(routes=[Route("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json",
                                  update_call, methods=["POST"])])
    sock = free_socket()
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(app, sock, lifespan="off"):
        yield state
