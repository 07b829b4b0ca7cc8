"""/api/clients: CRUD, validation, phone uniqueness, provider defaults, balance protection."""

from __future__ import annotations

import httpx
import pytest

from api import validation
from db import clients, usage
from tests.test_api_support import api_server, assert_error, fields, phone, register


def test_provider_names_match_the_pipeline():
    from pipelines import providers

    assert validation.LOCAL_STT == providers.LOCAL_STT
    assert validation.BUILTIN_LLM == providers.BUILTIN_LLM
    assert validation.TTS_PROVIDERS == providers.TTS_PROVIDERS
    assert validation.LOCAL_TTS_VOICE == providers.LOCAL_TTS_VOICE


async def test_create_defaults_to_local_providers_and_standard_settings(owner, pool):
    created = await owner.create_client(name="Bright Smile", phone_number="+1 (415) 555-2671",
                                        timezone="America/New_York")
    assert created["phone_number"] == "+14155552671"  # normalized to E.164
    assert created["stt_model"] == "local/whisper-tiny.en"
    assert created["llm_model"] == "builtin/receptionist"
    assert created["tts_provider"] == "local" and created["tts_voice_id"] == "en_US-joe-medium"
    assert created["balance_seconds"] == 600  # the trial: the organisation's first client
    row = await clients.get(pool, created["id"])
    assert row.owner_id == owner.id and row.timezone == "America/New_York"
    assert row.settings["max_call_duration"] == 1800 and row.settings["voice_speed"] == 1.0


async def test_create_defaults_to_cloud_where_the_server_has_keys(pool, pg_url):
    async with api_server(pg_url, deepgram_api_key="dg-test", openai_api_key="sk-test") as srv, \
            httpx.AsyncClient(base_url=srv.url) as http:
        created = await (await register(http)).create_client()
    assert created["stt_model"] == "deepgram/nova-3"
    assert created["llm_model"] == "openai/gpt-4o-mini"


async def test_list_get_update_delete(owner, pool):
    a = await owner.create_client(name="A")
    b = await owner.create_client(name="B")
    listed = await owner.get("/api/clients", params={"limit": 1, "offset": 1})
    assert listed.status_code == 200
    assert listed.json()["total"] == 2 and [c["id"] for c in listed.json()["items"]] == [b["id"]]
    assert (await owner.get(f"/api/clients/{a['id']}")).json()["name"] == "A"

    changed = await owner.patch(f"/api/clients/{a['id']}", json={
        "name": "A2", "llm_model": "openai/gpt-4o", "stt_model": "deepgram/nova-3",
        "tts_provider": "cartesia", "enabled_tools": ["end_call", "end_call"],
        "business_hours": {"sat": ["10:00", "14:00"]}, "calendar_id": None})
    assert changed.status_code == 200, changed.text
    row = await clients.get(pool, a["id"])
    assert (row.name, row.llm_model, row.stt_model, row.tts_provider) == \
        ("A2", "openai/gpt-4o", "deepgram/nova-3", "cartesia")
    assert row.enabled_tools == ["end_call"] and row.business_hours == {"sat": ["10:00", "14:00"]}

    assert (await owner.delete(f"/api/clients/{a['id']}")).status_code == 204
    assert await clients.get(pool, a["id"]) is None
    assert_error(await owner.get(f"/api/clients/{a['id']}"), 404, "not_found")


@pytest.mark.parametrize(("body", "field"), [
    ({"phone_number": "4155552671"}, "phone_number"),
    ({"phone_number": "+1555"}, "phone_number"),
    ({"phone_number": "+15557770100"}, "phone_number"),       # not a real number plan
    ({"llm_model": "anthropic/claude"}, "llm_model"),
    ({"stt_model": "local/whisper-huge"}, "stt_model"),
    ({"tts_provider": "polly"}, "tts_provider"),
    ({"enabled_tools": ["launch_rockets"]}, "enabled_tools"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"business_hours": {"mon": ["17:00", "09:00"]}}, "business_hours"),
    ({"slot_minutes": 1}, "slot_minutes"),
    ({"name": ""}, "name"),
    ({"name": "nul\x00byte"}, "name"),
    ({"initial_greeting": "x" * 201}, "initial_greeting"),
    ({"balance_seconds": 999999}, "balance_seconds"),          # not owner-writable
    ({"owner_id": 1}, "owner_id"),
])
async def test_bad_input_is_422_naming_the_field(owner, pool, body, field):
    create = await owner.post("/api/clients",
                              json={"name": "X", "phone_number": phone()} | body)
    assert field in fields(create)
    existing = await owner.create_client()
    update = await owner.patch(f"/api/clients/{existing['id']}", json=body)
    assert field in fields(update)
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               existing["id"]) == 600  # the trial, untouched


async def test_required_fields_and_nulls(owner):
    assert fields(await owner.post("/api/clients", json={})) == {"name", "phone_number"}
    created = await owner.create_client()
    assert fields(await owner.patch(f"/api/clients/{created['id']}",
                                    json={"name": None})) == {"name"}
    assert fields(await owner.get("/api/clients", params={"limit": 101})) == {"limit"}


async def test_a_phone_number_belongs_to_one_client_only(server, owner, pool):
    taken = phone()
    await owner.create_client(phone_number=taken)
    async with httpx.AsyncClient(base_url=server.url) as http:
        other = await register(http)
        clash = await other.post("/api/clients", json={"name": "Other", "phone_number": taken})
        assert_error(clash, 409, "phone_number_taken")
        mine = await other.create_client()
        moved = await other.patch(f"/api/clients/{mine['id']}", json={"phone_number": taken})
        assert_error(moved, 409, "phone_number_taken")
    assert await pool.fetchval("SELECT count(*) FROM clients WHERE phone_number = $1",
                               taken) == 1


async def test_a_client_with_a_call_in_progress_is_not_deleted(owner, pool):
    from db import conversations

    created = await owner.create_client()
    await conversations.create_pending(pool, call_sid="CA-live", client_id=created["id"],
                                       caller_phone="+14155550000", token_nonce="n")
    await conversations.activate(pool, call_sid="CA-live", client_id=created["id"],
                                 token_nonce="n", stream_sid="MZ1")
    assert_error(await owner.delete(f"/api/clients/{created['id']}"), 409, "call_in_progress")


async def test_admin_top_up_is_the_way_balance_grows(server, owner, pool):
    created = await owner.create_client()
    path = f"/api/admin/clients/{created['id']}/top-ups"
    assert_error(await owner.post(path, json={"seconds": 60}), 403, "admin_required")
    await pool.execute("UPDATE users SET is_admin = true WHERE id = $1", owner.id)
    topped = await owner.post(path, json={"seconds": 600})
    # The first client started with the 600 s trial.
    assert topped.status_code == 200 and topped.json()["balance_seconds"] == 1200
    assert (await owner.get(f"/api/clients/{created['id']}")).json()["balance_seconds"] == 1200
    assert await usage.for_conversation(pool, 0) == []
    assert [r["reason"] for r in await pool.fetch(
        "SELECT reason FROM usage_ledger WHERE client_id = $1 ORDER BY id",
        created["id"])] == ["trial", "topup"]
    assert fields(await owner.post(path, json={"seconds": 0})) == {"seconds"}
    assert_error(await owner.post("/api/admin/clients/999999/top-ups", json={"seconds": 1}), 404)
