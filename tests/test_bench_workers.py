"""The bench's multi-process mode: ``tests.bench_server --workers 2`` is two server
processes on one port, which the bench's SpawnedServer waits for and samples together."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import psutil

from loadtest.bench import LOOP_STALLS, label, server_cores
from loadtest.server import SpawnedServer, free_port
from tests.waiting import until


def test_cores_for_n_processes_start_at_the_given_one_and_wrap():
    assert server_cores(1, 1) == {1}
    total = os.cpu_count() or 1
    if total >= 2:
        assert server_cores(1, 2) == {0, 1}
        assert server_cores(0, 2) == {0, total - 1}
    assert len(server_cores(0, total + 3)) == total
    assert label("frontdesk", 1) == "frontdesk" and label("frontdesk", 2) == "frontdesk×2"


async def test_two_bench_server_processes_answer_and_stop(tmp_path: Path, pg_url: str):
    port = free_port()
    env = {"PORT": str(port), "PUBLIC_URL": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
           "TWILIO_AUTH_TOKEN": secrets.token_hex(16), "LOCAL_MODELS": "false",
           "DATABASE_URL": pg_url, "FRONTDESK_HOME": str(tmp_path)}
    server = SpawnedServer([sys.executable, "-m", "tests.bench_server", "--workers", "2"], env,
                           port, processes=2, log_path=tmp_path / "server.log")
    try:
        await server.start(timeout_s=90)          # returns once both have answered idle
        children = {c.pid for c in psutil.Process(server.pid).children()}
        answered: set[int] = set()

        async def both() -> bool:                 # a new connection each time
            answered.add((await server.health())["pid"])
            return len(answered) == 2

        await until(both, what="both processes to answer")
        # Each process serves its event loop's stall window, which the bench reads per level.
        stalls = await server.get_json(LOOP_STALLS)
        assert stalls is not None and stalls["ticks"] > 0 and "longest_ms" in stalls
    finally:
        code = await server.stop()
    assert answered <= children
    assert code == 0, server.log_text()
