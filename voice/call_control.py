"""Operator actions on live calls (end, transfer), whichever server process holds the call.

The API that receives the action may run in another process, or on another host, than the
call's stream. It publishes the action with ``pg_notify``; every server process LISTENs on a
dedicated connection and acts on the calls it holds. A notification nobody holds is dropped,
so the API first checks that the call is live (active_calls).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from db.listener import Listener
from db.pool import Executor
from frontdesk import logs
from voice.registry import CallRegistry

log = logging.getLogger("frontdesk.call_control")

CHANNEL = "frontdesk_call_control"
ACTIONS = ("end", "transfer")


async def publish(db: Executor, call_sid: str, action: str, **args: str) -> None:
    assert action in ACTIONS
    await db.execute("SELECT pg_notify($1, $2)", CHANNEL,
                     json.dumps({"call_sid": call_sid, "action": action, **args}))


class CallControlListener:
    """LISTENs for actions and runs them on this process's calls; reconnects when the
    connection drops (a restarted database must not leave operators without an end button)."""

    def __init__(self, dsn: str, calls: CallRegistry) -> None:
        self._calls = calls
        self._listener = Listener(dsn, CHANNEL, self._on_notify, name="call control")
        self._actions: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        await self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    def _on_notify(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            call_sid, action = str(message["call_sid"]), message["action"]
        except (ValueError, KeyError, TypeError):
            log.warning("call control: malformed notification ignored")
            return
        session = self._calls.get(call_sid)
        if session is None:
            return      # another process holds it
        if action == "end":
            work = session.operator_end()
        elif action == "transfer" and isinstance(message.get("to"), str):
            work = session.operator_transfer(message["to"])
        else:
            log.warning("call control: unknown action %r ignored", action)
            return
        task = asyncio.create_task(work, context=logs.call_context(call_sid))
        self._actions.add(task)
        task.add_done_callback(self._actions.discard)
        session.log.info("call %s: operator asked to %s", call_sid, action)
