"""One log line per event; Pipecat's own (loguru) output held at WARNING.

Log lines carry values from requests (call SIDs, numbers, stream messages). Every line is
written through ``safe`` here, the one place that escapes them: control characters are
shown as escapes (a newline in a CallSid cannot start a forged line) and each value is cut
to a bounded length (a 64 KB field cannot flood the log).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

MAX_VALUE_CHARS = 200
MAX_LINE_CHARS = 4000
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides
# that terminals and log viewers act on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(value: object, limit: int = MAX_VALUE_CHARS) -> str:
    """``value`` as one bounded line: control characters escaped, the rest cut off."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) \
        else str(value)
    if len(text) > limit:
        text = f"{text[:limit]}...({len(text) - limit} more chars)"
    return _CONTROL.sub(_escape, text)


def _safe_arg(value: Any) -> Any:
    # Numbers keep their type (a %d or %.1f format needs it); everything else is text.
    if value is None or isinstance(value, bool | int | float):
        return value
    return safe(value)


class SafeFormatter(logging.Formatter):
    """Writes each record as one line, its arguments escaped and bounded; a traceback
    follows indented, so that every line at the start of a row is a record of ours."""

    def format(self, record: logging.LogRecord) -> str:
        msg, args = record.msg, record.args
        try:
            if isinstance(args, tuple):
                record.args = tuple(_safe_arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: _safe_arg(v) for k, v in args.items()}
            try:
                message = record.getMessage()
            except (TypeError, ValueError):  # a bad format string still gets its line
                message = f"{msg!r} % {args!r}"
            record.msg, record.args = safe(message, MAX_LINE_CHARS), None
            return super().format(record)
        finally:
            record.msg, record.args = msg, args

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return "\n".join("  " + line for line in super().formatException(ei).splitlines())


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(level: str = "INFO", *, pipecat_level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("uvicorn.access", "httpx", "aiohttp.access", "pgserver", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from loguru import logger

    logger.remove()
    # Pipecat logs exceptions with the offending data in the message: the same escaping.
    logger.configure(patcher=lambda record: record.update(
        message=safe(record["message"], MAX_LINE_CHARS)))
    logger.add(sys.stderr, level=pipecat_level if level != "DEBUG" else "DEBUG",
               format="{time:YYYY-MM-DD HH:mm:ss,SSS} {level: <7} pipecat: {message}")


class Throttled:
    """At most one line per ``every`` seconds for an event anyone can cause (a refused
    stream, a dropped message); the lines in between are counted, not lost."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[Any],
                 every: float = 30.0) -> None:
        self._log = logger
        self._every = every
        self._last = float("-inf")
        self.suppressed = 0
        self.total = 0

    def warning(self, message: str, *args: object) -> None:
        self.total += 1
        now = time.monotonic()
        if now - self._last < self._every:
            self.suppressed += 1
            return
        if self.suppressed:
            message += " (and %d more like it in the last %.0f s)"
            args = (*args, self.suppressed, now - self._last)
        self._last, self.suppressed = now, 0
        self._log.warning(message, *args)
