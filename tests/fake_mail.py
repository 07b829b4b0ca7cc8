"""E-mail services on 127.0.0.1: an SMTP server (aiosmtpd) and Resend's and SendGrid's HTTP
APIs, each keeping what it was sent."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.serving import free_socket, serving


@dataclass
class Inbox:
    url: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    fail: int = 0            # refuse (HTTP 500 / SMTP 451) the next N


class _Handler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.inbox.fail > 0:
            self.inbox.fail -= 1
            return "451 try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.inbox.messages.append({
            "from": envelope.mail_from, "to": list(envelope.rcpt_tos),
            "subject": message["Subject"], "text": message.get_content().strip()})
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[Inbox]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(_Handler(inbox)), "127.0.0.1", 0)
    inbox.url = f"smtp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield inbox
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def email_api() -> AsyncIterator[Inbox]:
    """Resend (POST /emails) and SendGrid (POST /v3/mail/send) on one port."""
    inbox = Inbox()

    async def resend(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer re_test":
            return JSONResponse({"statusCode": 403, "name": "invalid_api_key",
                                 "message": "API key is invalid"}, 403)
        if inbox.fail > 0:
            inbox.fail -= 1
            return JSONResponse({"statusCode": 500, "name": "application_error",
                                 "message": "oops"}, 500)
        body = await request.json()
        inbox.messages.append({"api": "resend", "to": body["to"], "from": body["from"],
                               "subject": body["subject"], "text": body.get("text"),
                               "idempotency_key": request.headers.get("idempotency-key")})
        return JSONResponse({"id": f"re-{len(inbox.messages)}"})

    async def sendgrid(request: Request) -> Response:
        if request.headers.get("authorization") != "Bearer SG.test":
            return JSONResponse({"errors": [{"message": "unauthorized"}]}, 401)
        body = await request.json()
        inbox.messages.append({"api": "sendgrid",
                               "to": [t["email"] for t in body["personalizations"][0]["to"]],
                               "from": body["from"]["email"], "subject": body["subject"],
                               "text": body["content"][0]["value"]})
        return Response(status_code=202, headers={"X-Message-Id": "sg-1"})

    app = Starlette(routes=[Route("/emails", resend, methods=["POST"]),
                            Route("/v3/mail/send", sendgrid, methods=["POST"])])
    sock = free_socket()
    inbox.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(app, sock, lifespan="off"):
        yield inbox
