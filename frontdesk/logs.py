"""One log line per event; Pipecat's own (loguru) output held at WARNING.

Log lines carry values from requests (call SIDs, numbers, stream messages). Every line is
written through ``safe`` here, the one place that escapes them: control characters are
shown as escapes (a newline in a CallSid cannot start a forged line) and each value is cut
to a bounded length (a 64 KB field cannot flood the log).

Two formats (``LOG_FORMAT``): text, one line a record, or JSON, one object a line. Either
way a line logged while a call is handled carries its CallSid: ``call_sid`` below is set
once the stream's start has verified, and every task the call creates inherits it.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

MAX_VALUE_CHARS = 200
MAX_LINE_CHARS = 4000
# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi overrides
# that terminals and log viewers act on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# A traceback keeps its line breaks (JSON encodes them); every other control is escaped.
_CONTROL_BUT_NEWLINE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
MAX_TRACEBACK_CHARS = 20_000

# The CallSid of the call whose stream this task (and every task it creates) handles.
call_sid: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_sid", default=None)


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
    """Writes each record as one line, its arguments escaped and bounded, the call's
    CallSid (``[CA...]``) before the message; a traceback follows indented, so that every
    line at the start of a row is a record of ours."""

    def format(self, record: logging.LogRecord) -> str:
        msg, args = record.msg, record.args
        message = _message(record)
        sid = getattr(record, "call_sid", None)
        if sid is not None:
            message = f"[{safe(sid)}] {message}"
        try:
            record.msg, record.args = message, None
            return super().format(record)
        finally:
            record.msg, record.args = msg, args

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return "\n".join("  " + line for line in super().formatException(ei).splitlines())


FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FORMATS = ("text", "json")

# What every LogRecord has; any other attribute is an extra= a caller added.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "call_sid", "taskName",
    "color_message"}   # uvicorn's copy of the message with terminal colours


@contextlib.contextmanager
def in_call(sid: str) -> Iterator[None]:
    """Lines logged inside (tasks created inside included) name the call ``sid``."""
    token = call_sid.set(sid)
    try:
        yield
    finally:
        call_sid.reset(token)


def call_context(sid: str) -> contextvars.Context:
    """A copy of the current context in which lines name the call ``sid`` (for a task
    started on a call's behalf from outside it: ``create_task(..., context=...)``)."""
    context = contextvars.copy_context()
    context.run(call_sid.set, sid)
    return context


class CallSidFilter(logging.Filter):
    """Puts the current call's CallSid on the record (None outside a call), unless the
    line already names one (a LoggerAdapter's extra)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "call_sid", None) is None:
            record.call_sid = call_sid.get()
        return True


def _message(record: logging.LogRecord) -> str:
    """The record's message, its arguments escaped and bounded, the whole line bounded."""
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
        return safe(message, MAX_LINE_CHARS)
    finally:
        record.msg, record.args = msg, args


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds") \
        .replace("+00:00", "Z")


def _bounded_traceback(text: str) -> str:
    if len(text) > MAX_TRACEBACK_CHARS:
        text = f"{text[:MAX_TRACEBACK_CHARS]}...({len(text) - MAX_TRACEBACK_CHARS} more chars)"
    return _CONTROL_BUT_NEWLINE.sub(_escape, text.rstrip("\n"))


def _json_line(fields: dict[str, Any]) -> str:
    # ensure_ascii: the line is plain ASCII, a newline or separator in any value an escape.
    return json.dumps(fields, ensure_ascii=True, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601 UTC), level, logger, message, call_sid when
    the line belongs to a call, exc for a traceback, and the record's extras; every value
    bounded, every text escaped as in the text format."""

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = {"time": _iso(record.created), "level": record.levelname,
                                  "logger": safe(record.name),
                                  "message": _message(record)}
        sid = getattr(record, "call_sid", None)
        if sid is not None:
            fields["call_sid"] = safe(sid)
        for key, value in record.__dict__.items():
            if key not in _RECORD_FIELDS and not key.startswith("_") and len(fields) < 40:
                fields.setdefault(safe(key, 64), _safe_arg(value))
        if record.exc_info:
            fields["exc"] = _bounded_traceback(super().formatException(record.exc_info))
        elif record.exc_text:
            fields["exc"] = _bounded_traceback(record.exc_text)
        return _json_line(fields)


def _loguru_json(message: Any) -> None:
    record = message.record
    fields: dict[str, Any] = {
        "time": _iso(record["time"].timestamp()), "level": record["level"].name,
        "logger": safe(record["name"] or "pipecat"), "message": record["message"]}
    if record["extra"].get("call_sid") is not None:
        fields["call_sid"] = record["extra"]["call_sid"]
    exc = record["exception"]
    if exc is not None and exc.type is not None:
        fields["exc"] = _bounded_traceback(
            "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)))
    _loguru_stream.write(_json_line(fields) + "\n")
    _loguru_stream.flush()


_loguru_stream: IO[str] = sys.stderr


def _patch_loguru(record: Any) -> None:
    # Pipecat logs exceptions with the offending data in the message: the same escaping.
    record["message"] = safe(record["message"], MAX_LINE_CHARS)
    sid = call_sid.get()
    record["extra"]["call_sid"] = safe(sid) if sid is not None else None
    record["extra"]["call"] = f"[{safe(sid)}] " if sid is not None else ""


def configure(level: str = "INFO", *, pipecat_level: str = "WARNING", fmt: str = "text",
              stream: IO[str] | None = None) -> None:
    """The root logger's one handler (on stderr, or ``stream``) in ``fmt``, text or json;
    Pipecat's loguru output the same way, at ``pipecat_level`` unless ``level`` is DEBUG."""
    global _loguru_stream
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}")
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter() if fmt == "json" else SafeFormatter(FORMAT))
    handler.addFilter(CallSidFilter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("uvicorn.access", "httpx", "aiohttp.access", "pgserver", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from loguru import logger

    logger.remove()
    logger.configure(patcher=_patch_loguru)
    loguru_level = pipecat_level if level != "DEBUG" else "DEBUG"
    if fmt == "json":
        _loguru_stream = out
        logger.add(_loguru_json, level=loguru_level, format="{message}")
    else:
        logger.add(out, level=loguru_level,
                   format="{time:YYYY-MM-DD HH:mm:ss,SSS} {level: <7} pipecat: "
                          "{extra[call]}{message}")


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
