"""Log lines: values from requests are escaped and bounded in one place; floods throttled."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from datetime import datetime

import pytest
from loguru import logger as loguru_logger

from frontdesk import logs
from frontdesk.settings import ConfigError, Settings


def formatted(msg: str, *args: object, exc: BaseException | None = None) -> str:
    record = logging.LogRecord("frontdesk.voice", logging.INFO, __file__, 1, msg, args,
                               (type(exc), exc, exc.__traceback__) if exc else None)
    return logs.SafeFormatter(logs.FORMAT).format(record)


def test_control_characters_in_values_cannot_start_a_line():
    line = formatted("call %s to unknown number %s", "CA1\n2026-12-01 INFO forged: ok",
                     "+1\r\n\x1b[31m\u2028\u202e")
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "CA1\\x0a2026-12-01 INFO forged: ok" in line
    assert line.endswith("+1\\x0d\\x0a\\x1b[31m\\u2028\\u202e")


def test_values_are_bounded_and_numbers_keep_their_format():
    line = formatted("%s after %.1f s, %d dropped", "x" * 100_000, 2.25, 7)
    assert len(line) < logs.MAX_VALUE_CHARS + 200
    assert "(99800 more chars)" in line and line.endswith("after 2.2 s, 7 dropped")
    assert formatted("100%s done").endswith(": 100%s done")   # no args: the message as is
    assert "%d" in formatted("bad %d", "not a number")  # a broken format still gets a line


def test_a_traceback_follows_indented_so_no_line_can_pass_for_a_record():
    try:
        raise ValueError("bad value\n2026-12-01 INFO forged")
    except ValueError as exc:
        lines = formatted("failed for %s", "x\ny", exc=exc).splitlines()
    assert lines[0].endswith("failed for x\\x0ay")
    assert all(line.startswith("  ") for line in lines[1:]) and len(lines) > 2


def test_throttled_writes_one_line_per_interval_and_counts_the_rest(caplog):
    throttled = logs.Throttled(logging.getLogger("frontdesk.test"), every=3600)
    with caplog.at_level(logging.WARNING):
        for n in range(500):
            throttled.warning("refused %d", n)
    assert [r.getMessage() for r in caplog.records] == ["refused 0"]
    assert throttled.total == 500 and throttled.suppressed == 499


# --- JSON lines, and the call's CallSid on each of its lines ------------------------------

@pytest.fixture
def configured():
    """The real handler (formatter and CallSid filter) on a StringIO; stderr again after."""
    out = io.StringIO()

    def configure(fmt: str, **kw: object) -> io.StringIO:
        logs.configure("INFO", fmt=fmt, stream=out, **kw)
        return out

    yield configure
    logs.configure("INFO")


def json_lines(out: io.StringIO) -> list[dict]:
    text = out.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_json_lines_parse_and_a_forged_newline_stays_inside_its_value(configured):
    out = configured("json")
    log = logging.getLogger("frontdesk.voice")
    log.info("call %s to %s", "CA1\n{\"level\": \"INFO\", \"message\": \"forged\"}", "+1\u2028")
    log.warning("counted", extra={"dropped": 7, "who": "x\r\ny" * 1000})
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        log.exception("failed")
    first, second, third = json_lines(out)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "frontdesk.voice"
    assert first["time"].endswith("Z") and datetime.fromisoformat(first["time"][:-1])
    assert first["message"] == 'call CA1\\x0a{"level": "INFO", "message": "forged"} to +1\\u2028'
    assert second["dropped"] == 7 and "\n" not in second["who"]
    assert second["who"].endswith("(3800 more chars)") and len(second["who"]) < 1000
    assert third["message"] == "failed" and third["exc"].startswith("Traceback")
    assert third["exc"].endswith("ValueError: bad\nvalue")   # one string, inside one line
    assert all(ord(c) < 128 for c in out.getvalue())


def test_call_sid_is_on_every_line_inside_a_call_and_on_none_outside(configured):
    async def in_a_call(log: logging.Logger) -> None:
        token = logs.call_sid.set("CA42\nforged")
        try:
            # A task created inside the call (as Pipecat's processors are) inherits it.
            await asyncio.create_task(asyncio.to_thread(log.info, "from a thread"))
            await asyncio.create_task(_log_from_a_task(log))
            loguru_logger.warning("from pipecat")
        finally:
            logs.call_sid.reset(token)

    log = logging.getLogger("frontdesk.call")
    for fmt in ("json", "text"):
        out = configured(fmt)
        out.seek(0)
        out.truncate()
        log.info("before")
        asyncio.run(in_a_call(log))
        log.info("after")
        if fmt == "json":
            lines = json_lines(out)
            assert [line.get("call_sid") for line in lines] == [None] + ["CA42\\x0aforged"] * 3 \
                + [None]
            assert lines[3]["message"] == "from pipecat"
        else:
            lines = out.getvalue().splitlines()
            assert len(lines) == 5 and "[" not in lines[0] + lines[4]
            assert all(": [CA42\\x0aforged] from " in line for line in lines[1:4])
            assert "pipecat: [CA42\\x0aforged] from pipecat" in lines[3]


async def _log_from_a_task(log: logging.Logger) -> None:
    log.info("from a task")


def test_log_format_setting():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    assert Settings.from_env({}).access_log is True
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        Settings.from_env({"LOG_FORMAT": "xml"})


async def test_a_replayed_calls_lines_each_carry_its_call_sid(configured, pool, pg_url):
    from tests.caller import FakeCall
    from tests.factories import make_client
    from tests.live import live_server
    from tests.providers import ScriptedProviders
    from tests.waiting import ended

    out = configured("json", pipecat_level="DEBUG")   # Pipecat's processors' lines too
    async with live_server(pg_url, providers=ScriptedProviders(["hello"])) as server:
        client = await make_client(pool, balance_seconds=600)
        call = FakeCall(server.url, to=client.phone_number)
        await call.dial()
        await call.connect()
        await call.wait_for_agent()                       # the greeting
        await call.hang_up()
        await ended(pool, call.call_sid)
    lines = json_lines(out)
    pipecat = [line for line in lines if line["logger"].startswith("pipecat")]
    # Pipecat's processors run as tasks the pipeline creates: they inherit the call's sid.
    assert any(line["logger"].startswith(("pipecat.processors", "pipecat.transports"))
               for line in pipecat)
    assert pipecat and all(line.get("call_sid") == call.call_sid for line in pipecat)
    finalized = [line for line in lines if line["logger"] == "frontdesk.call"]
    assert finalized and all(line["call_sid"] == call.call_sid for line in finalized)
    assert {line.get("call_sid") for line in lines} == {None, call.call_sid}
    # The /voice webhook that answered the call names it too.
    [accepted] = [line for line in lines if "accepted for client" in line["message"]]
    assert accepted["logger"] == "frontdesk.voice" and accepted["call_sid"] == call.call_sid
    # The job queue's lines are not the call's, though they run during it.
    assert all("call_sid" not in line for line in lines if line["logger"] == "frontdesk.events")


def test_pipecats_lines_are_json_too_with_their_traceback(configured):
    out = configured("json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        loguru_logger.exception("processor failed on {}", "data\n{\"forged\": 1}")
    [line] = json_lines(out)
    assert line["level"] == "ERROR" and line["logger"].startswith("tests")
    assert line["message"] == 'processor failed on data\\x0a{"forged": 1}'
    assert line["exc"].endswith("RuntimeError: boom") and "call_sid" not in line
