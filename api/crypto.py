"""Token hashes and comparisons; Sealer (secrets at rest) lives in db.sealing, re-exported
here for the API's callers."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from db.sealing import Sealer

__all__ = ["Sealer", "new_token", "same", "token_hash"]


def token_hash(token: str) -> str:
    """Lookup hash for high-entropy tokens (refresh, reset, API keys, OAuth states)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
