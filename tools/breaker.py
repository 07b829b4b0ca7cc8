"""Circuit breakers around external services (Twilio, e-mail, calendars, Stripe).

One breaker per service (and per credential where one account failing says nothing about
another). Three consecutive failures open it for 30 s; then it is half-open and lets one
call through; two successes in a row close it, a failure opens it again. While it is open
every call fails at once with ``BreakerOpen``, which tools turn into "unavailable" for the
agent and the API into 503 with Retry-After.

No library was used: pybreaker's async support is Tornado-only and aiobreaker/purgatory
close on the first half-open success.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

FAILURES_TO_OPEN = 3
OPEN_SECONDS = 30.0
SUCCESSES_TO_CLOSE = 2


class BreakerOpen(Exception):
    """The service is failing: not called. ``retry_after`` is in seconds."""

    def __init__(self, service: str, retry_after: float) -> None:
        super().__init__(f"{service} is unavailable right now")
        self.service = service
        self.retry_after = retry_after


class Breaker:
    """closed → (3 failures) open → (30 s) half-open → (2 successes) closed."""

    def __init__(self, name: str, *, failures: int = FAILURES_TO_OPEN,
                 open_seconds: float = OPEN_SECONDS, successes: int = SUCCESSES_TO_CLOSE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._failures_to_open = failures
        self._open_seconds = open_seconds
        self._successes_to_close = successes
        self._clock = clock
        self._failures = 0
        self._successes = 0
        self._opened_at: float | None = None
        self._probing = False   # the one half-open call is in flight

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "half_open" if self._successes else "closed"
        if self._clock() - self._opened_at >= self._open_seconds:
            return "half_open"
        return "open"

    def retry_after(self) -> float:
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._open_seconds - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        """Raise BreakerOpen unless a call may go through now."""
        state = self.state
        if state == "open" or (state == "half_open" and self._probing):
            raise BreakerOpen(self.name, max(1.0, self.retry_after()))
        if state == "half_open":
            self._probing = True

    def record_success(self) -> None:
        self._probing = False
        self._failures = 0
        if self._opened_at is None and not self._successes:
            return  # closed and healthy
        self._opened_at = None
        self._successes += 1
        if self._successes >= self._successes_to_close:
            self._successes = 0   # closed

    def record_failure(self) -> None:
        self._probing = False
        if self._opened_at is not None or self._successes:
            self._trip()          # a half-open call failed
            return
        self._failures += 1
        if self._failures >= self._failures_to_open:
            self._trip()

    def _trip(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._successes = 0

    async def call(self, fn: Callable[[], Awaitable[T]], *,
                   is_failure: Callable[[BaseException], bool] = lambda e: True) -> T:
        """Run ``fn()`` under the breaker. Exceptions for which ``is_failure`` is False (a
        refusal that says the service is up, such as a 400) count as successes."""
        self.before_call()
        try:
            result = await fn()
        except BaseException as exc:
            if isinstance(exc, Exception) and is_failure(exc):
                self.record_failure()
            elif isinstance(exc, Exception):
                self.record_success()
            else:   # cancelled: says nothing about the service
                self._probing = False
            raise
        self.record_success()
        return result


class Breakers:
    """The process's breakers by name ("twilio:AC123", "email:smtp"), made on first use."""

    def __init__(self, **options: float) -> None:
        self._options = options
        self._breakers: dict[str, Breaker] = {}
        self._aliases: dict[str, str] = {}

    def alias(self, alias: str, name: str) -> None:
        """Let ``alias`` ("twilio:owner:7") stand for the breaker ``name`` it last used."""
        self._aliases[alias] = name

    def retry_after(self, name: str) -> float | None:
        """Seconds until the breaker ``name`` (or the one an alias points to) lets a call
        through, when it is open; None otherwise (also when it was never used)."""
        breaker = self._breakers.get(self._aliases.get(name, name))
        if breaker is None or breaker.state != "open":
            return None
        return max(1.0, breaker.retry_after())

    def reset(self) -> None:
        """Forget every breaker (tests: one process serves many configurations)."""
        self._breakers.clear()
        self._aliases.clear()

    def get(self, name: str) -> Breaker:
        if name not in self._breakers:
            self._breakers[name] = Breaker(name, **self._options)  # type: ignore[arg-type]
        return self._breakers[name]


# The process's breakers. Process-wide on purpose (the service is failing for every call of
# this process); names carry the base URL and credential, so separate accounts or servers
# never share one.
shared = Breakers()

