"""CPU and RSS of the server process(es), sampled by pid while a load runs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import psutil


@dataclass
class Sample:
    t: float            # monotonic
    cpu_percent: float  # of one core, summed over the processes (and their children)
    rss_mb: float       # the processes and their children (an embedded PostgreSQL, say)
    calls: int          # calls in progress at the load generator
    rss_main_mb: float = 0.0  # the listed processes alone


@dataclass
class Sampler:
    pids: Sequence[int]
    interval_s: float = 1.0
    active: Callable[[], int] = lambda: 0
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[float, float] | None = None

    def _processes(self) -> list[psutil.Process]:
        procs = []
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                procs.append(p)
                procs += p.children(recursive=True)
        return procs

    def _read(self) -> tuple[float, float]:
        """Total CPU seconds and RSS (MB) of the processes now."""
        cpu, rss, _ = self._read_all()
        return cpu, rss

    def _read_all(self) -> tuple[float, float, float]:
        cpu = rss = main = 0.0
        for p in self._processes():
            with contextlib.suppress(psutil.Error):
                times = p.cpu_times()
                cpu += times.user + times.system
                mem = p.memory_info().rss
                rss += mem
                main += mem if p.pid in self.pids else 0
        return cpu, rss / 2**20, main / 2**20

    def sample(self) -> Sample | None:
        now = time.monotonic()
        cpu, rss, main = self._read_all()
        last, self._last = self._last, (now, cpu)
        if last is None or now <= last[0]:
            return None
        s = Sample(now, 100 * (cpu - last[1]) / (now - last[0]), rss, self.active(), main)
        self.samples.append(s)
        return s

    def rss_mb(self) -> float:
        return self._read()[1]

    def rss_main_mb(self) -> float:
        return self._read_all()[2]

    async def _run(self) -> None:
        self.sample()
        while True:
            await asyncio.sleep(self.interval_s)
            self.sample()

    def start(self) -> None:
        if self.pids and self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            self.sample()


def listening_pids(port: int) -> list[int]:
    """Processes listening on ``port`` on this machine (best effort; may need privileges)."""
    pids = set()
    with contextlib.suppress(psutil.Error, PermissionError):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port \
                    and conn.pid:
                pids.add(conn.pid)
    return sorted(pids)
