"""An embedded PostgreSQL under the data directory, for machines with no DATABASE_URL."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("frontdesk.db")


class EmbeddedPostgres:
    """Starts (or reuses) a pgserver instance; ``url`` is its asyncpg DSN."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver  # imported lazily: only the embedded mode needs it

        data_dir.mkdir(parents=True, exist_ok=True)
        # Several frontdesk processes (servers, `frontdesk call`) share one instance; it
        # stops when the last of them exits. Data stays in data_dir across restarts.
        self._server = pgserver.get_server(data_dir, cleanup_mode="stop")
        socket_dir = self._server.get_uri().split("host=")[-1]
        self.url = f"postgresql://postgres@/postgres?host={socket_dir}"
        log.info("embedded PostgreSQL running in %s", data_dir)

    def stop(self) -> None:
        self._server.cleanup()


def embedded_url(data_dir: Path) -> str:
    return EmbeddedPostgres(data_dir).url
