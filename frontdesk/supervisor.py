"""``frontdesk serve --workers N``: N whole servers on one port, one per core.

Each child is the same server as ``frontdesk serve`` (its own event loop, call registry,
queue workers, models), and the children share nothing but PostgreSQL, so any of them can
take any request, stream or API call. Each listens on its own ``SO_REUSEPORT`` socket,
bound here first: a port in use fails at once, the kernel spreads new connections evenly
over the sockets (one shared socket goes mostly to whichever child woke last), and a child
restarted after a crash takes up the socket its predecessor left, with what it had queued.

uvicorn's own ``workers=N`` runs a plain ``uvicorn.Server`` in each child; ours must drain
its calls before uvicorn closes their sockets (frontdesk.server.DrainingServer).

Signals: the children are moved out of the terminal's process group, so a Ctrl-C reaches
only this parent, which passes SIGTERM on once (drain) and again on a second signal (stop
now). A child whose parent dies (SIGKILL) stops itself the same way.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from frontdesk.settings import Settings

log = logging.getLogger("frontdesk.supervisor")

_spawn = multiprocessing.get_context("spawn")   # no fork: no inherited loop, pool or threads
STARTUP_FAILED = 3


def bind_sockets(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on one address, one per child."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets = []
    for _ in range(count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sockets.append(sock)
    return sockets


# What a child runs: serve ``settings`` on ``sockets``, calling ``on_started`` once listening.
# Picklable (a module-level function, or a functools.partial of one): children are spawned.
Target = Callable[[Settings, list[socket.socket], Callable[[], None]], None]


def serve_frontdesk(settings: Settings, sockets: list[socket.socket],
                    on_started: Callable[[], None]) -> None:
    """The default target: the same server as ``frontdesk serve``."""
    from frontdesk.cli import run_server
    from frontdesk.database import Database

    assert settings.database_url is not None   # the parent resolved it
    run_server(settings, Database(settings.database_url, embedded=False), sockets=sockets,
               on_started=on_started)


class Child:
    def __init__(self, index: int, settings: Settings, sock: socket.socket,
                 target: Target) -> None:
        self.index = index
        self.conn, child_end = _spawn.Pipe()
        self.process: BaseProcess = _spawn.Process(
            target=_child_main, args=(settings, sock, child_end, target),
            name=f"frontdesk-{index}")
        self.process.start()
        child_end.close()
        self.ready = False

    @property
    def pid(self) -> int | None:
        return self.process.pid


class Supervisor:
    def __init__(self, settings: Settings, sockets: list[socket.socket],
                 banner: Callable[[], str], target: Target = serve_frontdesk) -> None:
        self.settings = settings
        self.target = target
        self.sockets = sockets
        self.banner = banner
        self.signals = 0
        self.children: list[Child] = []

    def run(self) -> int:
        """Start the children and keep them running until a signal; the exit status."""
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        pending: list[int] = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda s, _f: pending.append(s))
        try:
            self.children = [Child(i, self.settings, s, self.target)
                             for i, s in enumerate(self.sockets)]
            announced = False
            while any(c.process.is_alive() for c in self.children):
                waiting: list[Any] = [wake_r]
                for c in self.children:
                    waiting.append(c.process.sentinel)
                    if not c.ready:
                        waiting.append(c.conn)
                for ready in wait(waiting):
                    if ready is wake_r:
                        with contextlib.suppress(BlockingIOError):
                            wake_r.recv(64)
                    elif isinstance(ready, Connection):
                        self._child_ready(ready)
                while pending:
                    self._stop(pending.pop(0))
                if not announced and all(c.ready for c in self.children):
                    announced = True
                    print(self.banner(), flush=True)
                failed = self._replace_exited()
                if failed:
                    return failed
            return 0
        finally:
            signal.set_wakeup_fd(-1)
            wake_r.close()
            wake_w.close()

    def _child_ready(self, conn: Connection) -> None:
        for c in self.children:
            if c.conn is conn:
                try:
                    conn.recv()
                except (EOFError, OSError):   # it exited first: _replace_exited sees it
                    continue
                c.ready = True

    def _stop(self, sig: int) -> None:
        self.signals += 1
        log.info("%s: %s %d server process(es)", signal.Signals(sig).name,
                 "draining" if self.signals == 1 else "stopping", len(self.children))
        for c in self.children:
            if c.process.is_alive() and c.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(c.pid, signal.SIGTERM)

    def _replace_exited(self) -> int:
        """Restart a child that died while serving; a start-up failure stops them all."""
        for i, c in enumerate(self.children):
            if c.process.is_alive() or self.signals:
                continue
            code = c.process.exitcode
            if not c.ready:
                log.error("server process %s exited during start-up (%s): stopping", c.pid,
                          code)
                self._stop(signal.SIGTERM)
                return STARTUP_FAILED
            log.error("server process %s exited (%s): starting another", c.pid, code)
            c.conn.close()
            self.children[i] = Child(i, self.settings, self.sockets[i], self.target)
            self.children[i].ready = True   # already announced; its socket kept its queue
        return 0


def _child_main(settings: Settings, sock: socket.socket, conn: Connection,
                target: Target) -> None:
    """One server process, on the given socket."""
    os.setpgrp()   # out of the terminal's process group: signals come from the parent
    from frontdesk import logs

    logs.configure(settings.log_level, fmt=settings.log_format)
    threading.Thread(target=_stop_when_orphaned, args=(conn,), daemon=True).start()
    target(settings, [sock], lambda: conn.send(os.getpid()))
    sys.exit(0)


def _stop_when_orphaned(conn: Connection) -> None:
    # The parent never writes: this returns when its end closes, i.e. when it has died.
    with contextlib.suppress(EOFError, OSError):
        while True:
            conn.recv()
    os.kill(os.getpid(), signal.SIGTERM)
