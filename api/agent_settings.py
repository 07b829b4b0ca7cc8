"""/api/clients/{id}/settings: the agent's tunables, kept in clients.settings (jsonb),
where the call pipeline reads them. Standard keys are typed and bounded; custom keys take
any JSON value. greeting_message is the client's initial_greeting column."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from api.auth import Principal, require
from api.errors import ApiError, responses
from api.validation import Id, clean_json, clean_text
from db import clients
from db.clients import Client

router = APIRouter(prefix="/clients/{client_id}/settings", tags=["agent settings"])

Read = Annotated[Principal, Depends(require("read:clients"))]
Write = Annotated[Principal, Depends(require("write:clients"))]
Key = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,63}$", examples=["max_call_duration"],
                          description="Setting name: lower-case letters, digits, _")]

GREETING = "greeting_message"
MAX_CUSTOM_KEYS = 50
MAX_CUSTOM_BYTES = 8192


@dataclass(frozen=True)
class Spec:
    type: str                     # string | integer | number | boolean
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None


STANDARD: dict[str, Spec] = {
    GREETING: Spec("string", None, "First thing the agent says (1-200 characters)", 1, 200),
    "max_call_duration": Spec("integer", 1800, "Hang up after this many seconds", 60, 3600),
    "voice_speed": Spec("number", 1.0, "Speaking rate of the voice", 0.5, 1.2),
    "temperature": Spec("number", 0.7, "LLM sampling temperature", 0.0, 2.0),
    "max_tokens": Spec("integer", 300, "Longest LLM reply, in tokens", 50, 1000),
    "enable_transcription": Spec("boolean", True, "Keep a transcript of each call"),
    "silence_timeout": Spec("number", 10.0,
                            "Seconds of caller silence before the agent prompts", 2.0, 60.0),
    "sms_confirmations": Spec("boolean", True, "Text the caller a confirmation of each booking"),
    "sms_reminder_hours": Spec("integer", 24, "Text a reminder this many hours before an"
                               " appointment (0: none)", 0, 168),
    "owner_notifications": Spec("boolean", True, "E-mail the owners about new bookings and"
                                " messages"),
    "daily_digest": Spec("boolean", True, "E-mail the owners a digest of the day's calls"),
    "digest_hour": Spec("integer", 8, "Local hour the daily digest is sent", 0, 23),
    "outbound_greeting": Spec("string", None, "First thing the agent says on a call it"
                              " places (default: the greeting)", 1, 300),
    "voicemail_message": Spec("string", None, "What a placed call leaves on an answering"
                              " machine (unset: hang up)", 1, 500),
    "recording": Spec("boolean", False, "Record both sides of each call (stereo WAV) and keep"
                      " the caller's stream for replay"),
    "recording_retention_days": Spec("integer", 30, "Delete a call's recording this many days"
                                     " after the call", 1, 3650),
    "stripe_account": Spec("string", None, "The business's connected Stripe account (acct_...)"
                           " its payment links pay into and its memberships are read from"
                           " (unset: the server's account)", 6, 255),
    "payment_max_amount": Spec("number", 500.0, "The largest deposit or fee the agent's"
                               " create_payment may ask for", 0.5, 100_000),
}


def defaults() -> dict[str, Any]:
    """Written into a new client's settings so the pipeline sees explicit values."""
    return {k: s.default for k, s in STANDARD.items() if k != GREETING and s.default is not None}


class SettingOut(BaseModel):
    key: str = Field(examples=["max_call_duration"])
    value: Any = Field(examples=[600])
    standard: bool = Field(description="A built-in key with a type and bounds", examples=[True])
    is_default: bool = Field(examples=[False])
    type: str | None = Field(None, examples=["integer"])
    minimum: float | None = Field(None, examples=[60])
    maximum: float | None = Field(None, examples=[3600])
    description: str | None = Field(None, examples=["Hang up after this many seconds"])


class SettingIn(BaseModel):
    value: Any = Field(description="Any JSON value; standard keys are checked against their"
                                   " type and bounds", examples=[600])


def _out(client: Client, key: str) -> SettingOut:
    spec = STANDARD.get(key)
    if key == GREETING:
        return SettingOut(key=key, value=client.initial_greeting, standard=True,
                          is_default=False, type=spec.type, minimum=spec.minimum,
                          maximum=spec.maximum, description=spec.description)
    if spec is None:
        return SettingOut(key=key, value=client.settings[key], standard=False, is_default=False)
    present = key in client.settings
    return SettingOut(key=key, value=client.settings[key] if present else spec.default,
                      standard=True, is_default=not present, type=spec.type,
                      minimum=spec.minimum, maximum=spec.maximum, description=spec.description)


def _bad(key: str, message: str) -> ApiError:
    return ApiError(400, f"{key}: {message}", "invalid_setting")


def check_standard(key: str, spec: Spec, value: Any) -> Any:
    """The value to store, or a 400 naming the key and its bound."""
    bounds = f"between {spec.minimum:g} and {spec.maximum:g}" if spec.minimum is not None else ""
    if spec.type == "boolean":
        if not isinstance(value, bool):
            raise _bad(key, "must be true or false")
        return value
    if spec.type == "string":
        if not isinstance(value, str):
            raise _bad(key, "must be a string")
        try:
            value = clean_text(value.strip())
        except ValueError:
            raise _bad(key, "must be valid text") from None
        if not spec.minimum <= len(value) <= spec.maximum:
            raise _bad(key, f"must be {bounds} characters long")
        return value
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (isinstance(value, float) and not math.isfinite(value)):
        raise _bad(key, f"must be a {spec.type} {bounds}")
    if spec.type == "integer":
        if isinstance(value, float) and not value.is_integer():
            raise _bad(key, f"must be a whole number {bounds}")
        value = int(value)
    if not spec.minimum <= value <= spec.maximum:
        raise _bad(key, f"must be {bounds} (got {value})")
    return value if spec.type == "integer" else float(value)


async def _load(request: Request, principal: Principal, client_id: int) -> Client:
    client = await clients.get_for_org(request.state.api.pool, principal.organization_id, client_id)
    if client is None:
        raise ApiError(404, "client not found")
    return client


@router.get("", response_model=list[SettingOut],
            summary="Every standard setting (with defaults) and every custom one"
                    " (scope read:clients)", responses=responses(401, 403, 404, 429))
async def list_settings(client_id: Id, request: Request, principal: Read) -> list[SettingOut]:
    client = await _load(request, principal, client_id)
    custom = sorted(k for k in client.settings if k not in STANDARD)
    return [_out(client, k) for k in [*STANDARD, *custom]]


@router.get("/{key}", response_model=SettingOut, summary="One setting (scope read:clients)",
            responses=responses(401, 403, 404, 422, 429))
async def get_setting(client_id: Id, key: Key, request: Request,
                      principal: Read) -> SettingOut:
    client = await _load(request, principal, client_id)
    if key not in STANDARD and key not in client.settings:
        raise ApiError(404, f"no setting {key!r}")
    return _out(client, key)


@router.put("/{key}", response_model=SettingOut,
            summary="Set one setting (scope write:clients)",
            responses=responses(400, 401, 403, 404, 422, 429))
async def put_setting(client_id: Id, key: Key, body: SettingIn, request: Request,
                      principal: Write) -> SettingOut:
    pool = request.state.api.pool
    client = await _load(request, principal, client_id)
    spec = STANDARD.get(key)
    if spec is not None:
        value = check_standard(key, spec, body.value)
    else:
        try:
            value = clean_json(body.value)
        except ValueError as exc:
            raise _bad(key, str(exc)) from None
        if len(json.dumps(value)) > MAX_CUSTOM_BYTES:
            raise _bad(key, f"custom values are limited to {MAX_CUSTOM_BYTES} bytes of JSON")
        custom = {k for k in client.settings if k not in STANDARD}
        if key not in custom and len(custom) >= MAX_CUSTOM_KEYS:
            raise _bad(key, f"a client has at most {MAX_CUSTOM_KEYS} custom settings")
    if key == GREETING:
        updated = await clients.update_for_org(pool, principal.organization_id, client_id,
                                                 initial_greeting=value)
    else:
        updated = await clients.set_setting(pool, principal.organization_id, client_id, key, value)
    if updated is None:
        raise ApiError(404, "client not found")
    return _out(updated, key)


@router.delete("/{key}", status_code=204, response_class=Response,
               summary="Remove a custom setting, or reset a standard one to its default"
                       " (scope write:clients)", responses=responses(400, 401, 403, 404, 422, 429))
async def delete_setting(client_id: Id, key: Key, request: Request,
                         principal: Write) -> Response:
    client = await _load(request, principal, client_id)
    if key == GREETING:
        raise _bad(key, "cannot be removed; set a new greeting instead")
    if key not in STANDARD and key not in client.settings:
        raise ApiError(404, f"no setting {key!r}")
    if key in STANDARD:
        await clients.set_setting(request.state.api.pool, principal.organization_id, client_id, key,
                                  STANDARD[key].default)
    else:
        await clients.remove_setting(request.state.api.pool, principal.organization_id,
                                     client_id, key)
    return Response(status_code=204)
