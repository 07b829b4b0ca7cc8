"""Whisper transcription of one caller turn, on a window sized to the turn.

Whisper's encoder was trained on 30 s windows and costs the same whatever part of the
window holds speech; a caller's turn is a few seconds. CTranslate2 encodes a shorter
window too, and with at least ~5 s of silence after the speech the decoder still finds
the end of it: on phone-quality speech a 10 s window takes about a third of the time
for word error within 1.5 points of 30 s (2.4 for base on a hissing line; BENCHMARKS.md,
"Whisper window"). Shorter
windows make the decoder repeat the sentence until its token limit, so a decode that
runs away (a repeat, or no end before the limit), and one the model itself doubts is
speech, is redone on the full window exactly as faster-whisper would do it.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import numpy as np
import soxr

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer

WHISPER_SAMPLE_RATE = 16_000
FULL_WINDOW_S = 30.0
MIN_WINDOW_S = 10.0
SILENCE_AFTER_S = 5.0
# faster-whisper's own thresholds: the model's belief that nobody spoke, and the zlib
# ratio of a decode that loops.
NO_SPEECH_PROB = 0.6
LOOPING_COMPRESSION_RATIO = 2.4
# A segment whose loudest sample stays under -60 dBFS carries no speech to read: Whisper
# writes a word over digital silence ("I'm", "You") that its no-speech test does not
# always catch, and which word differs by CPU. Such a turn is not decoded at all.
SILENT_PEAK = 10 ** (-60 / 20)
# Fast speech is ~4 tokens a second; twice that plus a margin ends a runaway decode early.
TOKENS_PER_SECOND = 8
TOKENS_MARGIN = 16
# The domain's words, given to Whisper as the text that came before (its "initial prompt"):
# it then writes times as "3 p.m." and "11:30", weekdays and short answers as said, and the
# business's name as spelled. {business} is the client's name.
DOMAIN_PROMPT = ("A phone call to {business} to book an appointment. Monday, Tuesday, "
                 "Wednesday, Thursday, Friday, Saturday, Sunday. 9 a.m., 11:30 a.m., noon, "
                 "3 p.m., 4 o'clock. Yes. No. Bye.")
USE_PROMPT = True
# Greedy decoding: beam search costs more than it gains in the latency budget (BENCHMARKS.md).
BEAM_SIZE = 1


def domain_prompt(business: str | None) -> str | None:
    """The initial prompt for a client's calls (None: Whisper's own default)."""
    if not USE_PROMPT:
        return None
    return DOMAIN_PROMPT.format(business=business or "the office")


def config_fingerprint() -> str:
    """Changes whenever what a decode produces may change (benchmarks cache transcripts)."""
    return (f"v5|{SILENT_PEAK}|{MIN_WINDOW_S}|{SILENCE_AFTER_S}|{NO_SPEECH_PROB}|{BEAM_SIZE}|"
            f"{USE_PROMPT}|{DOMAIN_PROMPT}")


def transcribe_sync(whisper: WhisperModel, pcm16: bytes, sample_rate: int, *,
                    min_window_s: float = MIN_WINDOW_S,
                    silence_after_s: float = SILENCE_AFTER_S,
                    prompt: str | None = None) -> str:
    """Blocking transcription of 16-bit mono PCM; runs on a pool thread. "" for silence.

    ``prompt`` is text Whisper takes as said before the turn (the domain's words). A turn
    the short window hears nothing in, or rejects, is decoded again on the full window.
    """
    audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
    if sample_rate != WHISPER_SAMPLE_RATE:
        # Whisper assumes 16 kHz; 8 kHz phone audio fed as-is comes out as looping nonsense.
        audio = soxr.resample(audio, sample_rate, WHISPER_SAMPLE_RATE)
    if not audio.size or float(np.max(np.abs(audio))) < SILENT_PEAK:
        return ""
    seconds = len(audio) / WHISPER_SAMPLE_RATE
    window_s = max(min_window_s, seconds + silence_after_s)
    if window_s < FULL_WINDOW_S:
        text = _transcribe_window(whisper, audio, window_s, prompt)
        if text and not _HALLUCINATED.fullmatch(text):
            return text
    return _transcribe_full(whisper, audio, prompt)


def _transcribe_window(whisper: WhisperModel, audio: np.ndarray, window_s: float,
                       prompt_text: str | None = None) -> str | None:
    """Greedy decode over a ``window_s`` window; None when the decode ran away."""
    import ctranslate2
    from faster_whisper.transcribe import get_compression_ratio

    frames = round(window_s * 100)  # the feature extractor's hop is 10 ms
    # Pad with silent samples, not feature zeros: Whisper's log-mel of silence is not 0.
    padding = frames * whisper.feature_extractor.hop_length - len(audio)
    features = whisper.feature_extractor(audio, padding=max(padding, 0))[:, :frames]
    features = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))
    prompt, suppress, tokenizer = _decoding(whisper)
    if prompt_text:
        prompt = _previous(whisper, prompt_text) + prompt
    max_new = round(TOKENS_PER_SECOND * len(audio) / WHISPER_SAMPLE_RATE) + TOKENS_MARGIN
    result = whisper.model.generate(
        features, [prompt], beam_size=BEAM_SIZE, max_length=len(prompt) + max_new,
        return_scores=True, return_no_speech_prob=True,
        suppress_blank=True, suppress_tokens=suppress,
    )[0]
    tokens = result.sequences_ids[0]
    if len(tokens) >= max_new or result.no_speech_prob > NO_SPEECH_PROB:
        # On a short window the model hears "you" in silence and noise (no-speech
        # probability 0.93-0.99; speech stayed under 0.5 here, even noisy): let the full
        # window and faster-whisper's own silence test decide those.
        return None
    text = tokenizer.decode(tokens).strip()
    if _repeats(tokens) or get_compression_ratio(text) > LOOPING_COMPRESSION_RATIO:
        return None
    return text


def _repeats(tokens: list[int], shortest: int = 3) -> bool:
    """Whether a run of ``shortest`` or more tokens comes twice in a row.

    The short window's failure is saying the turn again ("Hello? Are you there? Hello?
    Are you there?"); zlib sees no loop in so little text. A caller who really repeats
    themselves costs one full-window decode, which transcribes the repeat faithfully.
    """
    for size in range(shortest, len(tokens) // 2 + 1):
        for start in range(len(tokens) - 2 * size + 1):
            if tokens[start:start + size] == tokens[start + size:start + 2 * size]:
                return True
    return False


@functools.cache
def _decoding(whisper: WhisperModel) -> tuple[list[int], list[int], Tokenizer]:
    """The prompt (English, no timestamps), the tokens to suppress, and the tokenizer."""
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    tokenizer = Tokenizer(whisper.hf_tokenizer, whisper.model.is_multilingual,
                          task="transcribe", language="en")
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    return prompt, get_suppressed_tokens(tokenizer, [-1]), tokenizer


@functools.lru_cache(maxsize=64)
def _previous(whisper: WhisperModel, text: str) -> list[int]:
    """``<|startofprev|>`` and the prompt's tokens, as faster-whisper builds them."""
    _, _, tokenizer = _decoding(whisper)
    tokens = tokenizer.encode(" " + text.strip())[-223:]  # half the 448-token context
    return [tokenizer.sot_prev, *tokens]


def _transcribe_full(whisper: WhisperModel, audio: np.ndarray, prompt: str | None = None) -> str:
    segments, _ = whisper.transcribe(
        audio,
        language="en",
        initial_prompt=prompt,
        beam_size=1,
        # A single temperature: the default fallback ladder retried noisy clips for seconds.
        temperature=0.0,
        vad_filter=False,  # the pipeline's VAD already cut the segment
        without_timestamps=True,
        condition_on_previous_text=False,
    )
    # The generator decodes lazily, so consume it here, on the pool thread. A segment the
    # model itself believes is not speech is dropped even when its words look likely: with
    # a prompt, silence and hiss come out as "You" (faster-whisper's own test also wants a
    # low log-probability, which the prompt hides).
    text = " ".join(s.text.strip() for s in segments
                    if s.text.strip() and s.no_speech_prob <= NO_SPEECH_PROB)
    return "" if _HALLUCINATED.fullmatch(text) else text


# What Whisper says over silence and line noise, alone in a turn.
_HALLUCINATED = re.compile(r"\s*(?:you|thank you|thanks for watching)[.!]?\s*", re.I)
