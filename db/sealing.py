"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from configuration.

ENCRYPTION_KEY may list several keys, comma-separated: the first encrypts, every one
decrypts, so keys can be rotated without re-encrypting first. Here in db/ because both the
API (which stores credentials) and the tools (which refresh them) seal and open them.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from db import secrets
from db.pool import Executor


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


async def server_sealer(db: Executor, configured: str | None) -> Sealer:
    """The configured keys, or else the key kept in the database (development only)."""
    if configured:
        return Sealer.from_config(configured)
    return Sealer.from_server_secret(await secrets.get_or_create(db, "encryption"))
