"""X-Twilio-Signature checks, computed over the configured public URL, never the Host header."""

from __future__ import annotations

from collections.abc import Mapping

from twilio.request_validator import RequestValidator


class TwilioSignatures:
    """Validates webhook signatures; with no auth token (development only) accepts all."""

    def __init__(self, auth_token: str | None, public_url: str) -> None:
        self._validator = RequestValidator(auth_token) if auth_token else None
        self._public_url = public_url

    @property
    def enforced(self) -> bool:
        return self._validator is not None

    def valid(self, path_and_query: str, form: Mapping[str, str], signature: str | None) -> bool:
        if self._validator is None:
            return True
        if not signature:
            return False
        return self._validator.validate(self._public_url + path_and_query, dict(form), signature)
