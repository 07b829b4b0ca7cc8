"""Prepaid talk time: a call only talks seconds it has already debited.

The first tick is debited when the call is activated; each next tick shortly before the
paid time runs out. ``paid_until`` is derived from what was debited, never from what was
asked: when a debit comes back short (the balance is gone), the call gets exactly that much
more time and then its goodbye. When a debit has not come back by the time the paid time
runs out, the call ends then too. What a call did not use of its last tick is credited back
when it is finalized (voice.session.finalize_conversation), with its own ledger row.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable

import asyncpg

from db import usage

log = logging.getLogger("frontdesk.call")

# How long before the paid time runs out the next tick is debited: a debit is one short
# statement, so this is ample, and it is at most half a tick.
LEAD_SECONDS = 2.0
RETRY_SECONDS = 0.25
# A debit that starts late (the event loop was held up) still gets this long to come back.
MIN_DEBIT_WAIT_SECONDS = 1.0


class TalkTimeMeter:
    def __init__(self, pool: asyncpg.Pool, *, client_id: int, conversation_id: int,
                 tick_seconds: int, started_at: float, prepaid_seconds: int) -> None:
        self._pool = pool
        self._client_id = client_id
        self._conversation_id = conversation_id
        self._tick = tick_seconds
        self._started_at = started_at      # time.monotonic() at activation
        self.paid_seconds = prepaid_seconds
        self._lead = min(LEAD_SECONDS, tick_seconds / 2)

    @property
    def paid_until(self) -> float:
        return self._started_at + self.paid_seconds

    async def run(self, on_exhausted: Callable[[], Awaitable[None]]) -> None:
        """Keep the call paid for; call ``on_exhausted`` when the paid time has run out."""
        while await self._extend():
            pass
        await _sleep_until(self.paid_until)
        await on_exhausted()

    async def _extend(self) -> bool:
        """Debit the next tick before the paid time runs out; False when it came back
        short or could not be debited in time."""
        await _sleep_until(self.paid_until - self._lead)
        deadline = max(self.paid_until, time.monotonic() + MIN_DEBIT_WAIT_SECONDS)
        while (left := deadline - time.monotonic()) > 0:
            # One tick ahead of now; after a late wake-up, the time since the paid time
            # ran out as well (the call's duration is billed by the clock).
            want = max(self._tick, math.ceil(time.monotonic() + self._tick - self.paid_until))
            try:
                debit = await asyncio.wait_for(usage.prepay(
                    self._pool, client_id=self._client_id,
                    conversation_id=self._conversation_id, seconds=want), left)
            except TimeoutError:
                break   # whatever it took is settled when the call is finalized
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("conversation %d: talk-time debit failed: %s",
                            self._conversation_id, type(exc).__name__)
                await asyncio.sleep(min(RETRY_SECONDS, left))
                continue
            self.paid_seconds += debit.seconds
            return debit.seconds == want
        return False


async def _sleep_until(at: float) -> None:
    delay = at - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
