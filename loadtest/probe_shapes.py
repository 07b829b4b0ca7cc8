"""Malformed media-stream messages: a fixed catalogue and a seeded random generator.

Every message here is something a broken or hostile peer could send after ``start``. None
of them is ``stop``: a server may end a call on ``stop``, and on nothing else here.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

DEEP = 5000


def _media(payload: Any = None, **media: Any) -> dict[str, Any]:
    body = {"track": "inbound", "chunk": "1", "timestamp": "20",
            "payload": base64.b64encode(b"\xff" * 160).decode() if payload is None else payload}
    return {"event": "media", "sequenceNumber": "3", "streamSid": "MZprobe",
            "media": body | media}


def catalogue() -> list[tuple[str, str | bytes]]:
    """(name, raw message) pairs, each a different way to be wrong."""
    shapes: list[tuple[str, Any]] = []
    for key in ("media", "mark", "dtmf"):
        for kind, value in (("a string", "x"), ("a list", [1, 2]), ("a number", 7),
                            ("null", None), ("true", True)):
            shapes.append((f"{key} is {kind}", {"event": key, key: value}))
    shapes += [
        ("deep JSON (5000 lists)", "[" * DEEP + "]" * DEEP),
        ("deep JSON inside media", '{"event":"media","media":' + "[" * DEEP + "]" * DEEP + "}"),
        ("deep JSON objects", '{"a":' * DEEP + "1" + "}" * DEEP),
        ("binary frame", b"\x00\x01\x02binary"),
        ("not JSON", "hello there"),
        ("truncated JSON", '{"event": "media", "media": {"payl'),
        ("JSON array", "[1, 2, 3]"),
        ("JSON string", '"media"'),
        ("JSON null", "null"),
        ("unknown event", {"event": "bogus", "bogus": {}}),
        ("event is a list", {"event": ["media"], "media": {}}),
        ("event is an object", {"event": {"x": 1}}),
        ("no event", {"media": {"payload": "//8="}}),
        ("bad base64", _media("@@@not-base64@@@")),
        ("odd-length audio", _media(base64.b64encode(b"\xff" * 161).decode())),
        ("one-byte audio", _media(base64.b64encode(b"\x7f").decode())),
        ("empty payload", _media("")),
        ("payload is a number", _media(12345)),
        ("payload is a list", _media(["//8="])),
        ("payload is an object", _media({"a": 1})),
        ("60 KB of audio", _media(base64.b64encode(b"\xff" * 45_000).decode())),
        ("dtmf digit is a list", {"event": "dtmf", "dtmf": {"digit": ["1"]}}),
        ("dtmf digit is empty", {"event": "dtmf", "dtmf": {"digit": ""}}),
        ("dtmf digit is ZZ", {"event": "dtmf", "dtmf": {"digit": "ZZ"}}),
        ("dtmf digit is a number", {"event": "dtmf", "dtmf": {"digit": 1}}),
        ("mark name is an object", {"event": "mark", "mark": {"name": {"a": 1}}}),
        ("mark name is unknown", {"event": "mark", "mark": {"name": "nobody-sent-this"}}),
        ("second start", {"event": "start", "start": "again"}),
        ("connected again", {"event": "connected"}),
        ("control characters", {"event": "media\n\x1b[31m", "media": "\x00\r\n"}),
        ("lone surrogate", '{"event": "media", "media": {"payload": "\\ud800"}}'),
    ]
    return [(name, value if isinstance(value, str | bytes) else json.dumps(value))
            for name, value in shapes]


# Values that are never a valid payload, digit or object (strings included: none is valid
# base64 audio or a key of the keypad).
_WEIRD: list[Any] = [None, True, 0, -1, 1.5e308, "", "x", [], {}, [[[[]]]], "\x00", "\n",
                     "A" * 3001, {"payload": 1}, ["//8="], "//8", "=+-@", "\ud83d\ude00", "ZZ"]
_KEY = {"media": "payload", "mark": "name", "dtmf": "digit"}


def _damaged(rng: random.Random, event: str, message: dict[str, Any]) -> str | bytes:
    """One way of breaking a valid message so that no server should act on it."""
    roll = rng.randrange(8)
    if roll == 0:
        return rng.randbytes(rng.randint(1, 64))                    # binary frame
    if roll == 1:
        text = json.dumps(message)
        return text[: rng.randint(0, len(text) - 1)]                # truncated
    if roll == 2:
        depth = rng.randint(65, DEEP)
        return "[" * depth + "]" * rng.randint(0, depth)           # deep, maybe unclosed
    out = json.loads(json.dumps(message))
    if roll == 3:
        out["event"] = rng.choice(_WEIRD + ["bogus", "Media", "MEDIA "])
    elif roll == 4:
        out[event] = rng.choice(_WEIRD)                             # the object itself
    elif roll == 5:
        del out[event]
    else:                                                           # its key field
        out[event][_KEY[event]] = rng.choice(_WEIRD)
        if rng.random() < 0.3:
            out[rng.choice(["sequenceNumber", "streamSid", "extra"])] = rng.choice(_WEIRD)
    return json.dumps(out)


def random_batch(rng: random.Random, size: int) -> list[str | bytes]:
    """``size`` media, mark and dtmf messages, each damaged at random (seeded)."""
    templates = {
        "media": _media(),
        "mark": {"event": "mark", "sequenceNumber": "4", "streamSid": "MZprobe",
                 "mark": {"name": "frontdesk-1"}},
        "dtmf": {"event": "dtmf", "sequenceNumber": "5", "streamSid": "MZprobe",
                 "dtmf": {"track": "inbound_track", "digit": "5"}},
    }
    out: list[str | bytes] = []
    for _ in range(size):
        event = rng.choice(list(templates))
        out.append(_damaged(rng, event, templates[event]))
    return out
