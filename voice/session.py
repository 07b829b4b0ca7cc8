"""CallSession: everything about one live call, from the verified stream to its final row."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from pipecat.frames.frames import EndFrame, TTSSpeakFrame
from pipecat.utils.time import time_now_iso8601
from pipecat.workers.runner import WorkerRunner
from starlette.websockets import WebSocket
from twilio.twiml.voice_response import VoiceResponse

from db import active_calls, call_events, clients, conversations, outbound_calls, usage
from db.clients import Client
from db.conversations import Conversation
from events import call_summary
from frontdesk.settings import Settings
from pipelines.inbound import CallOptions, CallPipeline, TwilioLink, build_inbound
from pipelines.metrics import BARGE_IN, CLEARS, TURN_LATENCY
from pipelines.playback import Playback
from pipelines.providers import ProviderFactory, ProviderPlan
from tools.context import ToolContext
from voice.call_audio import CallAudioRecorder
from voice.meter import TalkTimeMeter
from voice.metrics import CALLS_ENDED
from voice.recorder import InboundRecorder, recording_path
from voice.twilio_rest import TwilioRest

log = logging.getLogger("frontdesk.call")

GOODBYES = {
    "balance_exhausted": "I'm sorry, this line has run out of call time. Goodbye.",
    "max_duration": "We've reached the time limit for this call. Thank you for calling. Goodbye.",
    "server_shutdown": "I'm sorry, I have to end this call now. Please call back. Goodbye.",
    "silence": "I haven't heard anything, so I'll hang up now. Goodbye.",
    "operator_ended": "I have to end our call now. Thank you for calling. Goodbye.",
}
# Said when the agent's own goodbye was cut off: the caller spoke again in the instant
# between the end of their turn and the goodbye, before the ending muted them.
AGENT_GOODBYE = "Thank you for calling. Goodbye."
STILL_THERE = "Are you still there?"
TRANSFERRING = "Please hold while I transfer you."
NO_TRANSFER = "Sorry, I can't transfer you right now."
# Client settings a client has not set.
DEFAULT_SILENCE_TIMEOUT = 10.0
DEFAULT_MAX_CALL_DURATION = 1800.0
# After the agent asked to hang up or transfer: how long its last words may take to start
# and finish before the call goes ahead anyway.
AFTER_SPEECH_FALLBACK_SECONDS = 10.0
# How long to wait for Twilio to confirm (marks) that the last words have played.
PLAYBACK_WAIT_SECONDS = 5.0
# How long an ending pipeline may take before it is cancelled.
END_GRACE_SECONDS = 10.0
# A clear this soon after the caller's turn started is that turn barging in (later ones are
# other resets: an operator's goodbye, a transfer).
BARGE_IN_WINDOW_SECONDS = 2.0


@dataclass(frozen=True)
class CallIdentity:
    call_sid: str
    stream_sid: str
    conversation: Conversation
    client: Client
    plan: ProviderPlan
    activated_at: float = 0.0   # time.monotonic() when the call's talk time started
    prepaid_seconds: int = 0    # the first tick, debited at activation


class CallSession:
    """Owns one call's pipeline, metering, turn writes, hang-up and finalization.

    Implements pipelines.call_hooks.CallHooks and tools.context.CallControl.
    """

    def __init__(self, identity: CallIdentity, *, settings: Settings, pool: asyncpg.Pool,
                 providers: ProviderFactory, twilio: TwilioRest) -> None:
        # Identity: fixed for the life of the call
        self.id = identity
        self.call_sid = identity.call_sid
        self.conversation_id = identity.conversation.id
        self.client = identity.client
        # Borrowed from the app: never closed here
        self._settings = settings
        self._pool = pool
        self._providers = providers
        self._twilio = twilio
        # Per call, mutable
        self.end_reason: str | None = None
        self.playback = Playback()
        self._started = identity.activated_at or time.monotonic()
        self.meter = TalkTimeMeter(pool, client_id=self.client.id,
                                   conversation_id=self.conversation_id,
                                   tick_seconds=settings.meter_tick_seconds,
                                   started_at=self._started,
                                   prepaid_seconds=identity.prepaid_seconds)
        self._pipeline: CallPipeline | None = None
        self._ending = False            # a goodbye, hang-up or transfer is under way
        self._after_speech: tuple[str, str] | None = None   # ("hangup", reason) | ("transfer", to)
        self._goodbye_said_again = False
        self._idle_prompts = 0
        self._turn_started_at: float | None = None
        # The greeting is the first assistant turn, stored even when the caller cut it off
        # before a word of it was spoken (then with no content).
        self._greeting_stored = False
        self._greeting_at = ""
        # An owner may switch transcripts off; usage, metrics and the audit are kept.
        self._keep_transcript = self.client.settings.get("enable_transcription", True) is not False
        self._recorder: InboundRecorder | None = None
        self._audio: CallAudioRecorder | None = None
        self._greeting = self.client.initial_greeting   # an outbound call may bring its own
        self._finalized = False
        self._writes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.log = logging.LoggerAdapter(log, {"call_sid": self.call_sid})

    # -- running --------------------------------------------------------------------------

    async def run(self, ws: WebSocket) -> None:
        """Build and run the pipeline; finalize on every way out."""
        try:
            if self.client.settings.get("recording") is True:
                self._recorder = await asyncio.to_thread(
                    InboundRecorder.open, self._settings.frontdesk_home, client_id=self.client.id,
                    call_sid=self.call_sid, stream_sid=self.id.stream_sid,
                    to=self.client.phone_number, caller=self.id.conversation.caller_phone,
                    account_sid=self._settings.twilio_account_sid or "")
                self._audio = await asyncio.to_thread(CallAudioRecorder, recording_path(
                    self._settings.frontdesk_home, self.client.id, self.call_sid, ".wav"))
                await conversations.set_recording(self._pool, self.conversation_id,
                                                  str(self._audio.path))
            if self.id.conversation.direction == "outbound":
                placed = await outbound_calls.by_call_sid(self._pool, self.call_sid)
                if placed is not None and placed.greeting:
                    self._greeting = placed.greeting
            self._pipeline = self._build(ws)
            self._spawn(self._write_loop())
            self._spawn(self.meter.run(self._out_of_talk_time))
            self._spawn(self._watch_stream())
            max_duration = self.client.settings.get("max_call_duration",
                                                    DEFAULT_MAX_CALL_DURATION)
            self._spawn(self._end_after(float(max_duration), "max_duration"))
            runner = WorkerRunner(handle_sigint=False, force_gc=True)
            self._greeting_at = time_now_iso8601()   # queued as the stream connects
            await runner.add_workers(self._pipeline.worker)
            await runner.run()
            if self.end_reason is None:
                self.end_reason = "completed"
        except asyncio.CancelledError:
            self.end_reason = self.end_reason or "server_shutdown"
            raise
        except Exception:
            self.log.exception("call %s failed", self.call_sid)
            self.end_reason = self.end_reason or "error"
        finally:
            await asyncio.shield(self.finalize())

    def _build(self, ws: WebSocket) -> CallPipeline:
        services = self._providers.build(self.id.plan, self.client, call_sid=self.call_sid)
        tool_ctx = ToolContext(pool=self._pool, client=self.client,
                               conversation_id=self.conversation_id,
                               caller_phone=self.id.conversation.caller_phone,
                               contact_id=self.id.conversation.contact_id, call=self,
                               settings=self._settings)
        settings = self.client.settings
        options = CallOptions(
            greeting=self._greeting,
            silence_timeout=float(settings.get("silence_timeout", DEFAULT_SILENCE_TIMEOUT)),
            operator_digit=str(settings.get("transfer_digit", "0")) if self._transfer_number()
            else None,
            send_timeout=self._settings.ws_send_timeout_seconds, recorder=self._recorder,
            audio=self._audio)
        return build_inbound(ws=ws, link=TwilioLink(self.id.stream_sid, self.call_sid),
                             services=services, hooks=self, tool_ctx=tool_ctx,
                             playback=self.playback, options=options)

    def _transfer_number(self) -> str | None:
        number = self.client.settings.get("transfer_number")
        return number if isinstance(number, str) and number.startswith("+") else None

    async def _say(self, text: str) -> None:
        if self._pipeline is not None:
            await self._pipeline.worker.queue_frames([TTSSpeakFrame(text)])

    # -- CallControl (the agent's tools) --------------------------------------------------

    async def end_call(self, reason: str) -> None:
        """Hang up once the agent's reply in progress has been heard."""
        if self._ending:
            return
        self._ending = True
        self.end_reason = self.end_reason or reason
        self._after(("hangup", reason))

    async def transfer_call(self) -> dict[str, Any]:
        number = self._transfer_number()
        if number is None:
            return {"transferring": False, "reason": "no transfer number is set for this line"}
        if not self._twilio.configured:
            return {"transferring": False, "reason": "transfers are not available right now"}
        if self._ending:
            return {"transferring": False, "reason": "the call is ending"}
        self._ending = True
        self._after(("transfer", number))
        return {"transferring": True, "to": number}

    # -- operator actions (the calls API, through voice/call_control.py) -------------------

    async def operator_end(self) -> None:
        await self.end_with_goodbye("operator_ended")

    async def operator_transfer(self, number: str) -> bool:
        """Tell the caller, then hand the call to ``number``; False when it cannot be."""
        if self._ending or self._pipeline is None or not self._twilio.configured:
            self.log.warning("call %s: operator transfer refused (%s)", self.call_sid,
                             "ending" if self._ending else "no Twilio REST credentials")
            return False
        self._ending = True
        self._after(("transfer", number))
        await self._say(TRANSFERRING)
        return True

    def _after(self, action: tuple[str, str]) -> None:
        """Do ``action`` when the agent's current words have been spoken (bounded wait)."""
        self._after_speech = action
        self._spawn(self._after_speech_fallback(action))

    async def _after_speech_fallback(self, action: tuple[str, str]) -> None:
        await asyncio.sleep(AFTER_SPEECH_FALLBACK_SECONDS)
        if self._after_speech is action:
            self._after_speech = None
            await self._complete(action)

    async def _complete(self, action: tuple[str, str]) -> None:
        kind, value = action
        if kind == "transfer":
            await self._transfer(value)
        else:
            await self._hang_up(value)

    # -- ending ---------------------------------------------------------------------------

    async def end_with_goodbye(self, reason: str, goodbye: str | None = None) -> None:
        """Say a short goodbye; hang up once Twilio confirms it has played."""
        if self._ending or self._pipeline is None:
            return
        self._ending = True
        self.end_reason = self.end_reason or reason
        self.log.info("call %s ending: %s", self.call_sid, reason)
        text = goodbye if goodbye is not None else GOODBYES.get(reason, "")
        if text:
            self._after(("hangup", reason))
            await self._say(text)
        else:
            await self._hang_up(reason)

    async def _hang_up(self, reason: str) -> None:
        """Wait until the last words have played (marks), hang up over REST, end."""
        self.end_reason = self.end_reason or reason
        if not await self.playback.drained(PLAYBACK_WAIT_SECONDS):
            self.log.warning("call %s: hanging up before Twilio confirmed playback",
                             self.call_sid)
        if self._twilio.configured:
            await self._twilio.hang_up(self.call_sid)
        # Without REST credentials, closing the stream ends the call: nothing follows
        # <Connect> in our TwiML.
        if self._pipeline is not None:
            await self._pipeline.worker.queue_frames([EndFrame()])
        self._spawn(self._cancel_after(END_GRACE_SECONDS))

    async def _transfer(self, number: str) -> None:
        await self.playback.drained(PLAYBACK_WAIT_SECONDS)
        response = VoiceResponse()
        response.dial(number)
        if await self._twilio.redirect(self.call_sid, str(response)):
            self.log.info("call %s transferred to %s", self.call_sid, number)
            self.end_reason = "transferred"
            await conversations.set_transferred(self._pool, self.conversation_id, number)
            # Twilio now runs the <Dial>; it ends this stream with "stop".
            self._spawn(self._cancel_after(END_GRACE_SECONDS))
        else:
            self._ending = False
            await self._say(NO_TRANSFER)

    async def cancel(self, reason: str) -> None:
        """End now, without a goodbye: the caller is gone."""
        self.end_reason = self.end_reason or reason
        self._ending = True
        if self._pipeline is not None:
            await self._pipeline.worker.cancel()

    # -- CallHooks (called from inside the pipeline; must not block it) --------------------

    def on_user_turn(self, content: str, timestamp: str) -> None:
        if not self._keep_transcript:
            return
        if not self._greeting_stored:
            # The caller spoke over the greeting before its speech had even started: the
            # interruption dropped it, and the pipeline reports no turn for it.
            self._greeting_stored = True
            self._writes.put_nowait(("turn", {"role": "assistant", "content": "",
                                              "timestamp": self._greeting_at or timestamp,
                                              "interrupted": True}))
        self._writes.put_nowait(("turn", {"role": "user", "content": content,
                                          "timestamp": timestamp, "interrupted": False}))

    def on_assistant_turn(self, content: str, timestamp: str, interrupted: bool,
                          fix_context: Callable[[str], None]) -> None:
        if interrupted and self._ending and self._after_speech is not None \
                and self._after_speech[0] == "hangup" and not self._goodbye_said_again:
            # The agent ended the call and the caller's next words interrupted its goodbye
            # before the ending muted them: without this, dead air until the hang-up.
            self._goodbye_said_again = True
            self._spawn(self._say(AGENT_GOODBYE))
        sentences = self.playback.take_turn()
        greeting, self._greeting_stored = not self._greeting_stored, True
        if not content and not sentences and not greeting:
            return   # a reply cut off before it began: nothing was said
        if not self._keep_transcript:
            if interrupted and sentences:   # the context is still cut to what was heard
                self._spawn(self._fix_unrecorded(sentences, fix_context))
            return
        if not interrupted or not sentences:
            self._writes.put_nowait(("turn", {"role": "assistant", "content": content,
                                              "timestamp": timestamp,
                                              "interrupted": interrupted}))
            return

        async def heard() -> dict[str, Any]:
            # Barged in: keep only the sentences whose marks came back before the clear.
            text = await self.playback.settle(sentences, PLAYBACK_WAIT_SECONDS)
            fix_context(text)
            return {"role": "assistant", "content": text, "timestamp": timestamp,
                    "interrupted": True}

        self._writes.put_nowait(("turn", self._spawn(heard())))

    async def _fix_unrecorded(self, sentences: list[Any],
                              fix_context: Callable[[str], None]) -> None:
        fix_context(await self.playback.settle(sentences, PLAYBACK_WAIT_SECONDS))

    def on_turn_metrics(self, metrics: dict[str, Any]) -> None:
        TURN_LATENCY.observe(metrics["speech_end_to_audio_ms"] / 1000)
        self._writes.put_nowait(("metrics", metrics))

    def on_user_speaking(self) -> None:
        self._idle_prompts = 0
        self._turn_started_at = time.monotonic()

    def on_clear_sent(self) -> None:
        CLEARS.inc()
        started, self._turn_started_at = self._turn_started_at, None
        if started is not None and time.monotonic() - started < BARGE_IN_WINDOW_SECONDS:
            BARGE_IN.observe(time.monotonic() - started)

    def on_user_idle(self) -> None:
        if self._ending:
            return
        self._idle_prompts += 1
        if self._idle_prompts == 1:
            self._spawn(self._say(STILL_THERE))
        else:
            self._spawn(self.end_with_goodbye("silence"))

    def on_operator_digit(self) -> None:
        self._spawn(self._operator_requested())

    async def _operator_requested(self) -> None:
        result = await self.transfer_call()
        await self._say(TRANSFERRING if result["transferring"] else NO_TRANSFER)

    def on_twilio_stop(self) -> None:
        self._spawn(self.cancel("caller_hangup"))

    def on_client_disconnected(self) -> None:
        self._spawn(self.cancel("socket_closed"))

    def on_send_timeout(self) -> None:
        self.log.warning("call %s: a send to Twilio timed out", self.call_sid)
        self._spawn(self.cancel("send_timeout"))

    def call_ending(self) -> bool:
        return self._ending

    def on_bot_stopped_speaking(self) -> None:
        action, self._after_speech = self._after_speech, None
        if action is not None:
            self._spawn(self._complete(action))

    # -- background work ------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    async def _write_loop(self) -> None:
        """Turns and metrics reach the database in order, as they happen."""
        while True:
            kind, payload = await self._writes.get()
            try:
                if isinstance(payload, asyncio.Task):
                    payload = await payload
                if kind == "turn":
                    await conversations.append_turn(self._pool, self.conversation_id, payload)
                    await self._publish_turn(payload)
                else:
                    await conversations.append_metrics(self._pool, self.conversation_id, payload)
            except Exception:
                self.log.exception("call %s: could not store %s", self.call_sid, kind)
            finally:
                self._writes.task_done()

    async def _publish_turn(self, turn: dict[str, Any]) -> None:
        # For the console's live view; a lost event must not cost the call anything.
        try:
            await call_events.publish(
                self._pool, kind="turn", client_id=self.client.id, call_sid=self.call_sid,
                conversation_id=self.conversation_id, role=turn.get("role", ""),
                text=turn.get("content", ""), timestamp=turn.get("timestamp"),
                interrupted=bool(turn.get("interrupted")))
        except Exception as exc:
            self.log.warning("call %s: live turn event not sent: %s", self.call_sid,
                             type(exc).__name__)

    async def _out_of_talk_time(self) -> None:
        await self.end_with_goodbye("balance_exhausted")

    async def _watch_stream(self) -> None:
        """A stream that has gone quiet (no media, no stop) is a dead socket."""
        assert self._pipeline is not None
        serializer = self._pipeline.serializer
        # Twilio sends media every 20 ms for the whole call: a long gap is a dead socket.
        limit = self._settings.stream_idle_seconds
        while True:
            await asyncio.sleep(min(1.0, limit / 4))
            if time.monotonic() - serializer.last_received > limit:
                self.log.warning("call %s: no media for %.0f s", self.call_sid, limit)
                await self.cancel("stream_timeout")
                return

    async def _end_after(self, seconds: float, reason: str) -> None:
        await asyncio.sleep(seconds)
        await self.end_with_goodbye(reason)

    async def _cancel_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.log.warning("call %s: did not end within %.0f s, cutting", self.call_sid, seconds)
        await self.cancel(self.end_reason or "timeout")

    # -- finalization ---------------------------------------------------------------------

    async def finalize(self) -> None:
        """Exactly once: flush turns, final debit, ended row, active-call row removed."""
        if self._finalized:
            return
        self._finalized = True
        try:
            await asyncio.wait_for(self._writes.join(), timeout=PLAYBACK_WAIT_SECONDS + 2)
        except TimeoutError:
            self.log.warning("call %s: turn writes did not drain", self.call_sid)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._recorder is not None:
            await asyncio.to_thread(self._recorder.close)
        if self._audio is not None:
            await asyncio.to_thread(self._audio.close)
        await finalize_conversation(self._pool, conversation_id=self.conversation_id,
                                    client_id=self.client.id, call_sid=self.call_sid,
                                    end_reason=self.end_reason or "completed",
                                    summary=await self._llm_summary())
        CALLS_ENDED.labels(self.end_reason or "completed").inc()
        dropped = self._pipeline.serializer.malformed if self._pipeline is not None else 0
        self.log.info("call %s finalized: %s after %.1f s%s", self.call_sid, self.end_reason,
                      self.elapsed(), f", {dropped} malformed messages dropped" if dropped else "")

    async def _llm_summary(self) -> str | None:
        """An LLM client's own summary of the call (None: the rules write it)."""
        conv = await conversations.get(self._pool, self.conversation_id)
        return await call_summary.llm_summary(
            self.client, conv.transcript if conv else [],
            api_key=self._settings.secret("openai_api_key"),
            base_url=self._settings.openai_base_url)


async def finalize_conversation(pool: asyncpg.Pool, *, conversation_id: int, client_id: int,
                                call_sid: str, end_reason: str, ended_at: Any = None,
                                summary: str | None = None) -> bool:
    """Mark the call ended, settle its talk time to the second, store its summary and
    outcome and record ``call.ended``, in one transaction. The unused part of the prepaid
    ticks goes back to the balance (``call_refund``), and time the ticks did not cover (the
    goodbye after the balance ran out) is debited, as far as the balance allows
    (``call_final``).

    Returns False when the call had already been finalized (by this or another process).
    """
    async with pool.acquire() as conn, conn.transaction():
        conv = await conversations.finish(conn, conversation_id, end_reason=end_reason,
                                          ended_at=ended_at)
        if conv is not None:
            owed = math.ceil(conv.duration_seconds or 0) - conv.billed_seconds
            if owed > 0:
                await usage.debit(conn, client_id=client_id, conversation_id=conversation_id,
                                  seconds=owed, reason="call_final")
            elif owed < 0:
                await usage.refund(conn, client_id=client_id, conversation_id=conversation_id,
                                   seconds=-owed)
            client = await clients.get(conn, client_id)
            if client is not None:
                await call_summary.record_ended(conn, conv, client, summary=summary)
        await active_calls.delete(conn, call_sid)
        await call_events.publish(conn, kind="ended", client_id=client_id, call_sid=call_sid,
                                  conversation_id=conversation_id, end_reason=end_reason)
    return conv is not None
