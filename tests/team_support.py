"""Helpers for the team tests (no tests here): a server whose mail lands in a local SMTP
sink, and a colleague invited and joined through the real routes."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.live import LiveServer
from tests.test_api_support import PASSWORD, SmtpSink, User, api_server, smtp_sink


@asynccontextmanager
async def team_server(pg_url: str, **overrides: Any) -> AsyncIterator[
        tuple[LiveServer, SmtpSink]]:
    async with smtp_sink() as sink, api_server(pg_url, smtp_url=sink.url,
                                               **overrides) as server:
        yield server, sink


def last_token(sink: SmtpSink, address: str) -> str:
    """The token of the newest invitation e-mailed to ``address``."""
    for raw in reversed(sink.messages):
        mail = email.message_from_string(raw, policy=email.policy.default)
        if mail["To"] == address:
            return re.search(r"token=([A-Za-z0-9_-]+)", mail.get_content()).group(1)
    raise AssertionError(f"no invitation e-mailed to {address}")


def as_user(http: httpx.AsyncClient, session: httpx.Response, address: str) -> User:
    assert session.status_code == 200, session.text
    body = session.json()
    return User(http, body["user"]["id"], address, body["access_token"], body["refresh_token"])


async def join(owner: User, sink: SmtpSink, role: str, address: str | None = None) -> User:
    """Invite a new colleague with ``role``; they accept with a new account."""
    address = address or f"{role}.{owner.id}.{len(sink.messages)}@example.com"
    invited = await owner.post("/api/team/invite", json={"email": address, "role": role})
    assert invited.status_code == 201, invited.text
    assert invited.json()["email_sent"] is True
    token = last_token(sink, address)
    accepted = await owner.http.post(f"/api/team/invitations/{token}/accept",
                                     json={"password": PASSWORD, "full_name": "Sam"})
    return as_user(owner.http, accepted, address)
