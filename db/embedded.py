"""An embedded PostgreSQL under the data directory, for machines with no DATABASE_URL.

Several frontdesk processes (servers, ``frontdesk call``) share one instance: pgserver
keeps the pids of the processes holding it in the data directory and stops PostgreSQL when
the last of them lets go. A process that was killed never lets go, so its pid is dropped
here at the next start (otherwise no later process would ever be the last one), and a
``postmaster.pid`` left by a PostgreSQL that is gone (killed, or the machine restarted and
the pid now belongs to another program) is removed, or PostgreSQL would refuse to start.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

import psutil

log = logging.getLogger("frontdesk.db")

HOLDERS_FILE = ".handle_pids.json"   # pgserver's list of holder pids
POSTMASTER_PID = "postmaster.pid"


class EmbeddedPostgres:
    """Starts (or reuses) a pgserver instance; ``url`` is its asyncpg DSN."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver  # imported lazily: only the embedded mode needs it
        from pgserver.postgres_server import PostgresServer

        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        with PostgresServer._lock:  # pgserver's own inter-process lock for this state
            recover(data_dir)
        # Data stays in data_dir across restarts.
        self._server = pgserver.get_server(data_dir, cleanup_mode="stop")
        socket_dir = self._server.get_uri().split("host=")[-1]
        self.url = f"postgresql://postgres@/postgres?host={socket_dir}"
        log.info("embedded PostgreSQL running in %s", data_dir)

    def stop(self) -> None:
        """Let go; PostgreSQL stops if no other frontdesk process holds it."""
        self._server.cleanup()


def embedded_url(data_dir: Path) -> str:
    return EmbeddedPostgres(data_dir).url


def recover(data_dir: Path) -> None:
    """Undo what a killed frontdesk or PostgreSQL left behind in ``data_dir``."""
    holders = data_dir / HOLDERS_FILE
    with contextlib.suppress(FileNotFoundError, ValueError):
        pids = json.loads(holders.read_text())
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            holders.write_text(json.dumps(alive))
            log.info("embedded PostgreSQL: forgot %d holder(s) that are gone",
                     len(pids) - len(alive))
    pid_file = data_dir / POSTMASTER_PID
    with contextlib.suppress(FileNotFoundError):
        if not _our_postmaster(_pid_of(pid_file), data_dir):
            pid_file.unlink()
            log.warning("embedded PostgreSQL: removed a stale %s", POSTMASTER_PID)
    for lock in data_dir.glob(".s.PGSQL.*.lock"):   # the socket's lock file, same story
        with contextlib.suppress(FileNotFoundError):
            if not _our_postmaster(_pid_of(lock), data_dir):
                lock.unlink()


def _pid_of(path: Path) -> int | None:
    first = path.read_text(errors="replace").split("\n", 1)[0].strip()
    return int(first) if first.isdigit() else None


def _our_postmaster(pid: int | None, data_dir: Path) -> bool:
    """Whether ``pid`` is a running PostgreSQL serving ``data_dir``."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        return proc.name() == "postgres" and str(data_dir) in proc.cmdline()
    except psutil.Error:
        return False
