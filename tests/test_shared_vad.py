"""The process-wide Silero session: each call keeps its own state and still hears speech."""

from __future__ import annotations

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADState

from pipelines.inbound import VAD
from pipelines.shared_vad import SharedSileroVADAnalyzer

pytest.importorskip("piper")
from tests.speech import resample, synthesize_caller  # noqa: E402


async def states(analyzer: SharedSileroVADAnalyzer, pcm: bytes) -> list[VADState]:
    step = analyzer.num_frames_required() * 2
    return [await analyzer.analyze_audio(pcm[i:i + step])
            for i in range(0, len(pcm) - step, step)]


async def test_two_calls_share_the_session_but_not_the_state():
    pcm, rate = synthesize_caller("Hello, I would like to book an appointment.")
    speech = resample(pcm, rate, 8000)
    silence = np.zeros(8000, dtype=np.int16).tobytes()
    a = SharedSileroVADAnalyzer(sample_rate=8000, params=VAD)
    b = SharedSileroVADAnalyzer(sample_rate=8000, params=VAD)
    for analyzer in (a, b):
        analyzer.set_sample_rate(8000)           # what the pipeline does at start
    assert a._model.session is b._model.session
    heard = await states(a, silence + speech + silence)
    assert VADState.SPEAKING in heard and heard[-1] == VADState.QUIET
    assert set(await states(b, silence)) == {VADState.QUIET}   # a's speech did not leak into b
    assert a._model._state is not b._model._state
