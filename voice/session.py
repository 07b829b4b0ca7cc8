"""CallSession: everything about one live call, from the verified stream to its final row."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import asyncpg
from pipecat.frames.frames import EndFrame, TTSSpeakFrame
from pipecat.workers.runner import WorkerRunner
from starlette.websockets import WebSocket

from db import active_calls, conversations, usage
from db.clients import Client
from db.conversations import Conversation
from frontdesk.settings import Settings
from pipelines.inbound import TwilioLink, build_inbound
from pipelines.providers import ProviderFactory, ProviderPlan
from tools.context import ToolContext

log = logging.getLogger("frontdesk.call")

GOODBYES = {
    "balance_exhausted": "I'm sorry, this line has run out of call time. Goodbye.",
    "max_duration": "We've reached the time limit for this call. Thank you for calling. Goodbye.",
    "server_shutdown": "I'm sorry, I have to end this call now. Please call back. Goodbye.",
}
# How long an ending call may take to speak its goodbye before it is cut.
END_GRACE_SECONDS = 15.0
# How long, after the agent asked to hang up, to wait for its goodbye to start and end.
HANGUP_FALLBACK_SECONDS = 10.0


@dataclass(frozen=True)
class CallIdentity:
    call_sid: str
    stream_sid: str
    conversation: Conversation
    client: Client
    plan: ProviderPlan


class CallSession:
    """Owns one call's pipeline, metering, turn writes and finalization.

    Implements pipelines.call_hooks.CallHooks and tools.context.CallControl.
    """

    def __init__(self, identity: CallIdentity, *, settings: Settings, pool: asyncpg.Pool,
                 providers: ProviderFactory) -> None:
        # Identity: fixed for the life of the call
        self.id = identity
        self.call_sid = identity.call_sid
        self.conversation_id = identity.conversation.id
        self.client = identity.client
        # Borrowed from the app: never closed here
        self._settings = settings
        self._pool = pool
        self._providers = providers
        # Per call, mutable
        self.end_reason: str | None = None
        self.billed_seconds = 0
        self._started = time.monotonic()
        self._worker: Any = None
        self._ending = False
        self._hangup_after_speech = False
        self._finalized = False
        self._writes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.log = logging.LoggerAdapter(log, {"call_sid": self.call_sid})

    # -- running --------------------------------------------------------------------------

    async def run(self, ws: WebSocket) -> None:
        """Build and run the pipeline; finalize on every way out."""
        try:
            services = self._providers.build(self.id.plan, self.client, call_sid=self.call_sid)
            tool_ctx = ToolContext(pool=self._pool, client=self.client,
                                   conversation_id=self.conversation_id,
                                   caller_phone=self.id.conversation.caller_phone,
                                   contact_id=self.id.conversation.contact_id, call=self)
            s = self._settings
            link = TwilioLink(stream_sid=self.id.stream_sid, call_sid=self.call_sid,
                              account_sid=s.twilio_account_sid,
                              auth_token=s.secret("twilio_auth_token"),
                              api_base_url=s.twilio_api_base_url)
            self._worker, _ = build_inbound(ws=ws, link=link, services=services, hooks=self,
                                            tool_ctx=tool_ctx,
                                            greeting=self.client.initial_greeting)
            self._spawn(self._write_loop())
            self._spawn(self._meter_loop())
            max_duration = self.client.settings.get("max_call_duration")
            if max_duration:
                self._spawn(self._end_after(float(max_duration), "max_duration"))
            runner = WorkerRunner(handle_sigint=False, force_gc=True)
            await runner.add_workers(self._worker)
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

    # -- ending ---------------------------------------------------------------------------

    async def end_call(self, reason: str) -> None:
        """CallControl: hang up once the agent's reply in progress has been spoken."""
        if self._ending:
            return
        self.end_reason = self.end_reason or reason
        self._hangup_after_speech = True
        self._spawn(self._end_after(HANGUP_FALLBACK_SECONDS, reason))

    async def end_with_goodbye(self, reason: str, goodbye: str | None = None) -> None:
        """Say a short goodbye, then end the pipeline (which hangs up)."""
        if self._ending or self._worker is None:
            return
        self._ending = True
        self.end_reason = self.end_reason or reason
        self.log.info("call %s ending: %s", self.call_sid, reason)
        text = goodbye if goodbye is not None else GOODBYES.get(reason)
        await self._worker.queue_frames(([TTSSpeakFrame(text)] if text else []) + [EndFrame()])
        self._spawn(self._cancel_after(END_GRACE_SECONDS))

    async def cancel(self, reason: str) -> None:
        """End now, without a goodbye: the caller is gone."""
        self.end_reason = self.end_reason or reason
        self._ending = True
        if self._worker is not None:
            await self._worker.cancel()

    # -- CallHooks (called from inside the pipeline; must not block it) --------------------

    def on_turn(self, role: str, content: str, timestamp: str, interrupted: bool) -> None:
        self._writes.put_nowait(("turn", {"role": role, "content": content,
                                          "timestamp": timestamp, "interrupted": interrupted}))

    def on_turn_metrics(self, metrics: dict[str, Any]) -> None:
        self._writes.put_nowait(("metrics", metrics))

    def on_twilio_stop(self) -> None:
        self._spawn(self.cancel("caller_hangup"))

    def on_client_disconnected(self) -> None:
        self._spawn(self.cancel("socket_closed"))

    def on_bot_stopped_speaking(self) -> None:
        if self._hangup_after_speech and not self._ending:
            self._spawn(self.end_with_goodbye(self.end_reason or "agent_hangup", goodbye=""))

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
                if kind == "turn":
                    await conversations.append_turn(self._pool, self.conversation_id, payload)
                else:
                    await conversations.append_metrics(self._pool, self.conversation_id, payload)
            except Exception:
                self.log.exception("call %s: could not store %s", self.call_sid, kind)
            finally:
                self._writes.task_done()

    async def _meter_loop(self) -> None:
        """Debit elapsed whole seconds in ticks; end the call when the balance is gone."""
        tick = self._settings.meter_tick_seconds
        balance = self.client.balance_seconds
        while True:
            # Never wait longer than the balance last seen could pay for.
            await asyncio.sleep(max(1, min(tick, balance)))
            due = int(self.elapsed()) - self.billed_seconds
            if due <= 0:
                continue
            debit = await usage.debit(self._pool, client_id=self.client.id,
                                      conversation_id=self.conversation_id, seconds=due,
                                      reason="call_tick")
            self.billed_seconds += debit.seconds
            balance = debit.balance_after
            if debit.seconds < due or balance <= 0:
                await self.end_with_goodbye("balance_exhausted")
                return

    async def _end_after(self, seconds: float, reason: str) -> None:
        await asyncio.sleep(seconds)
        await self.end_with_goodbye(reason, goodbye=None if reason == "max_duration" else "")

    async def _cancel_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self.log.warning("call %s: goodbye did not finish in %.0f s, cutting", self.call_sid,
                         seconds)
        await self.cancel(self.end_reason or "timeout")

    # -- finalization ---------------------------------------------------------------------

    async def finalize(self) -> None:
        """Exactly once: flush turns, final debit, ended row, active-call row removed."""
        if self._finalized:
            return
        self._finalized = True
        try:
            await asyncio.wait_for(self._writes.join(), timeout=5)
        except TimeoutError:
            self.log.warning("call %s: turn writes did not drain", self.call_sid)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await finalize_conversation(self._pool, conversation_id=self.conversation_id,
                                    client_id=self.client.id, call_sid=self.call_sid,
                                    end_reason=self.end_reason or "completed")
        self.log.info("call %s finalized: %s after %.1f s", self.call_sid, self.end_reason,
                      self.elapsed())


async def finalize_conversation(pool: asyncpg.Pool, *, conversation_id: int, client_id: int,
                                call_sid: str, end_reason: str, ended_at: Any = None) -> bool:
    """Mark the call ended and debit what the ticks have not, in one transaction.

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
        await active_calls.delete(conn, call_sid)
    return conv is not None
