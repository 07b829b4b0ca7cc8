"""What the telephony edge borrows from the application for its whole life."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from frontdesk.settings import Settings
from pipelines.providers import ProviderFactory
from voice.registry import CallRegistry
from voice.signatures import TwilioSignatures
from voice.twilio_rest import TwilioRest


@dataclass(frozen=True)
class VoiceState:
    settings: Settings
    pool: asyncpg.Pool
    calls: CallRegistry
    providers: ProviderFactory
    signatures: TwilioSignatures
    token_secret: str
    process_id: uuid.UUID
    twilio: TwilioRest
