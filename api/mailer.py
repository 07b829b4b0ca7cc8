"""Outgoing e-mail (password resets) over SMTP, configured by SMTP_URL.

smtp://user:pass@host:587 uses STARTTLS when the server offers it; smtps:// is TLS from
the start; smtp://host:25 without credentials suits a local relay.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

log = logging.getLogger("frontdesk.api")


class MailNotConfigured(Exception):
    pass


def _send(url: str, sender: str, to: str, subject: str, body: str) -> None:
    parts = urlsplit(url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    host = parts.hostname or "127.0.0.1"
    if parts.scheme == "smtps":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, parts.port or 465, timeout=10,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=10)
    with smtp:
        smtp.ehlo()
        if parts.scheme == "smtp" and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(message)


async def send(smtp_url: str | None, sender: str, to: str, subject: str, body: str) -> None:
    if not smtp_url:
        raise MailNotConfigured("SMTP_URL is not set")
    await asyncio.to_thread(_send, smtp_url, sender, to, subject, body)
