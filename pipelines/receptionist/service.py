"""``ReceptionistLLMService``: the receptionist engine behind Pipecat's LLM interface.

It sits where an LLM sits and behaves like one: on each ``LLMContextFrame`` it
reads the context, streams its reply as ``LLMTextFrame``s between
``LLMFullResponseStartFrame`` and ``LLMFullResponseEndFrame``, and makes tool
calls through ``run_function_calls``, the same path an LLM's tool calls take.
Handlers registered with ``register_function`` run, their results land in the
context as tool messages, and the assistant aggregator runs it again, so
swapping it for a real LLM changes nothing else in the pipeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from loguru import logger
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings
from pipecat.utils.errors import ErrorCategory

from pipelines.receptionist import replies
from pipelines.receptionist.engine import Action, ClientFacts, ReceptionistEngine
from pipelines.receptionist.replies import sentences
from pipelines.receptionist.when import warm_up

MODEL_NAME = "builtin/receptionist"
_FALLBACK = f"{replies.DIDNT_CATCH} {replies.SAY_AGAIN}"


def offered_tools(context: LLMContext) -> frozenset[str]:
    """Names of the function tools the context offers (none when it offers no tools)."""
    tools = context.tools
    if isinstance(tools, ToolsSchema):
        return frozenset(t.name for t in tools.standard_tools)
    return frozenset()


class ReceptionistLLMService(LLMService):
    """A deterministic receptionist that books appointments through the calendar tools.

    Tools it calls: ``get_available_slots(date)``, ``book_appointment(date, time, name)``,
    ``end_call()`` (after saying goodbye in the same response) and, only when the context
    offers it, ``transfer_call()``.
    """

    def __init__(
        self,
        *,
        business_name: str,
        timezone: str,
        initial_greeting: str | None = None,
        business_hours: Mapping[str, Sequence[str]] | None = None,
        phone_number: str | None = None,
        now: Callable[[], datetime] | None = None,
        **kwargs,
    ):
        """Create the service for one client.

        Args:
            business_name: Spoken in the default greeting and in goodbyes.
            timezone: The client's IANA time zone; "tomorrow" is read in it.
            initial_greeting: First thing said on a call; a default when empty.
            business_hours: Opening hours ("mon": ["09:00", "17:00"]), for hours questions.
            phone_number: The business's number, for callers who ask for it.
            now: Returns the current time (tests freeze it); defaults to the clock.
            **kwargs: Passed to ``LLMService`` (e.g. ``function_call_timeout_secs``).
        """
        settings = LLMSettings(
            model=MODEL_NAME, system_instruction=None, temperature=None, max_tokens=None,
            top_p=None, top_k=None, frequency_penalty=None, presence_penalty=None, seed=None,
            filter_incomplete_user_turns=False, user_turn_completion_config=None)
        super().__init__(settings=settings, **kwargs)
        self._engine = ReceptionistEngine(ClientFacts(
            business_name=business_name, timezone=timezone, initial_greeting=initial_greeting,
            business_hours=business_hours, phone_number=phone_number))
        zone = ZoneInfo(timezone)
        self._now = now or (lambda: datetime.now(zone))

    def can_generate_metrics(self) -> bool:
        return True

    def decide(self, context: LLMContext) -> Action | None:
        """The engine's next action for `context` (no frames are pushed)."""
        return self._engine.next_action(context.get_messages(), self._now(),
                                        offered_tools(context))

    async def run_inference(self, context: LLMContext, max_tokens: int | None = None,
                            system_instruction: str | None = None,
                            response_schema: dict | None = None) -> str | None:
        """One-shot text reply for `context`; tool calls are not made out of band."""
        action = self.decide(context)
        return action.say if action and action.say else None

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._respond(frame.context)
        else:
            await self.push_frame(frame, direction)

    async def _respond(self, context: LLMContext) -> None:
        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        try:
            await self.start_ttfb_metrics()
            try:
                action = self.decide(context)
            except Exception as e:  # a bug in the rules must not leave the caller in silence
                logger.exception(f"{self}: receptionist engine failed")
                await self.push_error(error_msg=f"Receptionist engine error: {e}", exception=e,
                                      category=ErrorCategory.APPLICATION)
                action = Action(say=_FALLBACK)
            await self.stop_ttfb_metrics()
            if action is None:
                return
            for sentence in sentences(action.say):
                await self._push_llm_text(sentence)
            if action.tool_call is not None:
                await self.run_function_calls([FunctionCallFromLLM(
                    function_name=action.tool_call.name,
                    tool_call_id=f"call_{uuid.uuid4().hex[:24]}",
                    arguments=dict(action.tool_call.arguments),
                    context=context,
                )])
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())


def create_receptionist_llm(
    *,
    business_name: str,
    timezone: str,
    initial_greeting: str | None = None,
    business_hours: Mapping[str, Sequence[str]] | None = None,
    phone_number: str | None = None,
    now: Callable[[], datetime] | None = None,
    **kwargs,
) -> ReceptionistLLMService:
    """The offline default LLM (``llm_model = "builtin/receptionist"``) for one call."""
    warm_up()  # dateparser's data loads once per process, not on a caller's first turn
    return ReceptionistLLMService(business_name=business_name, timezone=timezone,
                                  initial_greeting=initial_greeting,
                                  business_hours=business_hours, phone_number=phone_number,
                                  now=now, **kwargs)
