"""The circuit breaker's states, on a clock the test moves."""

from __future__ import annotations

import pytest

from tools.breaker import Breaker, BreakerOpen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def ok() -> str:
    return "ok"


async def boom() -> str:
    raise ConnectionError("down")


async def fail(breaker: Breaker, times: int) -> None:
    for _ in range(times):
        with pytest.raises(ConnectionError):
            await breaker.call(boom)


async def test_three_failures_open_it_for_thirty_seconds():
    clock = Clock()
    breaker = Breaker("svc", clock=clock)
    await fail(breaker, 2)
    assert breaker.state == "closed"
    assert await breaker.call(ok) == "ok"       # a success resets the count
    await fail(breaker, 3)
    assert breaker.state == "open"
    clock.now = 29.0
    with pytest.raises(BreakerOpen) as raised:
        await breaker.call(ok)
    assert raised.value.retry_after == pytest.approx(1.0)
    clock.now = 30.0
    assert breaker.state == "half_open"


async def test_half_open_lets_one_call_through_and_two_successes_close_it():
    clock = Clock()
    breaker = Breaker("svc", clock=clock)
    await fail(breaker, 3)
    clock.now = 31.0
    breaker.before_call()                      # the probe is in flight ...
    with pytest.raises(BreakerOpen):
        breaker.before_call()                  # ... so a second call is refused
    breaker.record_success()
    assert breaker.state == "half_open"        # one success is not enough
    assert await breaker.call(ok) == "ok"
    assert breaker.state == "closed"
    await fail(breaker, 2)
    assert breaker.state == "closed"           # the count started again


async def test_a_failure_while_half_open_opens_it_again():
    clock = Clock()
    breaker = Breaker("svc", clock=clock)
    await fail(breaker, 3)
    clock.now = 30.0
    assert await breaker.call(ok) == "ok"
    await fail(breaker, 1)
    assert breaker.state == "open"
    clock.now = 59.0
    with pytest.raises(BreakerOpen):
        await breaker.call(ok)


async def test_refusals_that_say_the_service_is_up_do_not_count():
    breaker = Breaker("svc")

    async def refused() -> str:
        raise ValueError("400 bad request")

    for _ in range(5):
        with pytest.raises(ValueError):
            await breaker.call(refused, is_failure=lambda e: not isinstance(e, ValueError))
    assert breaker.state == "closed"
