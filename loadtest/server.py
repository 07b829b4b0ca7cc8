"""A server the load tester starts itself: a subprocess, optionally pinned to cores.

Start-up time is measured from process start to the first ``GET /readyz`` that answers 200
(frontdesk answers /healthz as soon as its database is up, /readyz only once its speech
models are loaded too); a server without /readyz is ready at its first ``GET /healthz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin_self(cpus: set[int]) -> None:
    """Keep the load generator off the server's core(s) where the machine has others."""
    with contextlib.suppress(AttributeError, OSError):
        available = os.sched_getaffinity(0)
        rest = available - cpus
        if rest:
            os.sched_setaffinity(0, rest)


@dataclass
class SpawnedServer:
    cmd: Sequence[str]
    env: Mapping[str, str]
    port: int
    cpus: set[int] | None = None
    log_path: Path | None = None
    processes: int = 1   # server processes answering on the port (``--workers N``)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_at: float | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def startup_s(self) -> float | None:
        return None if self.ready_at is None else self.ready_at - self.started_at

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def _spawn(self) -> None:
        cpus = self.cpus

        def pin() -> None:  # in the child, before exec: every thread it starts inherits it
            if cpus:
                os.sched_setaffinity(0, cpus)

        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("wb")
        out: Any = self._log if self._log is not None else subprocess.DEVNULL
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(list(self.cmd), env={**os.environ, **self.env},
                                     stdout=out, stderr=subprocess.STDOUT, preexec_fn=pin,
                                     start_new_session=True)

    async def start(self, *, timeout_s: float = 180.0) -> SpawnedServer:
        self._spawn()
        assert self.proc is not None
        deadline = self.started_at + timeout_s
        async with httpx.AsyncClient(timeout=2) as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode} during "
                                       f"start-up:\n{self.log_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if await self._ready(http) and \
                            await self.idle(timeout_s=deadline - time.monotonic()):
                        self.ready_at = time.monotonic()
                        return self
                await asyncio.sleep(0.05)
        await self.stop()
        raise RuntimeError(f"server was not ready within {timeout_s:g} s:\n"
                           f"{self.log_text()[-3000:]}")

    async def _ready(self, http: httpx.AsyncClient) -> bool:
        ready = await http.get(f"{self.url}/readyz")
        if ready.status_code != 404:
            return ready.status_code == 200
        return (await http.get(f"{self.url}/healthz")).status_code == 200

    async def health(self) -> dict[str, Any]:
        # A new connection each time: with several processes, the kernel picks one per
        # connection.
        async with httpx.AsyncClient(timeout=5) as http:
            return (await http.get(f"{self.url}/healthz")).json()

    async def get_json(self, path: str) -> dict[str, Any] | None:
        """``GET path`` from one server process; None when it does not answer with JSON."""
        async with httpx.AsyncClient(timeout=5) as http:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = await http.get(f"{self.url}{path}")
                if response.status_code == 200:
                    return dict(response.json())
        return None

    async def calls(self) -> int:
        return int((await self.health()).get("calls", 0))

    async def idle(self, *, timeout_s: float = 60.0) -> bool:
        """Wait until every server process has reported no call in progress."""
        deadline = time.monotonic() + timeout_s
        idle: set[int] = set()
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                health = await self.health()
                pid = int(health.get("pid", 0))
                if int(health.get("calls", 0)) == 0:
                    idle.add(pid)
                else:
                    idle.discard(pid)
                if len(idle) >= self.processes:
                    return True
            await asyncio.sleep(0.2 if self.processes == 1 else 0.02)
        return False

    async def stop(self, *, timeout_s: float = 40.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        if self._log is not None:
            self._log.close()
        return self.proc.returncode
