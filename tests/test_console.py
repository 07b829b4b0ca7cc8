"""The console without a browser: its pages and assets are local, its live-calls stream
needs a session and shows each owner only their own calls."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from console.routes import PAGES
from db import call_events
from tests.caller import FakeCall
from tests.test_api_support import register
from tests.waiting import ended

ASSET = re.compile(r'(?:src|href)="([^"]*)"')
IMPORT = re.compile(r'(?:from\s+|import\s*\(\s*)"(\./[^"]+)"')


class Stream:
    """An open /console/api/live response, read event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, within: float = 10.0) -> tuple[str, dict[str, Any]]:
        async def read() -> tuple[str, dict[str, Any]]:
            kind, data = "message", ""
            async for line in self._lines:
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data:
                    return kind, json.loads(data)
            raise AssertionError("the stream ended")

        return await asyncio.wait_for(read(), within)

    async def next_call_event(self, within: float = 10.0) -> tuple[str, dict[str, Any]]:
        while True:
            kind, data = await self.next(within)
            if kind not in ("hello", "resync"):
                return kind, data


@asynccontextmanager
async def stream(http: httpx.AsyncClient, headers: dict[str, str]) -> AsyncIterator[Stream]:
    async with http.stream("GET", "/console/api/live", headers=headers,
                           timeout=httpx.Timeout(10.0, read=None)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        live = Stream(response)
        assert (await live.next())[0] == "hello"
        yield live


async def test_the_stream_needs_a_session(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/console/api/live")).status_code == 401
        refused = await http.get("/console/api/live", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401


async def test_each_owner_sees_only_their_own_calls(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        mine, theirs = await register(http), await register(http)
        my_client, their_client = await mine.create_client(), await theirs.create_client()
        async with stream(http, mine.auth) as my_stream, \
                stream(http, theirs.auth) as their_stream:
            for client, sid in ((my_client, "CA-mine"), (their_client, "CA-theirs")):
                await call_events.publish(pool, kind="turn", client_id=client["id"],
                                          call_sid=sid, conversation_id=None, role="user",
                                          text="hello", interrupted=False)
            assert (await my_stream.next_call_event())[1]["call_sid"] == "CA-mine"
            # The other owner's stream skipped the first event: theirs is the next one.
            kind, event = await their_stream.next_call_event()
            assert (kind, event["call_sid"], event["text"]) == ("turn", "CA-theirs", "hello")


async def test_a_call_streams_its_start_turns_and_end(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        async with stream(http, owner.auth) as live:
            call = FakeCall(server.url, to=client["phone_number"])
            await call.dial()
            await call.connect()
            kind, started = await live.next_call_event()
            assert kind == "started" and started["call_sid"] == call.call_sid
            assert started["caller_phone"] == call.caller
            assert started["client_id"] == client["id"] and started["conversation_id"]
            await call.wait_for_agent()
            kind, greeting = await live.next_call_event()
            assert (kind, greeting["role"]) == ("turn", "assistant")
            assert greeting["text"] == client["initial_greeting"]
            assert greeting["interrupted"] is False
            await call.hang_up()
            await ended(pool, call.call_sid)
            kind, end = await live.next_call_event()
            assert (kind, end["end_reason"]) == ("ended", "caller_hangup")


def test_long_turns_are_cut_to_fit_a_notification():
    payload = call_events.payload(kind="turn", client_id=1, call_sid="CA1", conversation_id=1,
                                  role="user", text="é" * 10_000, interrupted=False)
    assert len(payload.encode()) < 8000
    assert json.loads(payload)["text"].endswith("…")


async def test_every_page_uses_only_local_assets_and_no_inline_script(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        pages = ["/console/login", "/console/calls/1", *(f"/console/{p}" for p in PAGES)]
        seen: set[str] = set()
        for path in pages:
            page = await http.get(path)
            assert page.status_code == 200, path
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "<script>" not in page.text and " style=" not in page.text
            for url in ASSET.findall(page.text):
                assert url.startswith("/") and not url.startswith("//"), (path, url)
                seen.add(url)
        assert (await http.get("/console", follow_redirects=False)).headers["location"] \
            == "/console/live"
        # The scripts' own imports (static and dynamic) are local files too.
        todo = [u for u in seen if u.endswith(".js")]
        while todo:
            url = todo.pop()
            asset = await http.get(url)
            assert asset.status_code == 200, url
            assert "javascript" in asset.headers["content-type"]
            assert "innerHTML" not in asset.text and "eval(" not in asset.text, url
            base = url.rsplit("/", 1)[0]
            for name in IMPORT.findall(asset.text):
                target = f"{base}/{name[2:]}"
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        for url in seen:
            assert (await http.get(url)).status_code == 200, url
        assert len([u for u in seen if u.endswith(".js")]) >= 12
        assert (await http.get("/console/nowhere")).status_code == 404


async def test_stripe_checkout_returns_to_the_billing_page_of_the_console(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        for query in ("checkout=success&session_id=cs_test_a1b2", "checkout=cancelled"):
            page = await http.get(f"/console/billing?{query}")
            assert page.status_code == 200, query
            assert page.headers["content-type"].startswith("text/html")
            assert 'data-page="billing"' in page.text
            assert "/console/static/app.js" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
        # app.js loads both new pages.
        app = (await http.get("/console/static/app.js")).text
        assert "./page-billing.js" in app and "./page-team.js" in app
        for name in ("page-team.js", "page-billing.js"):
            assert (await http.get(f"/console/static/{name}")).status_code == 200


async def test_a_newcomer_signs_in_as_the_demo_owner_with_the_printed_password(server, pool):
    from frontdesk.cli import _banner
    from frontdesk.demo import DEMO_EMAIL, demo_password, ensure_demo

    demo = await ensure_demo(pool)
    password = await demo_password(pool)
    assert password and await demo_password(pool) == password      # the same every start
    banner = _banner(server.settings, demo=demo, demo_password=password)
    assert "/console" in banner and f"{DEMO_EMAIL} / {password}" in banner
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed_in = await http.post("/api/auth/login", json={
            "email": DEMO_EMAIL, "password": password, "use_cookies": True})
        assert signed_in.status_code == 200, signed_in.text
        calls = await http.get("/api/calls", params={"client_id": demo.id})
        assert calls.status_code == 200
        changed = await http.put("/api/settings/password", json={
            "current_password": password, "new_password": "a password of my own"},
            headers={"X-CSRF-Token": http.cookies["fd_csrf"]})
        assert changed.status_code in (200, 204), changed.text
    assert await demo_password(pool) is None      # no longer printed once changed


async def test_the_stream_keeps_alive_resyncs_after_a_lost_listen_and_ends_at_shutdown(
        pg_url, pool):
    from tests.test_api_support import api_server

    async with api_server(pg_url) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        hub = srv.app.state.live_hub
        hub.heartbeat_seconds = 0.2
        async with http.stream("GET", "/console/api/live", headers=owner.auth,
                               timeout=httpx.Timeout(10.0, read=None)) as response:
            lines = response.aiter_lines()

            async def line_until(wanted: str) -> None:
                async def read() -> None:
                    async for line in lines:
                        if line == wanted:
                            return
                    raise AssertionError("the stream ended")

                await asyncio.wait_for(read(), 10)

            await line_until("retry: 2000")           # the browser retries after 2 s
            await line_until(": heartbeat")
            # The LISTEN connection drops (a database restart): the page is told to re-read.
            await pool.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE datname = current_database()"
                               " AND query LIKE 'LISTEN %frontdesk_call_events%'")
            await line_until("event: resync")
            await call_events.publish(pool, kind="started", client_id=client["id"],
                                      call_sid="CA-after", conversation_id=None)
            await line_until("event: started")
            srv.server.should_exit = True             # shutting down ends the stream
            await asyncio.wait_for(_drain(lines), 10)


async def _drain(lines: Any) -> None:
    async for _ in lines:
        pass


async def test_the_tools_the_agent_runs_reach_the_stream(pg_url, pool):
    pytest.importorskip("piper")
    from tests.live import live_server
    from tests.providers import ScriptedProviders
    from tests.test_call_behaviour import said

    async with live_server(pg_url, providers=ScriptedProviders(["Okay goodbye"]),
                           rate_limit_requests=10_000) as srv, \
            httpx.AsyncClient(base_url=srv.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        async with stream(http, owner.auth) as live:
            call = FakeCall(srv.url, to=client["phone_number"])
            await call.dial()
            await call.connect()
            await call.wait_for_agent()
            await call.play(said("Okay goodbye"))
            await call.wait_closed()
            await ended(pool, call.call_sid)
            seen = []
            while not seen or seen[-1][0] != "ended":
                kind, event = await live.next_call_event()
                seen.append((kind, event.get("role") or event.get("tool_name")))
    # The tool's event is sent as it finishes, the turns' as they are stored: in any order.
    assert seen[0] == ("started", None) and seen[-1] == ("ended", None)
    assert sorted(seen[1:-1]) == [("tool", "end_call"), ("turn", "assistant"),
                                  ("turn", "assistant"), ("turn", "user")]
