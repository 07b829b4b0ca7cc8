"""An OpenAI-compatible chat-completions server on 127.0.0.1 (streamed, with tool calls).

It answers "Sure. You said: <last user text>." and, when the caller says goodbye, says
"Goodbye!" and calls end_call, as a model following our system instruction would. A test
can script tool calls: ``tool_rules`` maps a word of the caller's line to the tool (and
arguments) the model calls; the tool's result is then read back as "Done: <result JSON>".
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tests.serving import free_socket, serving


@dataclass
class FakeOpenAI:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    # word in the caller's line -> (tool name, arguments)
    tool_rules: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": "fake", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(body)}\n\n"


def _reply(messages: list[dict[str, Any]],
           rules: dict[str, tuple[str, dict[str, Any]]] | None = None) -> list[str]:
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        if str(last.get("tool_call_id", "")).startswith("call_rule"):
            return [_chunk({"role": "assistant", "content": f"Done: {last.get('content')}"}),
                    _chunk({}, "stop")]
        return [_chunk({"role": "assistant", "content": ""}, "stop")]
    text = last.get("content") if last.get("role") == "user" else ""
    if isinstance(text, list):
        text = " ".join(p.get("text", "") for p in text if isinstance(p, dict))
    for word, (name, arguments) in (rules or {}).items():
        if word in str(text).lower():
            call = {"index": 0, "id": f"call_rule_{len(messages)}", "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)}}
            return [_chunk({"role": "assistant", "content": None, "tool_calls": [call]}),
                    _chunk({}, "tool_calls")]
    if "goodbye" in str(text).lower():
        return [_chunk({"role": "assistant", "content": "Goodbye!"}),
                _chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                        "function": {"name": "end_call", "arguments": "{}"}}]}),
                _chunk({}, "tool_calls")]
    return [_chunk({"role": "assistant", "content": "Sure. "}),
            _chunk({"content": f"You said: {text}"}), _chunk({}, "stop")]


def _completion(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A non-streamed answer: to a request for a summary, one naming the caller's lines."""
    last = str(messages[-1].get("content") if messages else "")
    said = [line.removeprefix("user: ") for line in last.splitlines()
            if line.startswith("user: ")]
    text = f"LLM summary: the caller said {' / '.join(said)}." if said else "Nothing."
    return {"id": "chatcmpl-2", "object": "chat.completion", "created": int(time.time()),
            "model": "fake", "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    state = FakeOpenAI()

    async def completions(request: Request) -> StreamingResponse | JSONResponse:
        body = await request.json()
        state.requests.append(body)
        state.authorizations.append(request.headers.get("authorization", ""))
        if not body.get("stream"):
            return JSONResponse(_completion(body.get("messages", [])))

        async def events() -> AsyncIterator[str]:
            for event in _reply(body.get("messages", []), state.tool_rules):
                yield event
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    sock = free_socket()
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    async with serving(app, sock, lifespan="off"):
        yield state
