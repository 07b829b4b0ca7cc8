"""/api/clients/{id}/settings: typed standard keys with bounds, custom keys, what the
pipeline reads."""

from __future__ import annotations

import pytest

from db import clients
from tests.test_api_support import assert_error, fields


@pytest.fixture
async def client(owner):
    return await owner.create_client(initial_greeting="Hi, Bright Smile here.")


async def test_list_shows_every_standard_key_with_bounds(owner, client):
    response = await owner.get(f"/api/clients/{client['id']}/settings")
    assert response.status_code == 200
    by_key = {s["key"]: s for s in response.json()}
    assert set(by_key) == {"greeting_message", "max_call_duration", "voice_speed", "temperature",
                           "max_tokens", "enable_transcription", "silence_timeout",
                           "sms_confirmations", "sms_reminder_hours", "owner_notifications",
                           "daily_digest", "digest_hour", "recording",
                           "recording_retention_days", "outbound_greeting",
                           "voicemail_message", "stripe_account", "payment_max_amount"}
    assert by_key["greeting_message"]["value"] == "Hi, Bright Smile here."
    assert by_key["max_call_duration"] | {"description": None} == {
        "key": "max_call_duration", "value": 1800, "standard": True, "is_default": False,
        "type": "integer", "minimum": 60, "maximum": 3600, "description": None}


async def test_put_stores_where_the_pipeline_reads(owner, client, pool):
    base = f"/api/clients/{client['id']}/settings"
    for key, value in [("max_call_duration", 600), ("voice_speed", 0.9), ("temperature", 0),
                       ("max_tokens", 200.0), ("enable_transcription", False),
                       ("silence_timeout", 5)]:
        response = await owner.put(f"{base}/{key}", json={"value": value})
        assert response.status_code == 200, response.text
        assert response.json()["value"] == value
    greeting = await owner.put(f"{base}/greeting_message", json={"value": "  Hello there!  "})
    assert greeting.json()["value"] == "Hello there!"
    row = await clients.get(pool, client["id"])
    assert row.settings["max_call_duration"] == 600      # voice/session.py reads this
    assert row.settings["voice_speed"] == 0.9            # pipelines/providers.py reads this
    assert row.settings["max_tokens"] == 200 and isinstance(row.settings["max_tokens"], int)
    assert row.settings["enable_transcription"] is False
    assert row.initial_greeting == "Hello there!"        # the greeting the agent speaks
    assert (await owner.get(f"{base}/voice_speed")).json()["value"] == 0.9


@pytest.mark.parametrize(("key", "value", "bound"), [
    ("greeting_message", "", "between 1 and 200"),
    ("greeting_message", "x" * 201, "between 1 and 200"),
    ("greeting_message", 5, "string"),
    ("max_call_duration", 59, "between 60 and 3600"),
    ("max_call_duration", 3601, "between 60 and 3600"),
    ("max_call_duration", 90.5, "whole number"),
    ("max_call_duration", "600", "between 60 and 3600"),
    ("voice_speed", 0.49, "between 0.5 and 1.2"),
    ("voice_speed", 1.21, "between 0.5 and 1.2"),
    ("voice_speed", True, "between 0.5 and 1.2"),
    ("temperature", 2.5, "between 0 and 2"),
    ("temperature", -0.1, "between 0 and 2"),
    ("max_tokens", 49, "between 50 and 1000"),
    ("max_tokens", 1001, "between 50 and 1000"),
    ("enable_transcription", "yes", "true or false"),
    ("enable_transcription", 1, "true or false"),
    ("silence_timeout", 0, "between 2 and 60"),
    ("silence_timeout", None, "between 2 and 60"),
])
async def test_out_of_range_is_400_naming_key_and_bound(owner, client, pool, key, value, bound):
    response = await owner.put(f"/api/clients/{client['id']}/settings/{key}",
                               json={"value": value})
    body = assert_error(response, 400, "invalid_setting")
    assert body["detail"].startswith(f"{key}:") and bound in body["detail"]
    row = await clients.get(pool, client["id"])
    assert row.settings.get("max_call_duration") == 1800
    assert row.initial_greeting == "Hi, Bright Smile here."


async def test_custom_keys_take_any_json_and_can_be_removed(owner, client, pool):
    base = f"/api/clients/{client['id']}/settings"
    value = {"parking": ["street", "garage"], "valet": None, "floors": 3}
    assert (await owner.put(f"{base}/office_info", json={"value": value})).status_code == 200
    got = await owner.get(f"{base}/office_info")
    assert got.json() == {"key": "office_info", "value": value, "standard": False,
                          "is_default": False, "type": None, "minimum": None, "maximum": None,
                          "description": None}
    assert "office_info" in {s["key"] for s in (await owner.get(base)).json()}
    assert (await owner.delete(f"{base}/office_info")).status_code == 204
    assert "office_info" not in (await clients.get(pool, client["id"])).settings
    assert_error(await owner.get(f"{base}/office_info"), 404)
    assert_error(await owner.delete(f"{base}/office_info"), 404)


async def test_deleting_a_standard_key_resets_it(owner, client, pool):
    base = f"/api/clients/{client['id']}/settings"
    await owner.put(f"{base}/voice_speed", json={"value": 0.6})
    assert (await owner.delete(f"{base}/voice_speed")).status_code == 204
    assert (await clients.get(pool, client["id"])).settings["voice_speed"] == 1.0
    assert_error(await owner.delete(f"{base}/greeting_message"), 400, "invalid_setting")


async def test_bad_keys_and_bodies(owner, client):
    base = f"/api/clients/{client['id']}/settings"
    assert fields(await owner.put(f"{base}/Bad-Key", json={"value": 1})) == {"key"}
    assert fields(await owner.put(f"{base}/fine", json={})) == {"value"}
    big = await owner.put(f"{base}/big", json={"value": "x" * 9000})
    assert_error(big, 400, "invalid_setting")
    nul = await owner.put(f"{base}/nul", json={"value": {"a": "b\x00"}})
    assert_error(nul, 400, "invalid_setting")
