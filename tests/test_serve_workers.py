"""Several server processes: ``frontdesk serve --workers 2`` answers from two processes on
one port and stops cleanly; a call /voice accepted in one process streams to another, as it
does behind a load balancer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import ACCOUNT_SID, AUTH_TOKEN, NO_LOAD_ADMISSION
from tests.serving import free_socket
from tests.test_serve_exit import postgres_of
from tests.waiting import ended, until

FRONTDESK = str(Path(sys.executable).parent / "frontdesk")
LINE = "I would like to book an appointment"


def free_port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


class Workers:
    """``frontdesk serve --workers N`` as its own process."""

    def __init__(self, home: Path, workers: int, database_url: str | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"FRONTDESK_HOME": str(home), "PORT": str(self.port), "PUBLIC_URL": self.url,
                "LOCAL_MODELS": "false", "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "LOG_LEVEL": "INFO",
                **NO_LOAD_ADMISSION}
        if database_url:
            env["DATABASE_URL"] = database_url
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([FRONTDESK, "serve", "--workers", str(workers)],
                                         env=env, stdout=out, stderr=subprocess.STDOUT)

    async def pids(self, count: int, *, besides: set[int] = frozenset()) -> set[int]:
        """Ask /healthz on new connections until ``count`` processes other than ``besides``
        have answered."""
        seen: set[int] = set()

        async def all_answered() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                async with httpx.AsyncClient() as http:   # a new connection each time
                    seen.add((await http.get(f"{self.url}/healthz")).json()["pid"])
            except httpx.TransportError:
                pass
            return len(seen - besides) >= count

        await until(all_answered, within=90, what=f"{count} processes to answer")
        return seen

    def children(self) -> set[int]:
        return {c.pid for c in psutil.Process(self.proc.pid).children()}

    async def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.proc.wait, 60)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        for pid in self.children():
            psutil.Process(pid).kill()
        self.proc.kill()
        self.proc.wait()


async def test_two_processes_answer_on_one_port_and_stop_with_exit_0(tmp_path, pg_url):
    server = Workers(tmp_path, 2, pg_url)
    try:
        pids = await server.pids(2)
        children = server.children()
        assert pids <= children and server.proc.pid not in pids

        killed = next(iter(pids))                   # a child that dies is replaced
        psutil.Process(killed).kill()
        replacement = await server.pids(1, besides=pids)
        after = server.children()
        code = await server.stop()
    finally:
        if server.proc.poll() is None:
            server.kill()
    assert replacement - pids and replacement - pids <= after   # a new child
    assert code == 0, server.output()
    assert not [pid for pid in pids | replacement if psutil.pid_exists(pid)]
    assert "(2 processes)" in server.output() and "Traceback" not in server.output()


async def test_children_of_a_killed_parent_stop_themselves(tmp_path, pg_url):
    server = Workers(tmp_path, 2, pg_url)
    pids: set[int] = set()
    try:
        pids = await server.pids(2)
        server.proc.kill()                          # no signal passed on: SIGKILL
        server.proc.wait()

        async def gone() -> bool:
            return not [pid for pid in pids if psutil.pid_exists(pid)
                        and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE]

        await until(gone, within=60, what="the orphaned children to stop")
    finally:
        for pid in pids:
            if psutil.pid_exists(pid):
                psutil.Process(pid).kill()


async def test_with_the_embedded_database_the_parent_starts_and_stops_it(tmp_path):
    pytest.importorskip("pgserver")
    server = Workers(tmp_path, 2, None)
    try:
        assert len(await server.pids(2)) == 2
        assert len(postgres_of(tmp_path)) == 1     # one PostgreSQL, the parent's
        code = await server.stop()
    finally:
        if server.proc.poll() is None:
            server.kill()
        for proc in postgres_of(tmp_path):
            proc.kill()
    assert code == 0, server.output()
    assert postgres_of(tmp_path) == []
    assert "Demo client: Demo Dental" in server.output()


async def start_process(pg_url: str, port: int, public_url: str) -> asyncio.subprocess.Process:
    """One server as on one host behind a balancer: every host has the balancer's URL."""
    env = {**os.environ, "DATABASE_URL": pg_url, "PORT": str(port), "PUBLIC_URL": public_url,
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
           "TWILIO_API_BASE_URL": "http://127.0.0.1:9", "LOCAL_MODELS": "false",
           **NO_LOAD_ADMISSION}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tests.server_process",
                                                LINE, env=env)

    async def healthy() -> bool:
        if proc.returncode is not None:
            raise AssertionError("server process exited during start-up")
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    await until(healthy, within=60, what="the server process to be ready")
    return proc


async def health(port: int) -> dict:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"http://127.0.0.1:{port}/healthz")).json()


async def test_a_stream_reaches_another_process_than_its_voice_and_works(pool, pg_url):
    client = await make_client(pool)
    voice_port, stream_port = free_port(), free_port()
    public = f"http://127.0.0.1:{voice_port}"      # what Twilio signs and dials
    procs = [await start_process(pg_url, port, public) for port in (voice_port, stream_port)]
    try:
        call = FakeCall(public, to=client.phone_number)
        await call.dial()                           # /voice in the first process...
        assert call.instruction is not None
        other = call.instruction.url.replace(f":{voice_port}/", f":{stream_port}/")
        await call.connect(url=other)               # ...its stream to the second
        await call.wait_for_agent()
        during = [await health(voice_port), await health(stream_port)]
        await call.hang_up()
        conv = await ended(pool, call.call_sid)
    finally:
        for proc in procs:
            proc.terminate()
            await proc.wait()
    assert [h["calls"] for h in during] == [0, 1]
    assert during[0]["pid"] != during[1]["pid"]
    assert conv.end_reason == "caller_hangup"
    assert conv.transcript[0]["role"] == "assistant"   # the greeting, from the second process
