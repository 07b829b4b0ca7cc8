"""GET /metrics: Prometheus text that the Prometheus parser reads, with the figures of a real
call (in progress, ended by reason, turn latency, barge-in, pacing, tools), the database
pool and the job queue; closed to the world unless scraped from a private network or with
METRICS_TOKEN."""

from __future__ import annotations

import functools

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from frontdesk.metrics_page import allowed
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server, server_settings
from tests.providers import ScriptedProviders
from tests.test_greeting_barge_in import GREETING
from tests.waiting import ended, transcript_has

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

LINE = "Hi I would like to book a cleaning"


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample by (name, sorted labels); the parser refuses malformed text."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(url: str) -> dict:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


async def test_a_calls_figures_reach_the_scrape(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders([LINE])) as server:
        before = await scrape(server.url)
        client = await make_client(pool, initial_greeting=GREETING)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.play(said(LINE))                 # over the greeting: a barge-in
        await transcript_has(pool, call, 3)
        during = await scrape(server.url)
        await call.hang_up()
        await ended(pool, call.call_sid)
        after = await scrape(server.url)

    assert value(during, "frontdesk_calls_in_progress") == 1
    assert value(after, "frontdesk_calls_in_progress") == 0
    ended_by_hangup = "frontdesk_calls_ended_total"
    assert value(after, ended_by_hangup, reason="caller_hangup") \
        == value(before, ended_by_hangup, reason="caller_hangup") + 1
    for histogram in ("frontdesk_turn_latency_seconds", "frontdesk_barge_in_seconds"):
        assert value(after, f"{histogram}_count") >= value(before, f"{histogram}_count") + 1
    assert value(after, "frontdesk_clears_total") > value(before, "frontdesk_clears_total")
    assert value(after, "frontdesk_outbound_pacing_lag_seconds_count") \
        > value(before, "frontdesk_outbound_pacing_lag_seconds_count")
    assert value(after, "frontdesk_db_pool_max") >= 1
    assert ("frontdesk_db_pool_connections", (("state", "idle"),)) in after
    assert value(after, "frontdesk_calls_max") == server.settings.max_calls


async def test_tool_runs_and_the_job_queue_are_counted(pool, pg_url):
    from tests.test_transfer_tool import make_ctx
    from tools.audit import run_tool

    async with live_server(pg_url, providers=ScriptedProviders([])) as server:
        before = await scrape(server.url)
        ctx = await make_ctx(pool)
        await run_tool(ctx, "take_message", {"message": "Call me back"})
        await run_tool(ctx, "take_message", {"message": "  "})          # refused: an error
        await run_tool(ctx, "no_such_tool", {})
        # A job waiting in the queue (the worker may already be on it: queued or picked).
        await pool.execute("INSERT INTO pgqueuer (priority, status, entrypoint, payload)"
                           " VALUES (0, 'queued', 'metrics.test', NULL)")
        after = await scrape(server.url)
    for tool, status, more in [("take_message", "success", 1), ("take_message", "error", 1),
                               ("unknown", "error", 1)]:
        assert value(after, "frontdesk_tool_calls_total", tool=tool, status=status) \
            == value(before, "frontdesk_tool_calls_total", tool=tool, status=status) + more
    assert value(after, "frontdesk_job_queue_depth", entrypoint="metrics.test",
                 status="queued") == 1


async def test_metrics_are_closed_to_the_world_unless_a_token_is_sent(pg_url):
    class Peer:
        def __init__(self, host: str, auth: str = "") -> None:
            self.client = type("Addr", (), {"host": host})()
            self.headers = {"authorization": auth} if auth else {}

    open_settings = server_settings(pg_url, 8000)
    assert allowed(Peer("127.0.0.1"), open_settings)
    assert allowed(Peer("10.1.2.3"), open_settings)
    assert not allowed(Peer("93.184.216.34"), open_settings)
    closed = server_settings(pg_url, 8000, metrics_token="s3cret-scrape")
    assert not allowed(Peer("127.0.0.1"), closed)
    assert not allowed(Peer("127.0.0.1", "Bearer wrong"), closed)
    assert allowed(Peer("93.184.216.34", "Bearer s3cret-scrape"), closed)

    async with live_server(pg_url, providers=ScriptedProviders([]),
                           metrics_token="s3cret-scrape") as server, httpx.AsyncClient() as http:
        refused = await http.get(f"{server.url}/metrics")
        assert refused.status_code == 403 and "METRICS_TOKEN" in refused.text
        ok = await http.get(f"{server.url}/metrics",
                            headers={"Authorization": "Bearer s3cret-scrape"})
        assert ok.status_code == 200 and "frontdesk_calls_in_progress" in ok.text
