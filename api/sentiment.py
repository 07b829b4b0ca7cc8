"""Sentiment of a call from what the caller said, with VADER (an offline lexicon)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

# VADER's own recommended cut-offs on the compound score.
POSITIVE, NEGATIVE = 0.05, -0.05


@dataclass(frozen=True)
class Sentiment:
    compound: float | None    # -1..1; None when the caller said nothing
    label: str                # positive, neutral, negative or none
    caller_turns: int


@cache
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()   # loads the lexicon once per process


def label(compound: float | None) -> str:
    if compound is None:
        return "none"
    return "positive" if compound >= POSITIVE else "negative" if compound <= NEGATIVE \
        else "neutral"


def of_transcript(transcript: list[dict[str, Any]]) -> Sentiment:
    """Scored per caller turn and averaged: one long joined text would let VADER's
    normalisation saturate toward ±1 on any chatty call."""
    said = [str(t.get("content", "")).strip() for t in transcript
            if isinstance(t, dict) and t.get("role") == "user"]
    said = [s for s in said if s]
    if not said:
        return Sentiment(None, "none", 0)
    scores = [_analyzer().polarity_scores(s)["compound"] for s in said]
    compound = round(sum(scores) / len(scores), 4)
    return Sentiment(compound, label(compound), len(said))
