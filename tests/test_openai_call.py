"""A call whose LLM is an OpenAI-compatible server reached through OPENAI_BASE_URL."""

from __future__ import annotations

import functools

import pytest

from db import tool_executions
from pipelines.providers import DefaultProviderFactory
from tests.caller import FakeCall
from tests.factories import make_client
from tests.fake_openai import fake_openai
from tests.live import live_server, server_settings
from tests.waiting import ended

pytest.importorskip("piper")
from tests.speech import synthesize_caller, to_ulaw_frames  # noqa: E402


@functools.cache
def said(text: str) -> list[bytes]:
    return to_ulaw_frames(*synthesize_caller(text))


async def test_call_through_an_openai_compatible_server(pool, pg_url, local_models):
    async with fake_openai() as llm:
        overrides = {"openai_base_url": llm.url, "openai_api_key": "sk-test-key"}
        providers = DefaultProviderFactory(server_settings(pg_url, 0, **overrides), local_models)
        async with live_server(pg_url, providers=providers, **overrides) as server:
            client = await make_client(pool, llm_model="openai/gpt-4o-mini",
                                       system_prompt="You work for a dental office.",
                                       settings={"temperature": 0.2, "max_tokens": 120})
            call = FakeCall(server.url, to=client.phone_number)
            await call.dial()
            await call.connect()
            await call.wait_for_agent()
            await call.play(said("Do you have time on Friday?"))
            await call.wait_for_agent(limit_seconds=30)
            await call.play(said("Thanks, goodbye."))
            await call.wait_closed(limit_seconds=30)
            conv = await ended(pool, call.call_sid)

    first = llm.requests[0]
    assert first["model"] == "gpt-4o-mini" and first["stream"] is True
    assert first["temperature"] == 0.2 and first["max_tokens"] == 120
    system = " ".join(str(m.get("content")) for m in first["messages"]
                      if m["role"] in ("system", "developer"))
    assert "You work for a dental office." in system and client.name in system
    assert {t["function"]["name"] for t in first["tools"]} >= {"end_call", "book_appointment"}
    assert set(llm.authorizations) == {"Bearer sk-test-key"}
    assistant = [t["content"] for t in conv.transcript if t["role"] == "assistant"]
    assert assistant[0] == "Hello, thanks for calling."
    assert any(a.startswith("Sure. You said:") and "friday" in a.lower() for a in assistant)
    assert conv.end_reason == "agent_hangup" and assistant[-1] == "Goodbye!"
    audit = await tool_executions.for_conversation(pool, conv.id)
    assert [a["tool_name"] for a in audit] == ["end_call"]
    assert conv.providers["llm"] == "openai/gpt-4o-mini" and conv.provider_fallbacks == []
