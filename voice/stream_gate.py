"""Media streams that have not authenticated yet: a bounded waiting room.

A socket holds no call slot until its token has verified (voice.registry). Until then it
waits here, for at most the start deadline, and the room is bounded per process and per
remote address. Past a bound the oldest waiting socket is closed at once: Twilio sends
``start`` within milliseconds of opening a stream, so the oldest is the one least likely
to be Twilio, and an attacker who keeps the room full cannot keep the next real stream
out (as refusing the newest would); they would have to out-race Twilio's ``start``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(eq=False)
class Waiting:
    address: str
    evicted: asyncio.Event = field(default_factory=asyncio.Event)


class StreamGate:
    def __init__(self, *, limit: int, per_address: int) -> None:
        self.limit = limit
        self.per_address = per_address
        self._waiting: dict[int, Waiting] = {}      # insertion order: oldest first
        self._by_address: Counter[str] = Counter()
        self._ids = itertools.count()
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._waiting)

    @contextmanager
    def waiting(self, address: str) -> Iterator[Waiting]:
        """A place in the room while ``start`` is awaited; ``evicted`` is set when an older
        place has to make room for a newer one."""
        if self._by_address[address] >= self.per_address:
            self._evict(next(k for k, w in self._waiting.items() if w.address == address))
        if len(self._waiting) >= self.limit:
            self._evict(next(iter(self._waiting)))
        key = next(self._ids)
        place = Waiting(address)
        self._waiting[key] = place
        self._by_address[address] += 1
        try:
            yield place
        finally:
            self._leave(key)

    def _evict(self, key: int) -> None:
        place = self._leave(key)
        if place is not None:
            place.evicted.set()
            self.evictions += 1

    def _leave(self, key: int) -> Waiting | None:
        place = self._waiting.pop(key, None)
        if place is not None:
            self._by_address[place.address] -= 1
            if not self._by_address[place.address]:
                del self._by_address[place.address]
        return place
