"""Outgoing e-mail of the API itself (password resets) over SMTP, configured by SMTP_URL.

The sending is tools.email's (STARTTLS when offered, smtps:// for TLS from the start).
"""

from __future__ import annotations

from tools.email import EmailError, send_smtp


class MailNotConfigured(Exception):
    pass


async def send(smtp_url: str | None, sender: str, to: str, subject: str, body: str) -> None:
    """Raises MailNotConfigured without SMTP_URL, OSError when sending fails."""
    if not smtp_url:
        raise MailNotConfigured("SMTP_URL is not set")
    try:
        await send_smtp(smtp_url, sender, to, subject, body)
    except EmailError as exc:
        raise OSError(str(exc)) from None
