"""What the telephony edge borrows from the application for its whole life."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field

import asyncpg

from frontdesk.logs import Throttled
from frontdesk.settings import Settings
from pipelines.providers import ProviderFactory
from voice.readiness import Readiness
from voice.registry import CallRegistry
from voice.signatures import TwilioSignatures
from voice.stream_gate import StreamGate
from voice.twilio_rest import TwilioRest

# Anyone can open a socket and be refused: those lines are throttled, and counted.
REFUSAL_LOG_SECONDS = 10.0


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
    gate: StreamGate
    readiness: Readiness
    refusals: Throttled = field(default_factory=lambda: Throttled(
        logging.getLogger("frontdesk.voice"), REFUSAL_LOG_SECONDS))
