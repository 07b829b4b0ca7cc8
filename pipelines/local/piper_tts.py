"""Text-to-speech with a Piper voice borrowed from the process's ``LocalModels``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import soxr
from pipecat.frames.frames import Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService
from pipecat.utils.types import NOT_GIVEN, NotGiven

from pipelines.local.models import VOICE_JOE, LocalModels, LocalModelUnavailable

if TYPE_CHECKING:
    from piper import PiperVoice
    from piper.voice import AudioChunk


@dataclass
class LocalPiperTTSSettings(TTSSettings):
    """Piper settings; ``speed`` is a rate multiplier (1.2 = 20 % faster, 0.9 = slower)."""

    speed: float | NotGiven = field(default_factory=lambda: NOT_GIVEN)


class LocalPiperTTSService(TTSService):
    """Speaks each sentence as soon as Piper has synthesized it.

    Piper yields one chunk per sentence; each is synthesized and resampled to the
    pipeline's output rate on the shared TTS pool, then pushed at once, so the
    caller hears the first sentence while later ones are still being made.
    """

    Settings = LocalPiperTTSSettings
    _settings: LocalPiperTTSSettings

    def __init__(
        self, *, models: LocalModels, settings: LocalPiperTTSSettings | None = None, **kwargs: Any
    ) -> None:
        store = LocalPiperTTSSettings(model=None, voice=VOICE_JOE, language=None, speed=1.0)
        if settings is not None:
            store.apply_update(settings)
        super().__init__(push_start_frame=True, push_stop_frames=True, settings=store, **kwargs)
        self._models = models
        self._voice: PiperVoice = models.voice(str(store.voice))
        self._reply_context: str | None = None

    def can_generate_metrics(self) -> bool:
        return True

    async def _update_settings(self, delta: TTSSettings) -> dict[str, Any]:
        changed = await super()._update_settings(delta)
        if "voice" in changed:
            try:
                self._voice = self._models.voice(str(self._settings.voice))
            except LocalModelUnavailable as exc:
                # Voices load only at start-up; keep speaking with the old one.
                self._settings.voice = changed["voice"]
                await self.push_error(str(exc))
        return changed

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        from piper.config import SynthesisConfig

        await self.start_tts_usage_metrics(text)
        config = SynthesisConfig(
            length_scale=(self._voice.config.length_scale or 1.0) / max(self._settings.speed, 0.1))
        pieces = [text]
        if context_id != self._reply_context:
            # The caller is waiting on a reply's first sentence only; later ones are made
            # while earlier ones play.
            self._reply_context = context_id
            pieces = split_first_clause(text)
        loop = asyncio.get_running_loop()
        for piece in pieces:
            # A generator: phonemizing and synthesis run on the pool thread, sentence by sentence.
            chunks = iter(self._voice.synthesize(piece, config))
            while True:
                pcm = await loop.run_in_executor(
                    self._models.tts_executor, _next_pcm, chunks, self.sample_rate
                )
                if pcm is None:
                    break
                await self.stop_ttfb_metrics()
                yield TTSAudioRawFrame(pcm, self.sample_rate, 1, context_id=context_id)


# Piper takes ~75 ms per second of speech here and has nothing to play until a whole
# sentence is made, so a long first sentence keeps the caller waiting (0.4 s for "Let me
# confirm: Thursday, November 26 at 3 PM, for John Smith."). Its first clause is spoken
# on its own; the comma or colon already marks a pause there.
_CLAUSE_END = re.compile(r"[,:;](?=\s)")
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")
LONG_SENTENCE_WORDS = 7
MIN_CLAUSE_WORDS = 2
MIN_REST_WORDS = 3


def split_first_clause(text: str) -> list[str]:
    """``text`` with its first sentence's leading clause split off, when that sentence is long."""
    end = _SENTENCE_END.search(text)
    sentence = text[: end.end()] if end else text
    if len(sentence.split()) < LONG_SENTENCE_WORDS:
        return [text]
    for mark in _CLAUSE_END.finditer(sentence):
        cut = mark.end()
        if (len(sentence[:cut].split()) >= MIN_CLAUSE_WORDS
                and len(sentence[cut:].split()) >= MIN_REST_WORDS):
            return [text[:cut], text[cut:].strip()]
    return [text]


def _next_pcm(chunks: Iterator[AudioChunk], sample_rate: int) -> bytes | None:
    """The next sentence as 16-bit PCM at ``sample_rate``; None when done. Runs on the pool."""
    chunk = next(chunks, None)
    if chunk is None:
        return None
    audio = chunk.audio_int16_array
    if chunk.sample_rate != sample_rate:
        audio = soxr.resample(audio, chunk.sample_rate, sample_rate)
    return np.asarray(audio, dtype=np.int16).tobytes()
