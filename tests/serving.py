"""Serve an ASGI app with uvicorn on a real 127.0.0.1 socket inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def serving(app: Any, sock: socket.socket, *,
                  make_server: Callable[[uvicorn.Config], uvicorn.Server] = uvicorn.Server,
                  **config: Any) -> AsyncIterator[uvicorn.Server]:
    config.setdefault("log_level", "warning")
    server = make_server(uvicorn.Config(app, **config))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    # uvicorn offers a flag, not an event, for "listening"; startup failures surface here.
    while not server.started:  # noqa: ASYNC110
        if task.done():
            task.result()
            raise RuntimeError("uvicorn exited during start-up")
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task
        sock.close()
