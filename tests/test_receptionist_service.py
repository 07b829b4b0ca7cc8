"""ReceptionistLLMService inside a real Pipecat pipeline, with canned calendar tools."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    EndFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMMessagesAppendFrame,
    LLMRunFrame,
    LLMTextFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.services.llm_service import FunctionCallParams
from pipecat.tests.utils import run_test
from pipecat.workers.runner import WorkerRunner

from pipelines.receptionist import replies
from pipelines.receptionist.service import (
    MODEL_NAME,
    ReceptionistLLMService,
    create_receptionist_llm,
    offered_tools,
    sentences,
)
from tests.engine_talk import GREETING, NOW, TZ

SLOTS = ["09:00", "09:30", "10:00", "14:00", "15:00", "15:30", "16:00"]
WAIT = 10  # seconds: a safety net against hangs, not a timing assertion

TOOLS = ToolsSchema(standard_tools=[
    FunctionSchema(name="get_available_slots", description="Free slots on one day.",
                   properties={"date": {"type": "string"}}, required=["date"]),
    FunctionSchema(name="book_appointment", description="Book a slot.",
                   properties={"date": {"type": "string"}, "time": {"type": "string"},
                               "name": {"type": "string"}},
                   required=["date", "time", "name"]),
    FunctionSchema(name="end_call", description="Hang up.", properties={}, required=[]),
])
WITH_TRANSFER = ToolsSchema(standard_tools=[
    *TOOLS.standard_tools,
    FunctionSchema(name="transfer_call", description="Transfer to a person.", properties={},
                   required=[]),
])
PUT_THROUGH = {"transferring": True, "to": "+12125550199"}


class FakeCalendar:
    """Registered as the tool handlers; records every call."""

    def __init__(self, *, taken: set[str] | None = None,
                 transfer: dict[str, Any] | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.taken = taken or set()
        self.transfer = transfer or PUT_THROUGH
        self.hung_up = asyncio.Event()

    async def get_available_slots(self, params: FunctionCallParams) -> None:
        self.calls.append(("get_available_slots", dict(params.arguments)))
        await params.result_callback({"date": params.arguments["date"], "weekday": "Thursday",
                                      "slots": SLOTS})

    async def book_appointment(self, params: FunctionCallParams) -> None:
        args = dict(params.arguments)
        self.calls.append(("book_appointment", args))
        if args["time"] in self.taken:
            await params.result_callback({
                "booked": False, "reason": "slot_taken", "date": args["date"],
                "time": args["time"], "alternatives": [{"date": args["date"], "time": "15:30"}]})
        else:
            await params.result_callback({"booked": True, "appointment_id": 42, **args})

    async def end_call(self, params: FunctionCallParams) -> None:
        self.calls.append(("end_call", dict(params.arguments)))
        self.hung_up.set()
        await params.result_callback({"ok": True})

    async def transfer_call(self, params: FunctionCallParams) -> None:
        self.calls.append(("transfer_call", dict(params.arguments)))
        await params.result_callback(self.transfer)

    def register(self, llm: ReceptionistLLMService) -> None:
        llm.register_function("get_available_slots", self.get_available_slots)
        llm.register_function("book_appointment", self.book_appointment)
        llm.register_function("end_call", self.end_call)
        llm.register_function("transfer_call", self.transfer_call)


class Call:
    """A running pipeline: user aggregator → receptionist → assistant aggregator."""

    def __init__(self, calendar: FakeCalendar, tools: ToolsSchema = TOOLS) -> None:
        self.context = LLMContext(tools=tools)
        self.aggregators = LLMContextAggregatorPair(self.context)
        self.llm = create_receptionist_llm(business_name="Bright Smile Dental", timezone=TZ,
                                           initial_greeting=GREETING, now=lambda: NOW)
        calendar.register(self.llm)
        self.worker = PipelineWorker(
            Pipeline([self.aggregators.user(), self.llm, self.aggregators.assistant()]),
            enable_rtvi=False, enable_turn_tracking=False, cancel_on_idle_timeout=False)
        self.said: asyncio.Queue[str] = asyncio.Queue()
        self._started = asyncio.Event()

        @self.aggregators.assistant().event_handler("on_assistant_turn_stopped")
        async def _spoken(_aggregator: Any, message: Any) -> None:
            if message.content:  # a turn that only called a tool says nothing
                self.said.put_nowait(message.content)

        @self.worker.event_handler("on_pipeline_started")
        async def _started(_worker: Any, _frame: Any) -> None:
            self._started.set()

    async def __aenter__(self) -> Call:
        self._runner = asyncio.create_task(self._run())
        await asyncio.wait_for(self._started.wait(), WAIT)
        return self

    async def _run(self) -> None:
        runner = WorkerRunner(handle_sigint=False)
        await runner.add_workers(self.worker)
        await runner.run()

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.queue_frame(EndFrame())
        await asyncio.wait_for(self._runner, WAIT)

    async def start(self) -> str:
        await self.worker.queue_frame(LLMRunFrame())  # what the pipeline does on connect
        return await self.reply()

    async def caller_says(self, text: str) -> str:
        await self.worker.queue_frame(LLMMessagesAppendFrame(
            messages=[{"role": "user", "content": text}], run_llm=True))
        return await self.reply()

    async def reply(self) -> str:
        return await asyncio.wait_for(self.said.get(), WAIT)


async def test_booking_call_end_to_end_through_registered_handlers():
    calendar = FakeCalendar()
    async with Call(calendar) as call:
        assert await call.start() == GREETING
        assert await call.caller_says("Hi, I'd like to book an appointment tomorrow at 3") == (
            "3 PM on Thursday, November 26 is available. Can I have your name, please?")
        assert "Shall I book it?" in await call.caller_says("My name is Ana Lopez")
        assert calendar.calls == [("get_available_slots", {"date": "2026-11-26"})]

        readback = await call.caller_says("Yes, please")
        assert readback.startswith("You're booked for Thursday, November 26 at 3 PM, Ana.")
        assert calendar.calls[-1] == (
            "book_appointment", {"date": "2026-11-26", "time": "15:00", "name": "Ana Lopez"})

        goodbye = await call.caller_says("No, that's all, thanks")
        assert "Goodbye" in goodbye
        await asyncio.wait_for(calendar.hung_up.wait(), WAIT)
        assert calendar.calls[-1] == ("end_call", {})

    # The tool traffic went through the context exactly as an LLM's would.
    messages = call.context.get_messages()
    tool_names = [c["function"]["name"] for m in messages for c in m.get("tool_calls") or []]
    assert tool_names == ["get_available_slots", "book_appointment", "end_call"]
    results = [m for m in messages if m.get("role") == "tool"]
    assert '"booked": true' in results[1]["content"]


async def test_slot_taken_offers_the_alternative_and_books_it():
    calendar = FakeCalendar(taken={"15:00"})
    async with Call(calendar) as call:
        await call.start()
        await call.caller_says("Can I come in tomorrow at 3? This is Dr. Smith.")
        sorry = await call.caller_says("Yes")
        assert sorry == "Sorry, 3 PM was just taken. I can do 3:30 PM. Would that work?"
        assert "3:30 PM" in await call.caller_says("Sure, that works")
        booked = await call.caller_says("Yes")
        assert booked.startswith("You're booked for Thursday, November 26 at 3:30 PM, Dr. Smith.")
    assert [c for c in calendar.calls if c[0] == "book_appointment"] == [
        ("book_appointment", {"date": "2026-11-26", "time": "15:00", "name": "Dr. Smith"}),
        ("book_appointment", {"date": "2026-11-26", "time": "15:30", "name": "Dr. Smith"}),
    ]


async def test_initial_run_greets_and_streams_sentences():
    llm = ReceptionistLLMService(business_name="Bright Smile Dental", timezone=TZ,
                                 now=lambda: NOW)
    context = LLMContext(messages=[{"role": "system", "content": "You are a receptionist."}])
    from pipecat.frames.frames import LLMContextFrame

    down, _ = await run_test(llm, frames_to_send=[LLMContextFrame(context=context)])
    kinds = [type(f) for f in down if isinstance(
        f, LLMFullResponseStartFrame | LLMTextFrame | LLMFullResponseEndFrame)]
    assert kinds == [LLMFullResponseStartFrame, LLMTextFrame, LLMTextFrame,
                     LLMFullResponseEndFrame]
    text = "".join(f.text for f in down if isinstance(f, LLMTextFrame))
    assert text == "Thank you for calling Bright Smile Dental. How can I help you today?"


async def test_run_inference_and_settings():
    llm = create_receptionist_llm(business_name="Acme", timezone=TZ, initial_greeting="Acme, hi.",
                                  now=lambda: NOW)
    assert llm.settings.model == MODEL_NAME
    assert await llm.run_inference(LLMContext()) == "Acme, hi."


@pytest.mark.parametrize(("text", "expected"), [
    ("One. Two?", ["One. ", "Two?"]),
    ("Let me confirm: Friday at 3 PM, for Dr. Smith. Shall I book it?",
     ["Let me confirm: Friday at 3 PM, for Dr. Smith. ", "Shall I book it?"]),
    ("", []),
])
def test_sentences(text: str, expected: list[str]):
    assert sentences(text) == expected


@pytest.mark.parametrize(("result", "reply"), [
    (PUT_THROUGH, "Sure, I'm transferring you now. Please hold."),
    ({"transferring": False, "reason": "no transfer number configured"}, replies.TRANSFER_FAILED),
    ({"error": "unknown tool: transfer_call"}, replies.TRANSFER_FAILED),
], ids=["transferring", "refused", "error"])
async def test_transfer_goes_through_the_registered_handler(result: dict[str, Any], reply: str):
    calendar = FakeCalendar(transfer=result)
    async with Call(calendar, WITH_TRANSFER) as call:
        await call.start()
        assert await call.caller_says("Can I speak to someone at the front desk?") == reply
    assert calendar.calls == [("transfer_call", {})]
    tool_names = [c["function"]["name"] for m in call.context.get_messages()
                  for c in m.get("tool_calls") or []]
    assert tool_names == ["transfer_call"]


async def test_transfer_is_not_called_when_the_context_does_not_offer_it():
    calendar = FakeCalendar()
    async with Call(calendar) as call:
        await call.start()
        assert await call.caller_says("Can I speak to a real person?") == (
            replies.REFUSALS_NO_MESSAGE["human"])
    assert calendar.calls == []


async def test_key_presses_in_the_context_get_a_prompt_to_speak():
    calendar = FakeCalendar()
    async with Call(calendar, WITH_TRANSFER) as call:
        await call.start()
        assert await call.caller_says("DTMF: 123#") == (
            "Sorry, I can't use the keypad on this line. Please just tell me what you need.")
        assert await call.caller_says("DTMF: 0") == "Sure, I'm transferring you now. Please hold."
    assert calendar.calls == [("transfer_call", {})]


def test_offered_tools_are_read_from_the_context():
    assert offered_tools(LLMContext()) == frozenset()
    assert offered_tools(LLMContext(tools=TOOLS)) == {
        "get_available_slots", "book_appointment", "end_call"}
    assert "transfer_call" in offered_tools(LLMContext(tools=WITH_TRANSFER))
