"""Driving the receptionist engine the way a call does: OpenAI-format context messages,
with each tool call answered in the context before the engine moves again."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.receptionist.engine import Action, ClientFacts, ReceptionistEngine, ToolCall

TZ = "America/New_York"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(TZ))  # Wednesday
GREETING = "Thank you for calling Bright Smile Dental. How can I help you today?"
HOURS = {d: ["09:00", "17:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": ["09:00", "13:00"]}
ENGINE = ReceptionistEngine(ClientFacts("Bright Smile Dental", TZ, GREETING,
                                        business_hours=HOURS, phone_number="+12125550123"))


class EngineTalk:
    """The context as Pipecat's aggregators build it; `answer` gives each tool's result."""

    def __init__(self, *, tools: Collection[str] | None = None, greet: bool = True) -> None:
        self.tools = tools
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": "Be helpful."}]
        self.tool_calls: list[ToolCall] = []
        self.said: list[str] = []
        if greet:
            self.bot()

    def answer(self, call: ToolCall) -> str:
        """The tool result the engine reads back, as JSON text."""
        return json.dumps({"ok": True})

    def bot(self) -> Action | None:
        """Run the engine until it speaks without calling a tool; the last action."""
        action = None
        for _ in range(5):
            action = ENGINE.next_action(self.messages, NOW, self.tools)
            if action is None:
                return None
            if action.say:
                self.said.append(action.say)
                self.messages.append({"role": "assistant", "content": action.say})
            if action.tool_call is None:
                return action
            call = action.tool_call
            self.tool_calls.append(call)
            call_id = f"call_{len(self.tool_calls)}"
            self.messages.append({"role": "assistant", "tool_calls": [{
                "id": call_id, "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]})
            self.messages.append({"role": "tool", "tool_call_id": call_id,
                                  "content": self.answer(call)})
            if call.name == "end_call":
                return action
        raise AssertionError("the engine kept calling tools")

    def caller(self, text: str) -> Action | None:
        self.messages.append({"role": "user", "content": text})
        return self.bot()
