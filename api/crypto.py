"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from configuration.

ENCRYPTION_KEY may list several keys, comma-separated: the first encrypts, every one
decrypts, so keys can be rotated without re-encrypting first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class Sealer:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    @classmethod
    def from_config(cls, value: str) -> Sealer:
        return cls([k.strip() for k in value.split(",") if k.strip()])

    @classmethod
    def from_server_secret(cls, secret: str) -> Sealer:
        # A generated server secret is not a Fernet key: derive one from it.
        return cls([base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).decode()])

    def seal(self, value: dict[str, Any]) -> bytes:
        return self._fernet.encrypt(json.dumps(value).encode())

    def open(self, token: bytes) -> dict[str, Any]:
        try:
            return json.loads(self._fernet.decrypt(token))
        except InvalidToken:
            raise ValueError("cannot decrypt: wrong ENCRYPTION_KEY?") from None


def token_hash(token: str) -> str:
    """Lookup hash for high-entropy tokens (refresh, reset, API keys, OAuth states)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
