"""conversations: one row per phone call, from POST /voice to its end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.clients import in_organization
from db.pool import Executor


@dataclass(frozen=True)
class Conversation:
    id: int
    call_sid: str
    client_id: int
    contact_id: int | None
    caller_phone: str
    status: str
    stream_sid: str | None
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None
    billed_seconds: int
    end_reason: str | None
    transcript: list[dict[str, Any]]
    turn_metrics: list[dict[str, Any]]
    providers: dict[str, Any]
    provider_fallbacks: list[dict[str, Any]]
    transferred_to: str | None = None
    summary: str | None = None
    outcome: str | None = None
    recording_path: str | None = None
    direction: str = "inbound"


_COLUMNS = ", ".join(Conversation.__dataclass_fields__)


async def create_pending(db: Executor, *, call_sid: str, client_id: int, caller_phone: str,
                         token_nonce: str) -> int | None:
    """Record a call that /voice accepted. A retried webhook for a call that has not
    connected yet gets a fresh token; a call that already connected gets None."""
    return await db.fetchval(
        "INSERT INTO conversations (call_sid, client_id, caller_phone, token_nonce)"
        " VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (call_sid) DO UPDATE SET token_nonce = EXCLUDED.token_nonce"
        " WHERE conversations.status = 'pending' AND conversations.client_id = EXCLUDED.client_id"
        " RETURNING id", call_sid, client_id, caller_phone, token_nonce)


async def activate(db: Executor, *, call_sid: str, client_id: int, token_nonce: str,
                   stream_sid: str, contact_id: int | None = None) -> Conversation | None:
    """Consume the call's one-time token: pending → active. None when the token was
    already used, belongs to another call or client, or the call is unknown."""
    row = await db.fetchrow(
        "UPDATE conversations SET status = 'active', started_at = now(), stream_sid = $4,"
        " token_nonce = NULL, contact_id = $5"
        " WHERE call_sid = $1 AND client_id = $2 AND token_nonce = $3 AND status = 'pending'"
        f" RETURNING {_COLUMNS}", call_sid, client_id, token_nonce, stream_sid, contact_id)
    return Conversation(**row) if row else None


async def get(db: Executor, conversation_id: int) -> Conversation | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM conversations WHERE id = $1",
                            conversation_id)
    return Conversation(**row) if row else None


async def get_by_call_sid(db: Executor, call_sid: str) -> Conversation | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM conversations WHERE call_sid = $1",
                            call_sid)
    return Conversation(**row) if row else None


async def append_turn(db: Executor, conversation_id: int, turn: dict[str, Any]) -> None:
    await db.execute(
        "UPDATE conversations SET transcript = transcript || jsonb_build_array($2::jsonb)"
        " WHERE id = $1", conversation_id, turn)


async def append_metrics(db: Executor, conversation_id: int, metrics: dict[str, Any]) -> None:
    await db.execute(
        "UPDATE conversations SET turn_metrics = turn_metrics || jsonb_build_array($2::jsonb)"
        " WHERE id = $1", conversation_id, metrics)


async def set_providers(db: Executor, conversation_id: int, providers: dict[str, Any],
                        fallbacks: list[dict[str, Any]]) -> None:
    await db.execute(
        "UPDATE conversations SET providers = $2, provider_fallbacks = $3 WHERE id = $1",
        conversation_id, providers, fallbacks)


async def finish(db: Executor, conversation_id: int, *, end_reason: str,
                 ended_at: datetime | None = None) -> Conversation | None:
    """active → ended, once: a second call (or a racing recovery) gets None."""
    row = await db.fetchrow(
        "UPDATE conversations SET status = 'ended', ended_at = coalesce($3, now()),"
        " end_reason = $2,"
        " duration_seconds = greatest(0, extract(epoch FROM coalesce($3, now()) - started_at))"
        " WHERE id = $1 AND status = 'active'"
        f" RETURNING {_COLUMNS}", conversation_id, end_reason, ended_at)
    return Conversation(**row) if row else None


async def expire_pending(db: Executor, older_than_seconds: float) -> int:
    """Calls that /voice accepted but whose stream never connected."""
    result = await db.execute(
        "UPDATE conversations SET status = 'ended', ended_at = now(), end_reason = 'not_connected',"
        " duration_seconds = 0, token_nonce = NULL"
        " WHERE status = 'pending' AND created_at < now() - make_interval(secs => $1)",
        older_than_seconds)
    return int(result.split()[-1])


async def set_contact(db: Executor, conversation_id: int, contact_id: int) -> Conversation:
    row = await db.fetchrow(
        f"UPDATE conversations SET contact_id = $2 WHERE id = $1 RETURNING {_COLUMNS}",
        conversation_id, contact_id)
    return Conversation(**row)


async def orphaned(db: Executor, *, older_than_seconds: float) -> list[Conversation]:
    """Active calls with no live-call row: no process is running them."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM conversations c WHERE status = 'active' AND NOT EXISTS"
        " (SELECT 1 FROM active_calls a WHERE a.conversation_id = c.id)"
        " AND started_at < now() - make_interval(secs => $1)", older_than_seconds)
    return [Conversation(**r) for r in rows]


# --- the management API ----------------------------------------------------------------------
# Callers check that the client belongs to the user first; every query is scoped to it.

@dataclass(frozen=True)
class ConversationFilter:
    since: datetime | None = None        # created_at >= since
    until: datetime | None = None        # created_at < until
    end_reason: str | None = None
    status: str | None = None


_FILTER = ("client_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2)"
           " AND ($3::timestamptz IS NULL OR created_at < $3)"
           " AND ($4::text IS NULL OR end_reason = $4) AND ($5::text IS NULL OR status = $5)")


def _filter_args(client_id: int, f: ConversationFilter) -> tuple[Any, ...]:
    return client_id, f.since, f.until, f.end_reason, f.status


async def list_for_client(db: Executor, client_id: int, f: ConversationFilter, *,
                          limit: int, offset: int) -> tuple[list[Conversation], int]:
    args = _filter_args(client_id, f)
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM conversations WHERE {_FILTER}"
                          " ORDER BY created_at DESC, id DESC LIMIT $6 OFFSET $7",
                          *args, limit, offset)
    total = await db.fetchval(f"SELECT count(*) FROM conversations WHERE {_FILTER}", *args)
    return [Conversation(**r) for r in rows], total


async def get_for_client(db: Executor, client_id: int,
                         conversation_id: int) -> Conversation | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM conversations WHERE id = $1 AND client_id = $2",
        conversation_id, client_id)
    return Conversation(**row) if row else None


@dataclass(frozen=True)
class Deleted:
    recording_path: str | None


async def delete_ended_for_client(db: Executor, client_id: int,
                                  conversation_id: int) -> Deleted | None:
    """Only a finished call can be deleted: a live one is still writing its transcript."""
    row = await db.fetchrow(
        "DELETE FROM conversations WHERE id = $1 AND client_id = $2 AND status = 'ended'"
        " RETURNING recording_path", conversation_id, client_id)
    return Deleted(row["recording_path"]) if row else None


async def set_outbound(db: Executor, conversation_id: int) -> None:
    await db.execute("UPDATE conversations SET direction = 'outbound' WHERE id = $1",
                     conversation_id)


async def set_recording(db: Executor, conversation_id: int, path: str) -> None:
    await db.execute("UPDATE conversations SET recording_path = $2 WHERE id = $1",
                     conversation_id, path)


async def expired_recordings(db: Executor, *, limit: int = 500) -> list[tuple[int, str]]:
    """Ended calls whose recording is older than its client's ``recording_retention_days``
    (30 when not set)."""
    rows = await db.fetch(
        "SELECT c.id, c.recording_path FROM conversations c JOIN clients k ON k.id = c.client_id"
        " WHERE c.recording_path IS NOT NULL AND c.status = 'ended' AND c.ended_at < now()"
        " - make_interval(days => COALESCE((k.settings->>'recording_retention_days')::int, 30))"
        " ORDER BY c.ended_at LIMIT $1", limit)
    return [(r["id"], r["recording_path"]) for r in rows]


async def forget_recording(db: Executor, conversation_id: int) -> None:
    await db.execute("UPDATE conversations SET recording_path = NULL WHERE id = $1",
                     conversation_id)


async def set_transferred(db: Executor, conversation_id: int, number: str) -> None:
    await db.execute("UPDATE conversations SET transferred_to = $2 WHERE id = $1",
                     conversation_id, number)


async def expire_one(db: Executor, conversation_id: int, *, end_reason: str) -> None:
    """A call /voice accepted whose stream never connected."""
    await db.execute(
        "UPDATE conversations SET status = 'ended', ended_at = now(), end_reason = $2,"
        " duration_seconds = 0, token_nonce = NULL WHERE id = $1 AND status = 'pending'",
        conversation_id, end_reason)


# --- across an organisation's clients (the calls API) ---------------------------------------

_ORG_FILTER = (f"{in_organization(1)} AND ($2::bigint IS NULL OR c.client_id = $2)"
                 " AND ($3::timestamptz IS NULL OR c.created_at >= $3)"
                 " AND ($4::timestamptz IS NULL OR c.created_at < $4)"
                 " AND ($5::text IS NULL OR c.status = $5)")
_C_COLUMNS = ", ".join(f"c.{n}" for n in Conversation.__dataclass_fields__)


async def list_for_org(db: Executor, organization_id: int, f: ConversationFilter, *,
                       client_id: int | None, limit: int,
                       offset: int) -> tuple[list[Conversation], int]:
    args = (organization_id, client_id, f.since, f.until, f.status)
    source = "conversations c JOIN clients ON clients.id = c.client_id"
    rows = await db.fetch(f"SELECT {_C_COLUMNS} FROM {source} WHERE {_ORG_FILTER}"
                          " ORDER BY c.created_at DESC, c.id DESC LIMIT $6 OFFSET $7",
                          *args, limit, offset)
    total = await db.fetchval(f"SELECT count(*) FROM {source} WHERE {_ORG_FILTER}", *args)
    return [Conversation(**r) for r in rows], total


async def get_for_org(db: Executor, organization_id: int,
                      conversation_id: int) -> Conversation | None:
    row = await db.fetchrow(
        f"SELECT {_C_COLUMNS} FROM conversations c JOIN clients ON clients.id = c.client_id"
        f" WHERE c.id = $2 AND {in_organization(1)}", organization_id, conversation_id)
    return Conversation(**row) if row else None
