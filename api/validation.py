"""Input rules shared by the routers: clean text, E.164 numbers, providers, tools, hours."""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from fastapi import Path
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, field_validator

from tools.registry import KNOWN_TOOLS

# Provider names a client may choose. Kept here rather than imported from pipelines/ (api/
# may import only db and tools); tests/test_api_clients.py checks they match
# pipelines.providers.
LOCAL_STT = frozenset({"local/whisper-tiny.en", "local/whisper-base"})
BUILTIN_LLM = "builtin/receptionist"
TTS_PROVIDERS = frozenset({"local", "cartesia", "elevenlabs"})
LOCAL_TTS_VOICE = "en_US-joe-medium"
_CLOUD_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
MAX_ID = 2**63 - 1  # PostgreSQL bigint


def clean_text(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates: refuse them up front."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def scrub(value: str) -> str:
    """Text from a third party, made storable rather than refused."""
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(v) for v in value]
    return value


def e164(value: str) -> str:
    """A valid phone number, normalized to E.164 (+14155552671)."""
    clean_text(value)
    if not value.strip().startswith("+"):
        raise ValueError("must be an E.164 phone number starting with +, e.g. +14155552671")
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number; use E.164, e.g. +14155552671") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number; use E.164, e.g. +14155552671")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


CleanStr = Annotated[str, AfterValidator(clean_text)]
Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(e164)]
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id", examples=[1])]


def stt_model(value: str) -> str:
    if value in LOCAL_STT:
        return value
    vendor, _, model = value.partition("/")
    if vendor == "deepgram" and _CLOUD_MODEL.match(model):
        return value
    raise ValueError(f"unknown STT model; use one of {sorted(LOCAL_STT)} or deepgram/<model>")


def llm_model(value: str) -> str:
    if value == BUILTIN_LLM:
        return value
    vendor, _, model = value.partition("/")
    if vendor == "openai" and _CLOUD_MODEL.match(model):
        return value
    raise ValueError(f"unknown LLM model; use {BUILTIN_LLM} or openai/<model>")


def tts_provider(value: str) -> str:
    if value not in TTS_PROVIDERS:
        raise ValueError(f"unknown TTS provider; use one of {sorted(TTS_PROVIDERS)}")
    return value


def enabled_tools(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - KNOWN_TOOLS)
    if unknown:
        raise ValueError(f"unknown tools {unknown}; known: {sorted(KNOWN_TOOLS)}")
    return list(dict.fromkeys(value))  # keep order, drop duplicates


def timezone(value: str) -> str:
    clean_text(value)
    if value not in _zones():
        raise ValueError("unknown IANA time zone, e.g. America/New_York")
    ZoneInfo(value)
    return value


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones() | {"UTC"})
    return _ZONES


def business_hours(value: dict[str, list[str]]) -> dict[str, list[str]]:
    for day, span in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"unknown day {day!r}; use {', '.join(WEEKDAYS)}")
        if len(span) != 2 or not all(_HHMM.match(t) for t in span) or span[0] >= span[1]:
            raise ValueError(f"{day}: use [\"HH:MM\", \"HH:MM\"] with opening before closing")
    return value


class Input(BaseModel):
    """Request bodies: unknown fields are refused (422 naming them), text is clean."""
    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, value: Any) -> Any:
        return clean_json(value)
