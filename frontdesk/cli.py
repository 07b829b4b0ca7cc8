"""The ``frontdesk`` command: serve, worker, migrate, token, call, admin."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from frontdesk.settings import ConfigError, Settings

if TYPE_CHECKING:
    from frontdesk.database import Database


def _environment() -> dict[str, str]:
    """The process environment over the values of a ./.env file, if there is one."""
    from dotenv import dotenv_values

    file_values = {k: v for k, v in dotenv_values(".env").items() if v is not None}
    return {**file_values, **os.environ}


def _settings(**overrides: object) -> Settings:
    try:
        return Settings.from_env(_environment(), **overrides)
    except ConfigError as exc:
        print(f"frontdesk: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def serve(args: argparse.Namespace) -> None:
    """Serve until SIGTERM or SIGINT (Ctrl-C): drain the calls, stop the embedded
    PostgreSQL, exit 0. uvicorn handles the signals while it runs; before and after it
    (PostgreSQL starting or stopping) SIGTERM counts as Ctrl-C."""
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port),
                                   ("server_workers", args.workers)) if v is not None}
    settings = _settings(**overrides)
    from frontdesk import logs

    logs.configure(settings.log_level, fmt=settings.log_format)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    code = 0
    with contextlib.suppress(KeyboardInterrupt):
        code = _serve(settings)
    raise SystemExit(code)


def _serve(settings: Settings) -> int:
    from frontdesk.database import opened

    with opened(settings) as database:
        try:
            if settings.server_workers > 1:
                return _serve_processes(settings, database)
            run_server(settings, database, banner=lambda app: _banner(settings, app))
            return 0
        finally:
            # Stopping PostgreSQL takes a moment; another Ctrl-C must not cut it short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run_server(settings: Settings, database: Database, *,
               sockets: list[socket.socket] | None = None,
               banner: Callable[[object], str] | None = None,
               on_started: Callable[[], None] | None = None) -> None:
    """One server process, on ``settings``' address or on ``sockets`` (a supervisor's)."""
    import uvicorn

    from frontdesk.app import DRAIN_SECONDS, create_app
    from frontdesk.server import DrainingServer, uvicorn_options
    from voice.registry import CallRegistry

    calls = CallRegistry(settings.max_calls)
    app = create_app(settings, calls=calls, database=database)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, loop="uvloop", http="httptools",
        lifespan="on", log_level="warning", timeout_graceful_shutdown=5,
        **uvicorn_options(settings))
    server = DrainingServer(config, calls, DRAIN_SECONDS,
                            banner=(lambda: banner(app)) if banner else None,
                            on_started=on_started)
    server.run(sockets=sockets)


def _serve_processes(settings: Settings, database: Database) -> int:
    """``--workers N``: this process owns the database (an embedded PostgreSQL is started
    once, here) and prepares it; N children serve, each told where it is."""
    from frontdesk.supervisor import Supervisor, bind_sockets

    demo, password = asyncio.run(_prepare_database(database))
    sockets = bind_sockets(settings.host, settings.port, settings.server_workers)
    children = settings.model_copy(update={"database_url": database.url})
    try:
        return Supervisor(children, sockets,
                          banner=lambda: _banner(settings, demo=demo,
                                                 demo_password=password)).run()
    finally:
        for sock in sockets:
            sock.close()


async def _prepare_database(database: Database) -> tuple[Any, str | None]:
    """Migrate once before the children start (rather than N at once); on the embedded
    database, the demo client and its owner's console password, which the children (told
    only a URL) would not create."""
    from db.pool import open_pool
    from frontdesk.demo import demo_password, ensure_demo

    async with open_pool(database.url, max_size=2) as pool:
        if not database.embedded:
            return None, None
        return await ensure_demo(pool), await demo_password(pool)


def _banner(settings: Settings, app: object = None, *, demo: Any = None,
            demo_password: str | None = None) -> str:
    """Where to point Twilio, printed once uvicorn (every process) is listening."""
    processes = (f" ({settings.server_workers} processes)"
                 if settings.server_workers > 1 else "")
    lines = [
        "",
        f"frontdesk is answering on http://{settings.host}:{settings.port}{processes}",
        f"  Twilio voice webhook (HTTP POST): {settings.voice_url}",
        f"  Media streams:                    {settings.public_ws_base}/ws/...",
    ]
    state = getattr(app, "state", None)
    if demo is None:
        demo = getattr(state, "demo_client", None)
        demo_password = getattr(state, "demo_password", None)
    lines.append(f"  Console:                          http://{settings.host}:{settings.port}"
                 "/console")
    if demo is not None:
        lines.append(f"  Demo client: {demo.name}, {demo.phone_number}, "
                     f"{demo.balance_seconds} s of balance")
    if demo is not None and demo_password:
        from frontdesk.demo import DEMO_EMAIL

        lines.append(f"  Console sign-in: {DEMO_EMAIL} / {demo_password}")
    return "\n".join(lines) + "\n"


def worker(args: argparse.Namespace) -> None:
    """Work the job queue (webhooks, texts, e-mails, reminders) without serving calls."""
    from frontdesk import logs
    from frontdesk.worker import run_workers

    settings = _settings()
    logs.configure(settings.log_level, fmt=settings.log_format)
    count = args.workers if args.workers is not None else max(1, settings.event_workers)
    asyncio.run(run_workers(settings, count))   # SIGINT/SIGTERM stop it cleanly


def migrate(_args: argparse.Namespace) -> None:
    from db.pool import open_pool
    from frontdesk.database import resolve_url

    settings = _settings()

    async def run() -> None:
        dsn, _ = await resolve_url(settings)
        async with open_pool(dsn, max_size=2, run_migrations=False) as pool:
            from db.migrate import migrate as apply

            async with pool.acquire() as conn:
                applied = await apply(conn)
        print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))

    asyncio.run(run())


def token(args: argparse.Namespace) -> None:
    """Print an API access token for an existing user (operators' and tests' shortcut)."""
    from api.auth import issue_access_token
    from db import secrets, users
    from db.pool import open_pool
    from frontdesk.database import resolve_url

    settings = _settings()

    async def run() -> str:
        dsn, _ = await resolve_url(settings)
        async with open_pool(dsn, max_size=2) as pool:
            user = await users.get_by_email(pool, args.email)
            if user is None:
                raise SystemExit(f"frontdesk: no user with e-mail {args.email}")
            secret = settings.secret("jwt_secret") or await secrets.get_or_create(pool, "jwt")
            return issue_access_token(secret, user.id, ttl=args.ttl)

    print(asyncio.run(run()))


def call(args: argparse.Namespace) -> None:
    """Phone a running server from the terminal, as Twilio would."""
    from frontdesk import phone_call

    raise SystemExit(asyncio.run(phone_call.run_cli(args, _settings())))


def admin(args: argparse.Namespace) -> None:
    """Operators' commands: create-admin, top-up, balance (see frontdesk/admin_commands.py)."""
    from frontdesk import admin_commands

    raise SystemExit(admin_commands.run(args, _settings()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="frontdesk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="run the server (embedded PostgreSQL without DATABASE_URL)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="server processes sharing the port, one per"
                   " core (default: SERVER_WORKERS, 1); not the job queue's workers")
    p.set_defaults(func=serve)
    p = sub.add_parser("worker", help="work the job queue: webhooks, texts, e-mails, reminders")
    p.add_argument("--workers", type=int, help="queue workers in this process"
                   " (default: EVENT_WORKERS, at least 1)")
    p.set_defaults(func=worker)
    p = sub.add_parser("migrate", help="apply pending database migrations")
    p.set_defaults(func=migrate)
    p = sub.add_parser("token", help="print an API access token for a user")
    p.add_argument("--email", default="demo@example.com", help="default: the demo owner")
    p.add_argument("--ttl", type=int, default=15 * 60, help="seconds (default 900)")
    p.set_defaults(func=token)
    p = sub.add_parser("call", help="phone a running server from the terminal, as Twilio would")
    p.add_argument("--to", default="+15555550100", help="number dialled (default: the demo)")
    p.add_argument("--from", dest="caller", default="+15005550006", help="caller's number")
    p.add_argument("--say", dest="turns", action="append", metavar="TEXT",
                   type=lambda v: ("say", v), help="a caller turn as text (repeatable)")
    p.add_argument("--wav", dest="turns", action="append", metavar="FILE",
                   type=lambda v: ("wav", v), help="a caller turn as a WAV file (repeatable)")
    p.add_argument("--url", help="server base URL (default: PUBLIC_URL)")
    p.add_argument("--auth-token", help="Twilio auth token (default: TWILIO_AUTH_TOKEN)")
    p.add_argument("--out", help="stereo WAV of the call (default: ./call-<CallSid>.wav)")
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--quiet-ms", type=int, default=700,
                   help="agent silence before the caller's next turn (default 700)")
    p.add_argument("--linger", type=float, default=5.0,
                   help="seconds to wait after the last answer for the agent to hang up")
    p.set_defaults(func=call)
    p = sub.add_parser("admin", help="operators: create-admin, top-up, balance")
    from frontdesk import admin_commands  # stdlib only at import; the work is imported lazily

    admin_commands.add_arguments(p)
    p.set_defaults(func=admin)
    args = parser.parse_args(argv)
    args.func(args)
