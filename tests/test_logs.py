"""Log lines: values from requests are escaped and bounded in one place; floods throttled."""

from __future__ import annotations

import logging

from frontdesk import logs


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
