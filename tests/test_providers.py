"""Which services a client's call gets, and what is recorded when a provider falls back."""

from __future__ import annotations

import dataclasses

import pytest

from db.clients import Client
from frontdesk.settings import Settings
from pipelines.providers import DefaultProviderFactory, ProviderUnavailable

BASE = Client(id=1, owner_id=1, name="Dental", phone_number="+15557770100", calendar_id=None,
              system_prompt="", initial_greeting="Hi", llm_model="builtin/receptionist",
              stt_model="local/whisper-tiny.en", tts_provider="local",
              tts_voice_id="en_US-joe-medium", enabled_tools=[], balance_seconds=60,
              is_active=True, timezone="UTC", business_hours={}, slot_minutes=30)


def client(**changes) -> Client:
    return dataclasses.replace(BASE, **changes)


def settings(**env: str) -> Settings:
    return Settings.from_env(env)


def test_cloud_providers_without_keys_fall_back_to_local_and_say_why(local_models):
    factory = DefaultProviderFactory(settings(), local_models)
    plan = factory.plan(client(stt_model="deepgram/nova-3", llm_model="openai/gpt-4o-mini",
                               tts_provider="cartesia", tts_voice_id="a-cartesia-voice"))
    assert plan.used() == {"stt": "local/whisper-tiny.en", "llm": "builtin/receptionist",
                           "tts": "local", "tts_voice": "en_US-joe-medium"}
    assert [(f["kind"], f["requested"], f["reason"]) for f in plan.fallbacks] == [
        ("stt", "deepgram/nova-3", "DEEPGRAM_API_KEY is not set"),
        ("llm", "openai/gpt-4o-mini", "OPENAI_API_KEY is not set"),
        ("tts", "cartesia", "CARTESIA_API_KEY is not set"),
    ]


def test_configured_cloud_providers_are_used_and_built(local_models):
    factory = DefaultProviderFactory(settings(
        DEEPGRAM_API_KEY="dg", OPENAI_API_KEY="sk", ELEVENLABS_API_KEY="el"), local_models)
    c = client(stt_model="deepgram/nova-3", llm_model="openai/gpt-4o-mini",
               tts_provider="elevenlabs", tts_voice_id="voice-1")
    plan = factory.plan(c)
    assert plan.fallbacks == []
    services = factory.build(plan, c, call_sid="CA1")
    assert [type(s).__name__ for s in (services.stt, services.llm, services.tts)] == [
        "DeepgramSTTService", "OpenAILLMService", "ElevenLabsTTSService"]


def test_an_openai_compatible_server_needs_no_api_key(local_models):
    factory = DefaultProviderFactory(settings(OPENAI_BASE_URL="http://127.0.0.1:9/v1"),
                                     local_models)
    assert factory.plan(client(llm_model="openai/llama3")).llm == "openai/llama3"


@pytest.mark.parametrize(("field", "value"), [
    ("stt_model", "whisper"), ("llm_model", "gpt-4"), ("tts_provider", "polly")])
def test_unknown_provider_names_are_refused_with_the_field(local_models, field, value):
    with pytest.raises(ProviderUnavailable, match=field):
        DefaultProviderFactory(settings(), local_models).plan(client(**{field: value}))


def test_local_providers_without_the_models_are_a_clear_error():
    with pytest.raises(ProviderUnavailable, match=r"frontdesk\[local\]"):
        DefaultProviderFactory(settings(), None).plan(client())
    # A client entirely on cloud providers does not need them.
    factory = DefaultProviderFactory(settings(DEEPGRAM_API_KEY="dg", OPENAI_API_KEY="sk",
                                              CARTESIA_API_KEY="ca"), None)
    assert factory.plan(client(stt_model="deepgram/nova-3", llm_model="openai/gpt-4o",
                               tts_provider="cartesia")).tts == "cartesia"
