"""Outgoing e-mail through SMTP (aiosmtplib), Resend or SendGrid, under circuit breakers.

Resend and SendGrid are called over their documented JSON APIs with httpx: their SDKs are
synchronous and keep the API key in module-level state, which one process serving several
configurations cannot share. Base URLs are settings so local servers can stand in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import httpx

from tools.breaker import Breakers, shared

log = logging.getLogger("frontdesk.email")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class EmailError(Exception):
    """Not sent. ``permanent`` when sending the same message again cannot work."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class EmailResult:
    backend: str
    delivered: bool
    message: str
    id: str | None = None


@dataclass(frozen=True)
class EmailConfig:
    """What Settings says about e-mail (kept apart so tools/ never reads frontdesk/)."""
    backend: str = "auto"
    stub_mode: bool = False
    sender: str = "frontdesk@localhost"
    smtp_url: str | None = None
    resend_api_key: str | None = None
    resend_api_url: str = "https://api.resend.com"
    sendgrid_api_key: str | None = None
    sendgrid_api_url: str = "https://api.sendgrid.com"

    @classmethod
    def of(cls, settings: Any) -> EmailConfig:
        return cls(backend=settings.email_backend, stub_mode=settings.integrations_stub_mode,
                   sender=settings.mail_from, smtp_url=settings.secret("smtp_url"),
                   resend_api_key=settings.secret("resend_api_key"),
                   resend_api_url=settings.resend_api_url,
                   sendgrid_api_key=settings.secret("sendgrid_api_key"),
                   sendgrid_api_url=settings.sendgrid_api_url)

    def chosen(self) -> str:
        if self.stub_mode:
            return "stub"
        if self.backend != "auto":
            return self.backend
        if self.resend_api_key:
            return "resend"
        if self.sendgrid_api_key:
            return "sendgrid"
        return "smtp" if self.smtp_url else "stub"


async def send_smtp(url: str, sender: str, to: str, subject: str, text: str) -> str:
    """One message over SMTP. smtp://user:pass@host:587 upgrades with STARTTLS when the
    server offers it; smtps:// is TLS from the start; smtp://host:25 suits a local relay.
    Returns the Message-ID."""
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="frontdesk")
    message.set_content(text)
    implicit_tls = parts.scheme == "smtps"
    try:
        await aiosmtplib.send(
            message, hostname=parts.hostname or "127.0.0.1",
            port=parts.port or (465 if implicit_tls else 25), use_tls=implicit_tls,
            start_tls=None if not implicit_tls else False,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password or "") if parts.username else None, timeout=10)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise EmailError(f"recipient refused: {exc}", permanent=True) from None
    except aiosmtplib.SMTPAuthenticationError:
        raise EmailError("SMTP authentication failed", permanent=True) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise EmailError(f"SMTP failed: {type(exc).__name__}") from None
    return str(message["Message-ID"])


def _failure(exc: BaseException) -> bool:
    return not (isinstance(exc, EmailError) and exc.permanent)


class Mailer:
    def __init__(self, config: EmailConfig, http: httpx.AsyncClient | None,
                 breakers: Breakers | None = None, *, alias: str | None = None) -> None:
        self.config = config
        self._http = http
        self._breakers = breakers or shared
        self._alias = alias

    @property
    def backend(self) -> str:
        return self.config.chosen()

    async def send(self, to: str, subject: str, text: str, *,
                   idempotency_key: str | None = None) -> EmailResult:
        backend = self.backend
        if backend == "stub":
            log.info("stub mode: e-mail %r to %s not sent", subject[:60], to)
            return EmailResult("stub", False, "stub mode: the e-mail was not sent")
        send = {"smtp": self._smtp, "resend": self._resend, "sendgrid": self._sendgrid}[backend]
        name = f"email:{backend}:{self._where(backend)}"
        breaker = self._breakers.get(name)
        if self._alias:
            self._breakers.alias(self._alias, name)
        message_id = await breaker.call(lambda: send(to, subject, text, idempotency_key),
                                        is_failure=_failure)
        return EmailResult(backend, True, f"sent through {backend}", message_id)

    def _where(self, backend: str) -> str:
        if backend == "smtp":
            parts = urlsplit(self.config.smtp_url or "")
            return f"{parts.hostname}:{parts.port}"
        return self.config.resend_api_url if backend == "resend" else self.config.sendgrid_api_url

    async def _smtp(self, to: str, subject: str, text: str, _key: str | None) -> str | None:
        if not self.config.smtp_url:
            raise EmailError("SMTP_URL is not set", permanent=True)
        return await send_smtp(self.config.smtp_url, self.config.sender, to, subject, text)

    async def _post(self, url: str, key: str, body: dict[str, Any],
                    headers: dict[str, str]) -> httpx.Response:
        try:
            response = await self._http.post(url, json=body, timeout=TIMEOUT,
                                             headers={"Authorization": f"Bearer {key}",
                                                      **headers})
        except httpx.HTTPError as exc:
            raise EmailError(f"unreachable: {type(exc).__name__}") from None
        if response.status_code >= 400:
            permanent = response.status_code < 500 and response.status_code != 429
            raise EmailError(f"HTTP {response.status_code}: {response.text[:200]}",
                             permanent=permanent)
        return response

    async def _resend(self, to: str, subject: str, text: str, key: str | None) -> str | None:
        if not self.config.resend_api_key:
            raise EmailError("RESEND_API_KEY is not set", permanent=True)
        response = await self._post(
            f"{self.config.resend_api_url.rstrip('/')}/emails", self.config.resend_api_key,
            {"from": self.config.sender, "to": [to], "subject": subject, "text": text},
            {"Idempotency-Key": key} if key else {})
        return response.json().get("id")

    async def _sendgrid(self, to: str, subject: str, text: str, _key: str | None) -> str | None:
        if not self.config.sendgrid_api_key:
            raise EmailError("SENDGRID_API_KEY is not set", permanent=True)
        response = await self._post(
            f"{self.config.sendgrid_api_url.rstrip('/')}/v3/mail/send",
            self.config.sendgrid_api_key,
            {"personalizations": [{"to": [{"email": to}]}], "from": {"email": self.config.sender},
             "subject": subject, "content": [{"type": "text/plain", "value": text}]}, {})
        return response.headers.get("x-message-id")
