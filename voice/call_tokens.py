"""Short-lived HMAC tokens that bind a media stream to the call /voice accepted.

The token travels in TwiML as a <Parameter> and comes back in ``start.customParameters``.
Verifying it here is only the cheap first gate (signature, freshness, call and client);
"unused" is enforced by the database, which consumes the nonce exactly once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass


class InvalidToken(Exception):
    """The stream presented no token, a forged one, a stale one, or another call's."""


@dataclass(frozen=True)
class CallToken:
    call_sid: str
    client_id: int
    issued_at: float
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(secret: str, *, call_sid: str, client_id: int, now: float | None = None
          ) -> tuple[str, CallToken]:
    claims = CallToken(call_sid, client_id, time.time() if now is None else now,
                       secrets.token_urlsafe(16))
    body = _b64(json.dumps({"c": claims.call_sid, "k": claims.client_id,
                            "t": round(claims.issued_at, 3), "n": claims.nonce},
                           separators=(",", ":")).encode())
    return f"{body}.{_sign(secret, body)}", claims


def verify(secret: str, token: object, *, call_sid: str, client_id: int, ttl_seconds: float,
           now: float | None = None) -> CallToken:
    if not isinstance(token, str) or token.count(".") != 1 or len(token) > 512:
        raise InvalidToken("missing or malformed token")
    body, signature = token.split(".")
    if not hmac.compare_digest(signature, _sign(secret, body)):
        raise InvalidToken("bad signature")
    try:
        raw = json.loads(_unb64(body))
        claims = CallToken(str(raw["c"]), int(raw["k"]), float(raw["t"]), str(raw["n"]))
    except (ValueError, KeyError, TypeError):
        raise InvalidToken("malformed claims") from None
    age = (time.time() if now is None else now) - claims.issued_at
    if not -5 <= age <= ttl_seconds:  # a little slack for clock skew between processes
        raise InvalidToken("expired")
    if claims.call_sid != call_sid:
        raise InvalidToken("token is for another call")
    if claims.client_id != client_id:
        raise InvalidToken("token is for another client")
    return claims


def _sign(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()[:24])
