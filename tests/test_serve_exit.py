"""``frontdesk serve`` as its own process with an embedded PostgreSQL: SIGTERM and SIGINT
stop it cleanly (exit 0, no PostgreSQL left running), and a killed server or database
leaves a data directory that the next start recovers."""

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
import websockets

from loadtest import twilio_wire as wire
from tests.serving import free_socket
from tests.waiting import until

pytest.importorskip("pgserver")

FRONTDESK = str(Path(sys.executable).parent / "frontdesk")


class Served:
    def __init__(self, home: Path) -> None:
        self.home = home
        sock = free_socket()
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"FRONTDESK_HOME": str(home), "PORT": str(self.port), "PUBLIC_URL": self.url,
                "LOCAL_MODELS": "false", "TWILIO_AUTH_TOKEN": "t" * 32, "LOG_LEVEL": "INFO"}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen([FRONTDESK, "serve"], env=env, stdout=out,
                                         stderr=subprocess.STDOUT)

    async def healthy(self) -> None:
        async def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{self.url}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await until(answers, within=90, what="frontdesk serve to answer")

    async def stop(self, sig: signal.Signals) -> int:
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, 60)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def postgres_of(home: Path) -> list[psutil.Process]:
    data = str((home / "pgdata").resolve())
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] == "postgres" and data in (proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.fixture
def home(tmp_path: Path):
    yield tmp_path
    for proc in postgres_of(tmp_path):   # whatever a failed test left behind
        proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_a_signal_stops_the_server_and_its_postgres_with_exit_0(home, sig):
    server = Served(home)
    await server.healthy()
    assert postgres_of(home)
    assert await server.stop(sig) == 0, server.output()
    assert postgres_of(home) == []
    assert "Traceback" not in server.output()


async def test_a_killed_server_leaves_a_database_the_next_start_uses_and_stops(home):
    first = Served(home)
    await first.healthy()
    first.proc.kill()
    first.proc.wait()
    assert postgres_of(home)                  # orphaned, still running

    second = Served(home)
    await second.healthy()                    # reuses it...
    assert await second.stop(signal.SIGTERM) == 0, second.output()
    assert postgres_of(home) == []            # ...and, now the last holder, stops it


async def test_a_stale_postmaster_pid_is_recovered(home):
    first = Served(home)
    await first.healthy()
    first.proc.kill()
    first.proc.wait()
    postmaster = min(postgres_of(home), key=lambda p: p.create_time())
    postmaster.kill()                         # the database dies too (power cut, OOM killer)
    await asyncio.to_thread(psutil.wait_procs, postgres_of(home), 10)
    pid_file = home / "pgdata" / "postmaster.pid"
    lines = pid_file.read_text().splitlines()
    # After a restart its pid may belong to any other program: here, this test's process.
    pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")

    second = Served(home)
    await second.healthy()
    assert await second.stop(signal.SIGTERM) == 0, second.output()
    assert postgres_of(home) == []


async def test_request_values_cannot_forge_log_lines(home):
    server = Served(home)
    await server.healthy()
    marker = "FORGED-e8c1"
    form = wire.voice_form(call_sid=f"CA1\n{marker} INFO frontdesk: all good", to="+15555550100",
                           caller="+14155550100\r\n" + marker, account_sid="AC1")
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(f"{server.url}/voice", data=form,
                                   headers={"X-Twilio-Signature": "forged"})
    assert unsigned.status_code == 403
    async with websockets.connect(f"{server.url.replace('http', 'ws', 1)}/ws/1/x") as ws:
        await ws.send('{"event": "start\\n' + marker + ' ERROR x", "start": 1}')
        await ws.wait_closed()
    assert await server.stop(signal.SIGTERM) == 0
    log = server.output()
    assert "CA1\\x0a" + marker in log          # the value is there, escaped
    assert not [line for line in log.splitlines() if line.startswith(marker)]
