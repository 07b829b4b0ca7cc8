"""Decoding one Twilio media-stream message, whatever the peer sent.

Twilio sends small JSON objects as text frames. Anything else (a binary frame, a huge or
deeply nested document, invalid JSON, a JSON array) is a MalformedMessage with a short
reason, never an exception from the JSON parser.
"""

from __future__ import annotations

import json
from typing import Any

# Twilio's messages hold a handful of objects; the parser recurses once per level, so the
# nesting is bounded before parsing (counting brackets is cheap, and over-counts).
MAX_CONTAINERS = 64


class MalformedMessage(ValueError):
    """Not a message Twilio would send; ``str(exc)`` says why, in a few words."""


def decode(data: str | bytes, *, max_chars: int) -> dict[str, Any]:
    if not isinstance(data, str):
        raise MalformedMessage("binary frame")
    if len(data) > max_chars:
        raise MalformedMessage("oversized message")
    if data.count("{") + data.count("[") > MAX_CONTAINERS:
        raise MalformedMessage("too deeply nested")
    try:
        message = json.loads(data)
    except (ValueError, RecursionError):
        raise MalformedMessage("invalid JSON") from None
    if not isinstance(message, dict):
        raise MalformedMessage("not a JSON object")
    return message


def field(message: dict[str, Any], key: str, name: str) -> Any:
    """``message[key][name]`` when ``message[key]`` is an object, else None."""
    inner = message.get(key)
    return inner.get(name) if isinstance(inner, dict) else None
