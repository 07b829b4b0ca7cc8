"""A webhook receiver on 127.0.0.1 that checks every delivery's signature the way the README
tells integrators to, and can be told to fail."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.serving import free_socket, serving


# --- the README's verification snippet, verbatim ---------------------------------------------
def verify_frontdesk_signature(secret: str, header: str, body: bytes,
                               tolerance: int = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False  # too old: a replay
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])
# ----------------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str = ""
    secret: str = ""
    fail_first: int = 0          # answer this many deliveries with 500 first
    always_fail: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)   # every POST
    # While set, the first delivery is held open until ``release`` is set.
    hold_first: bool = False
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.received if r["answered"] == 200]

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [r["json"] for r in self.accepted if r["json"]["type"] == type_]


@asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> PlainTextResponse:
        body = await request.body()
        header = request.headers.get("x-frontdesk-signature", "")
        verified = bool(state.secret) and verify_frontdesk_signature(state.secret, header, body)
        record = {"headers": dict(request.headers), "body": body, "verified": verified,
                  "json": json.loads(body)}
        state.received.append(record)
        state.arrived.set()
        if state.hold_first and len(state.received) == 1:
            await state.release.wait()
        failing = state.always_fail or len(state.received) <= state.fail_first
        record["answered"] = 400 if not verified else (500 if failing else 200)
        if not verified:
            return PlainTextResponse("bad signature", status_code=400)
        return PlainTextResponse("nope" if failing else "ok",
                                 status_code=500 if failing else 200)

    app = Starlette(routes=[Route("/hooks", hook, methods=["POST"])])
    sock = free_socket()
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hooks"
    async with serving(app, sock, lifespan="off"):
        yield state
