"""Which speech and language services a client's call gets, cloud or local.

``plan`` decides (cheaply, at /voice time) and records any fallback; ``build`` constructs
the per-call services. A provider whose credential is missing falls back to local, and
the plan says so; a provider that cannot run here raises ProviderUnavailable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from pipecat.processors.frame_processor import FrameProcessor

from db.clients import Client
from frontdesk.settings import Settings

if TYPE_CHECKING:
    from pipelines.local.models import LocalModels

LOCAL_STT_DEFAULT = "local/whisper-tiny.en"
LOCAL_STT = {"local/whisper-tiny.en", "local/whisper-base"}
BUILTIN_LLM = "builtin/receptionist"
LOCAL_TTS_VOICE = "en_US-joe-medium"
TTS_PROVIDERS = {"local", "cartesia", "elevenlabs"}


class ProviderUnavailable(Exception):
    """The client names a provider this server cannot run; the message says why."""


@dataclass(frozen=True)
class ProviderPlan:
    stt: str
    llm: str
    tts: str
    tts_voice: str
    fallbacks: list[dict[str, str]] = field(default_factory=list)

    def used(self) -> dict[str, str]:
        return {"stt": self.stt, "llm": self.llm, "tts": self.tts, "tts_voice": self.tts_voice}


@dataclass
class CallServices:
    stt: FrameProcessor
    llm: Any  # an LLMService: register_function() is called on it
    tts: FrameProcessor


class ProviderFactory(Protocol):
    def plan(self, client: Client) -> ProviderPlan: ...

    def build(self, plan: ProviderPlan, client: Client, *, call_sid: str) -> CallServices: ...


def system_instruction(client: Client, now: datetime | None = None) -> str:
    """The LLM's standing instruction: the owner's prompt plus facts it cannot know."""
    tz = ZoneInfo(client.timezone)
    now = (now or datetime.now(tz)).astimezone(tz)
    hours = ", ".join(f"{day} {span[0]}-{span[1]}" for day, span in client.business_hours.items())
    return (
        f"{client.system_prompt}\n\n"
        f"You are the phone receptionist of {client.name}. Keep replies to one or two short "
        f"spoken sentences; no lists or markdown. It is now {now:%A %Y-%m-%d %H:%M} "
        f"({client.timezone}). Opening hours: {hours or 'by appointment'}. Use the tools to "
        "check availability and book; never claim a booking the tool did not confirm. "
        "When the caller is done, say goodbye and call end_call."
    ).strip()


class DefaultProviderFactory:
    """Cloud providers when their credentials are configured, local models otherwise."""

    def __init__(self, settings: Settings, local: LocalModels | None) -> None:
        self._s = settings
        self._local = local

    def use_local(self, local: LocalModels | None) -> None:
        """The offline models, once they have loaded (the app serves while they load)."""
        self._local = local

    def plan(self, client: Client) -> ProviderPlan:
        fallbacks: list[dict[str, str]] = []

        def fallback(kind: str, requested: str, used: str, reason: str) -> str:
            fallbacks.append({"kind": kind, "requested": requested, "used": used,
                              "reason": reason})
            return used

        stt = client.stt_model
        if stt.startswith("deepgram/"):
            if not self._s.deepgram_api_key:
                stt = fallback("stt", stt, LOCAL_STT_DEFAULT, "DEEPGRAM_API_KEY is not set")
        elif stt not in LOCAL_STT:
            raise ProviderUnavailable(f"unknown stt_model {stt!r}")

        llm = client.llm_model
        if llm.startswith("openai/"):
            if not (self._s.openai_api_key or self._s.openai_base_url):
                llm = fallback("llm", llm, BUILTIN_LLM, "OPENAI_API_KEY is not set")
        elif llm != BUILTIN_LLM:
            raise ProviderUnavailable(f"unknown llm_model {llm!r}")

        tts, voice = client.tts_provider, client.tts_voice_id
        if tts not in TTS_PROVIDERS:
            raise ProviderUnavailable(f"unknown tts_provider {tts!r}")
        key = {"cartesia": self._s.cartesia_api_key, "elevenlabs": self._s.elevenlabs_api_key}
        if tts != "local" and not key[tts]:
            fallback("tts", tts, "local", f"{tts.upper()}_API_KEY is not set")
            tts, voice = "local", LOCAL_TTS_VOICE
        if tts == "local" and voice != LOCAL_TTS_VOICE:
            voice = fallback("tts_voice", voice, LOCAL_TTS_VOICE, "voice is not installed locally")

        self._require_local(stt, tts)
        return ProviderPlan(stt=stt, llm=llm, tts=tts, tts_voice=voice, fallbacks=fallbacks)

    def _require_local(self, stt: str, tts: str) -> None:
        needs_stt = stt.startswith("local/")
        if not (needs_stt or tts == "local"):
            return
        if self._local is None:
            raise ProviderUnavailable(
                "local speech models are not loaded: install them with "
                "pip install 'frontdesk[local]' and start with LOCAL_MODELS=true")
        if needs_stt and stt not in self._local.stt_models:
            raise ProviderUnavailable(f"local STT model {stt!r} is not loaded")
        if tts == "local" and LOCAL_TTS_VOICE not in self._local.tts_voices:
            raise ProviderUnavailable(f"local voice {LOCAL_TTS_VOICE!r} is not loaded")

    def build(self, plan: ProviderPlan, client: Client, *, call_sid: str) -> CallServices:
        return CallServices(stt=self._stt(plan, client), llm=self._llm(plan, client),
                            tts=self._tts(plan, client))

    def _stt(self, plan: ProviderPlan, client: Client) -> FrameProcessor:
        if plan.stt.startswith("deepgram/"):
            from pipecat.services.deepgram.stt import DeepgramSTTService

            return DeepgramSTTService(
                api_key=self._s.secret("deepgram_api_key"), base_url=self._s.deepgram_url,
                settings=DeepgramSTTService.Settings(model=plan.stt.split("/", 1)[1]))
        from pipelines.local.whisper_stt import LocalWhisperSTTService

        assert self._local is not None
        return LocalWhisperSTTService(models=self._local, model=plan.stt,
                                      business_name=client.name)

    def _llm(self, plan: ProviderPlan, client: Client) -> Any:
        if plan.llm.startswith("openai/"):
            from pipecat.services.openai.llm import OpenAILLMService

            return OpenAILLMService(
                api_key=self._s.secret("openai_api_key") or "not-needed",
                base_url=self._s.openai_base_url,
                settings=OpenAILLMService.Settings(
                    model=plan.llm.split("/", 1)[1], system_instruction=system_instruction(client),
                    temperature=float(client.settings.get("temperature", 0.7)),
                    max_tokens=int(client.settings.get("max_tokens", 300))))
        from pipelines.receptionist.service import create_receptionist_llm

        return create_receptionist_llm(business_name=client.name, timezone=client.timezone,
                                       initial_greeting=client.initial_greeting,
                                       business_hours=client.business_hours,
                                       phone_number=client.phone_number)

    def _tts(self, plan: ProviderPlan, client: Client) -> FrameProcessor:
        speed = float(client.settings.get("voice_speed", 1.0))
        if plan.tts == "cartesia":
            from pipecat.services.cartesia.tts import CartesiaTTSService

            return CartesiaTTSService(
                api_key=self._s.secret("cartesia_api_key"),
                url=f"{self._s.cartesia_url}/tts/websocket",
                settings=CartesiaTTSService.Settings(voice=plan.tts_voice))
        if plan.tts == "elevenlabs":
            from pipecat.services.elevenlabs.tts import ElevenLabsTTSService

            return ElevenLabsTTSService(
                api_key=self._s.secret("elevenlabs_api_key"), url=self._s.elevenlabs_url,
                settings=ElevenLabsTTSService.Settings(voice=plan.tts_voice))
        from pipelines.local.piper_tts import LocalPiperTTSService, LocalPiperTTSSettings

        assert self._local is not None
        return LocalPiperTTSService(models=self._local, settings=LocalPiperTTSSettings(
            voice=plan.tts_voice, speed=speed))
