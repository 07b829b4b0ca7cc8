"""Segmented speech-to-text on the process's shared Whisper model."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

from pipelines.local.models import WHISPER_TINY_EN, LocalModels
from pipelines.local.transcribe import domain_prompt

# What the agent receives for a turn the VAD heard speech in but Whisper could not read,
# so it asks again instead of waiting in silence (an LLM reads it the same way).
INAUDIBLE = "[inaudible]"


class LocalWhisperSTTService(SegmentedSTTService):
    """Transcribes each VAD segment with a Whisper model borrowed from ``LocalModels``.

    Needs VAD frames upstream (a VADProcessor or the user aggregator's VAD). Audio
    arrives at the pipeline input rate (8 kHz from Twilio) and is resampled to
    16 kHz on the shared STT pool; each segment yields one finalized TranscriptionFrame,
    ``[inaudible]`` when Whisper heard nothing in it.
    """

    def __init__(self, *, models: LocalModels, model: str = WHISPER_TINY_EN,
                 business_name: str | None = None, **kwargs: Any) -> None:
        models.whisper(model)  # fail at construction, not on the caller's first sentence
        self._prompt = domain_prompt(business_name)
        # Whisper models here are run English-only; the language is fixed, not a setting.
        settings = STTSettings(model=model, language=Language.EN)
        super().__init__(settings=settings, **kwargs)
        self._models = models

    @property
    def wants_wav_segments(self) -> bool:
        return False  # raw 16-bit PCM; Whisper would read a WAV header as samples

    def can_generate_metrics(self) -> bool:
        return True

    async def _update_settings(self, delta: STTSettings) -> dict[str, Any]:
        changed = await super()._update_settings(delta)
        if "model" in changed and str(self._settings.model) not in self._models.stt_models:
            # Models load only at start-up; keep transcribing with the old one.
            await self.push_error(f"STT model {self._settings.model!r} is not loaded")
            self._settings.model = changed["model"]
        return changed

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        await self.start_processing_metrics()
        try:
            text = await self._models.transcribe(
                audio, sample_rate=self.sample_rate, model=str(self._settings.model),
                prompt=self._prompt,
            )
        finally:
            await self.stop_processing_metrics()
        # The VAD heard speech: a turn never vanishes, even when neither window could read it.
        yield TranscriptionFrame(
            text or INAUDIBLE, self._user_id, time_now_iso8601(), Language.EN, finalized=True
        )
