"""The numbers on a Twilio webhook: the one dialled (To) and the caller's ID (From).

Both are stored and shown to owners (and exported to spreadsheets), so only known forms
are accepted, normalized: an E.164 number; ``anonymous`` for a withheld caller ID in any of
the spellings carriers and Twilio use; ``client:<identity>`` for a Twilio Voice SDK client.
"""

from __future__ import annotations

import re

import phonenumbers

ANONYMOUS = "anonymous"
# What Twilio puts in From when the caller ID is withheld, as words or as the keypad
# spelling of those words.
_WITHHELD = frozenset({"anonymous", "restricted", "unknown", "unavailable", "blocked",
                       "private", "withheld", "+266696687", "+7378742833", "+8656696",
                       "+2562533", "+86282452253"})
_CLIENT = re.compile(r"client:([A-Za-z0-9_.@-]{1,121})")
# Digits and the separators people write numbers with; letters (vanity numbers), ";ext="
# or "x12" are not a number Twilio routes.
_NUMBER_CHARS = re.compile(r"\+[0-9 ().-]{4,30}")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def e164(number: str) -> str | None:
    """A dialable number normalized to E.164, or None (extensions included)."""
    if not _NUMBER_CHARS.fullmatch(number.strip()):
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if parsed.extension or not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_e164(value: str) -> bool:
    return bool(_E164.fullmatch(value))


def caller_id(value: str) -> str | None:
    """The caller's ID as stored, or None when it is none of the forms Twilio sends."""
    text = value.strip()
    if text.lower() in _WITHHELD or text == "":
        return ANONYMOUS
    if match := _CLIENT.fullmatch(text):
        return f"client:{match.group(1)}"
    return e164(text)
