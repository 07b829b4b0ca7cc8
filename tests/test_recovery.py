"""A server that dies mid-call: the next start finalizes the call, keeping its turns."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys

import httpx
import pytest

from db import conversations, usage
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import ACCOUNT_SID, AUTH_TOKEN, NO_LOAD_ADMISSION, live_server
from tests.providers import ScriptedProviders
from tests.serving import free_socket
from tests.waiting import until

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402

LINE = "I need to move my appointment"


async def start_server_process(pg_url: str, port: int) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": pg_url, "PORT": str(port),
           "PUBLIC_URL": f"http://127.0.0.1:{port}", "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
           "LOCAL_MODELS": "false", "METER_TICK_SECONDS": "15", "HEARTBEAT_SECONDS": "0.5",
           # A busy CI core must not make /voice turn the test's one call away.
           **NO_LOAD_ADMISSION}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.server_process",
                                                LINE, env=env)

    async def healthy() -> bool:
        if proc.returncode is not None:
            raise AssertionError("server process exited during start-up")
        try:
            async with httpx.AsyncClient() as http:
                # Ready, not only alive: /voice is busy until the models are in.
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await until(healthy, within=60, what="the server process to answer")
    return proc


async def test_killed_server_call_is_finalized_as_server_restart_with_turns(pool, pg_url):
    client = await make_client(pool, balance_seconds=600)
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = await start_server_process(pg_url, port)
    try:
        call = FakeCall(f"http://127.0.0.1:{port}", to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        await call.play(to_ulaw_frames(*synthesize_caller(LINE)))
        await call.wait_for_agent()

        async def three_turns_stored() -> bool:
            conv = await conversations.get_by_call_sid(pool, call.call_sid)
            return len(conv.transcript) >= 3

        await until(three_turns_stored, what="the turns to be stored")
        proc.send_signal(signal.SIGKILL)           # no shutdown, no finalization
        await proc.wait()
        await call.wait_closed(limit_seconds=10)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.status == "active"                 # nobody finalized it
    assert conv.billed_seconds >= 15               # talk time is prepaid, a tick at a time
    async with live_server(pg_url, providers=ScriptedProviders()):
        pass                                       # start-up runs the recovery pass

    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.status == "ended" and conv.end_reason == "server_restart"
    assert [t["role"] for t in conv.transcript] == ["assistant", "user", "assistant"]
    assert conv.transcript[1]["content"] == LINE
    assert conv.ended_at is not None and conv.ended_at >= conv.started_at
    # Settled to the second it was last known alive: the unused prepaid time comes back.
    ledger = await usage.for_conversation(pool, conv.id)
    assert sum(r["seconds"] for r in ledger) == conv.billed_seconds \
        == math.ceil(conv.duration_seconds)
    assert ledger[-1]["reason"] == "call_refund"
    assert await pool.fetchval("SELECT count(*) FROM active_calls") == 0
    assert await pool.fetchval("SELECT count(*) FROM server_processes") == 0
