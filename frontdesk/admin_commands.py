"""``frontdesk admin``: the operator's commands (create-admin, top-up, balance).

Until billing exists these are how a server's operator makes the first administrator
(users.is_admin) and adds talk time, without writing SQL. They reach the database the way
``frontdesk serve`` does (DATABASE_URL, else the embedded PostgreSQL under FRONTDESK_HOME)
and go through the same db functions as the admin API.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncpg

    from frontdesk.settings import Settings

MIN_PASSWORD, MAX_PASSWORD = 8, 128   # as POST /api/auth/register
MAX_NOTE = 500                        # as the admin API's top-up note
LEDGER_ROWS = 20


class AdminError(Exception):
    """A refused command; the message says why, the command exits 1."""


def _client_id(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a client id: {value!r}") from None
    if not 0 < n < 2**63:
        raise argparse.ArgumentTypeError(f"not a client id: {value!r}")
    return n


def _seconds(value: str) -> int:
    from db.usage import MAX_CREDIT_SECONDS

    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds must be a whole number, not {value!r}") \
            from None
    if not 0 < n <= MAX_CREDIT_SECONDS:
        raise argparse.ArgumentTypeError(
            f"seconds must be between 1 and {MAX_CREDIT_SECONDS}, not {n}")
    return n


def _note(value: str) -> str:
    if len(value) > MAX_NOTE:
        raise argparse.ArgumentTypeError(f"a note is at most {MAX_NOTE} characters")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="admin_command", required=True)
    p = sub.add_parser("create-admin", help="create an administrator, or promote a user")
    p.add_argument("email")
    p.add_argument("--password", nargs="?", const="", default=None, metavar="PASSWORD",
                   help="set this password (without a value: asked for, or read from"
                        " standard input when it is not a terminal)")
    p.set_defaults(admin_func=_create_admin)
    p = sub.add_parser("top-up", help="add talk time to a client (a ledger row)")
    p.add_argument("client_id", type=_client_id, metavar="CLIENT_ID")
    p.add_argument("seconds", type=_seconds, metavar="SECONDS")
    p.add_argument("--note", type=_note, help="why, kept on the ledger row")
    p.set_defaults(admin_func=_top_up)
    p = sub.add_parser("balance", help="a client's balance and latest ledger rows")
    p.add_argument("client_id", type=_client_id, metavar="CLIENT_ID")
    p.add_argument("--rows", type=int, default=LEDGER_ROWS,
                   help=f"ledger rows shown, latest (default {LEDGER_ROWS})")
    p.set_defaults(admin_func=_balance)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen subcommand; print its answer (or the refusal) and return the exit
    status."""
    if getattr(args, "password", None) == "":
        args.password = _ask_password()
    try:
        print(asyncio.run(_with_pool(settings, args)))
    except AdminError as exc:
        print(f"frontdesk admin: {exc}", file=sys.stderr)
        return 1
    return 0


def _ask_password() -> str:
    if not sys.stdin.isatty():  # piped in by a script
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        print("frontdesk admin: the passwords differ", file=sys.stderr)
        raise SystemExit(1)
    return first


async def _with_pool(settings: Settings, args: argparse.Namespace) -> str:
    from db.pool import open_pool
    from frontdesk.database import resolve_url

    dsn, _ = await resolve_url(settings)
    async with open_pool(dsn, max_size=2) as pool:
        return await args.admin_func(pool, args)


async def _create_admin(pool: asyncpg.Pool, args: argparse.Namespace) -> str:
    from pydantic import EmailStr, TypeAdapter, ValidationError

    from api import passwords
    from db import users

    try:
        email = TypeAdapter(EmailStr).validate_python(args.email)
    except ValidationError:
        raise AdminError(f"not an e-mail address: {args.email!r}") from None
    password_hash = None
    if args.password is not None:
        if not MIN_PASSWORD <= len(args.password) <= MAX_PASSWORD:
            raise AdminError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        password_hash = await passwords.hash_password(args.password)
    async with pool.acquire() as conn, conn.transaction():
        existing = await users.credentials_by_email(conn, email)
        if existing is None:
            # The users trigger gives the new administrator an organisation, as for everyone.
            user = await users.insert(conn, email=email, password_hash=password_hash)
            await users.set_admin(conn, user.id, True)
            return f"created administrator {user.email} (user {user.id})"
        if password_hash is not None:
            await users.set_password(conn, existing.id, password_hash)
        if existing.is_admin:
            return f"{existing.email} (user {existing.id}) is already an administrator"
        await users.set_admin(conn, existing.id, True)
        return f"{existing.email} (user {existing.id}) is now an administrator"


async def _top_up(pool: asyncpg.Pool, args: argparse.Namespace) -> str:
    from db import clients, usage

    # usage.credit is what POST /api/admin/clients/{id}/top-ups calls: one ledger row.
    balance = await usage.credit(pool, client_id=args.client_id, seconds=args.seconds,
                                 reason="topup", note=args.note)
    if balance is None:
        raise AdminError(f"no client with id {args.client_id}")
    client = await clients.get(pool, args.client_id)
    name = client.name if client else "?"
    return f"client {args.client_id} ({name}): +{args.seconds} s, balance {balance} s"


async def _balance(pool: asyncpg.Pool, args: argparse.Namespace) -> str:
    from db import clients, usage

    client = await clients.get(pool, args.client_id)
    if client is None:
        raise AdminError(f"no client with id {args.client_id}")
    rows = await usage.ledger(pool, client.id, limit=max(0, args.rows))
    total = await usage.ledger_count(pool, client.id)
    lines = [f"client {client.id} ({client.name}, {client.phone_number}):"
             f" balance {client.balance_seconds} s"]
    if not total:
        lines.append("no ledger rows")
        return "\n".join(lines)
    lines.append(f"ledger, latest {len(rows)} of {total} (seconds: + credited, - talked):")
    for r in rows:
        # The ledger stores debits as positive seconds; an operator reads a change.
        change = f"{-r['seconds']:+d}"
        call = f" call {r['conversation_id']}" if r["conversation_id"] else ""
        note = f"  {r['note']}" if r["note"] else ""
        lines.append(f"  {r['created_at']:%Y-%m-%d %H:%M:%S%z}  {change:>9}  "
                     f"balance {r['balance_after']:>8}  {r['reason']}{call}{note}")
    return "\n".join(lines)
