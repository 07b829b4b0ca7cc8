"""Active calls come from the shared table: scoped to the owner, stale processes left out."""

from __future__ import annotations

import uuid

import httpx
import pytest

from api.auth import issue_access_token
from db import active_calls, conversations, processes
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders


async def open_call(pool, client, call_sid: str, process_id: uuid.UUID) -> None:
    conv_id = await conversations.create_pending(pool, call_sid=call_sid, client_id=client.id,
                                                 caller_phone="+15005550006", token_nonce="n")
    await active_calls.insert(pool, call_sid=call_sid, conversation_id=conv_id,
                              client_id=client.id, owner_id=client.owner_id,
                              caller_phone="+15005550006", process_id=process_id)


@pytest.fixture
async def server(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as srv:
        yield srv


async def get(server, pool, user_id: int | None, token: str | None = None) -> httpx.Response:
    if token is None and user_id is not None:
        secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'jwt'")
        token = issue_access_token(secret, user_id)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as http:
        return await http.get(f"{server.url}/api/active-calls", headers=headers)


async def test_owner_sees_only_their_fresh_calls_in_the_frontdesk_shape(server, pool):
    mine = await make_client(pool)
    theirs = await make_client(pool)
    process = uuid.uuid4()
    await processes.register(pool, process_id=process, hostname="elsewhere", pid=1)
    await open_call(pool, mine, "CAmine", process)
    await open_call(pool, theirs, "CAtheirs", process)
    await open_call(pool, mine, "CAstale", process)
    await pool.execute("UPDATE active_calls SET heartbeat_at = now() - interval '1 hour'"
                       " WHERE call_sid = 'CAstale'")

    response = await get(server, pool, mine.owner_id)
    assert response.status_code == 200
    body = response.json()
    assert [c["call_id"] for c in body] == ["CAmine"]
    assert set(body[0]) == {"call_id", "client_id", "client_name", "caller_phone", "start_time",
                            "owner_user_id"}
    assert body[0]["client_id"] == mine.id and body[0]["owner_user_id"] == mine.owner_id


@pytest.mark.parametrize("token", [None, "not-a-jwt"])
async def test_active_calls_need_a_valid_token(server, pool, token):
    response = await get(server, pool, None, token=token)
    assert response.status_code == 401
    body = response.json()
    assert body["error_code"] == "unauthorized" and body["correlation_id"]
    assert response.headers["x-correlation-id"] == body["correlation_id"]


async def test_a_token_signed_with_another_key_is_refused(server, pool):
    client = await make_client(pool)
    forged = issue_access_token("another-server-key-0123456789abcdef", client.owner_id)
    response = await get(server, pool, None, token=forged)
    assert response.status_code == 401
