"""Silero VAD with one ONNX session per process instead of one per call.

Pipecat's SileroVADAnalyzer loads its own onnxruntime session for every call (~75 ms and
~10 MB each). The model's recurrent state is the only per-call part, so each call keeps
its own state and borrows the shared session; onnxruntime sessions are safe to run from
several threads at once.
"""

from __future__ import annotations

import functools
from importlib import resources

import onnxruntime
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams


@functools.cache
def _session() -> onnxruntime.InferenceSession:
    path = resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")
    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                        sess_options=opts)


class _CallSileroModel(SileroOnnxModel):
    """The per-call recurrent state over the shared session."""

    def __init__(self) -> None:  # deliberately skips loading a session of its own
        self.session = _session()
        self.reset_states()
        self.sample_rates = [8000, 16000]


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    def __init__(self, *, sample_rate: int | None = None, params: VADParams | None = None
                 ) -> None:
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)
        self._model = _CallSileroModel()
        # The same bookkeeping SileroVADAnalyzer.__init__ sets up (pipecat 1.14).
        self._windows_since_reset = 0
        self._low_confidence_windows = 0


def preload() -> None:
    """Load the session at start-up rather than on the first call."""
    _session()
