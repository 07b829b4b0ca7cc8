"""The replayer against the real app on a real socket: three calls of a recording whose
speech boundaries are known, and the latency arithmetic checked against the raw trace."""

from __future__ import annotations

import functools

import pytest

from loadtest import replay, synth
from loadtest.call import CallTrace, Dialing
from loadtest.recording import FRAME_MS, Recording
from tests.bench_server import HEARD, BenchProviders
from tests.factories import make_client
from tests.live import AUTH_TOKEN, live_server
from tests.waiting import ended


@functools.cache
def hello_recording() -> Recording:
    from loadtest import voices

    try:
        voices.default_engine()
    except voices.NoVoice as exc:
        pytest.skip(str(exc))
    script = synth.Script(name="hello", steps=[
        {"pause": 1.6}, {"say": "I need an appointment please."}, {"pause": 1.6}])
    return synth.build(script)


def first_media_after(trace: CallTrace, at: float) -> float:
    return next(r.at for r in trace.received if r.event == "media" and r.at > at)


async def test_three_replayed_calls_measure_speech_end_to_first_agent_audio(pool, pg_url):
    recording = hello_recording()
    (segment,) = recording.segments
    async with live_server(pg_url, providers=BenchProviders()) as server:
        # A greeting short enough to be over before the caller speaks.
        client = await make_client(pool, initial_greeting="Hello.")
        dialing = Dialing(url=server.url, to=client.phone_number, auth_token=AUTH_TOKEN)
        result = await replay.run(recording, dialing, replay.Plan(calls=3, ramp_s=0.2))
        for trace in result.traces:
            await ended(pool, trace.call_sid)

    s = result.summary
    assert (s.calls, s.completed, s.turns, s.unanswered) == (3, 3, 3, 0), s.problems
    for trace, m in zip(result.traces, result.metrics, strict=True):
        # The recording's boundaries are the synthesized speech's, on the 20 ms grid.
        last_voiced = segment.end_ms // FRAME_MS - 1
        assert len(trace.sent) == len(recording.media)
        speech_end = trace.sent[last_voiced]
        (turn,) = m.turns
        assert turn.speech_end_ms == segment.end_ms
        assert turn.latency_ms == pytest.approx(
            (first_media_after(trace, speech_end) - speech_end) * 1000)
        assert turn.latency_ms > 0
        assert m.first_audio_ms is not None and m.setup_ms is not None
        assert m.ended_by == "caller" and m.outcome == "completed"
    # The server heard each call: the caller's turn is in its transcript.
    for trace in result.traces:
        conv = await ended(pool, trace.call_sid)
        assert HEARD in [t["content"] for t in conv.transcript if t["role"] == "user"]
