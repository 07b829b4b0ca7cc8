"""The replayer's arithmetic on a hand-made trace whose every time is known."""

from __future__ import annotations

import sys

import pytest

from loadtest.call import CallTrace, Received
from loadtest.metrics import Slo, analyze, reference_latency, summarize
from loadtest.playback import Playback
from loadtest.recording import BARGE_IN, SPEECH, Segment

T0 = 100.0
PACKET = 320  # 40 ms of μ-law, as Pipecat sends it


def media(at: float, n: int = PACKET) -> Received:
    return Received(at, "media", audio_bytes=n)


def speech_trace() -> CallTrace:
    """10 s of caller audio; speech 1.00-2.00 s, and 5.00-6.00 s over the agent's reply."""
    trace = CallTrace(call_sid="CA" + "1" * 32, frames_planned=500,
                      segments=[Segment(1000, 2000, SPEECH), Segment(5000, 6000, SPEECH)])
    trace.dialed_at, trace.voice_at, trace.t0 = 99.8, 99.85, T0
    trace.sent = [T0 + k * 0.020 for k in range(500)]  # frame 99 (speech end) at 101.98
    trace.lateness = [0.0] * 500
    greeting = [media(T0 + 0.1 + 0.04 * k) for k in range(10)]  # 100.10 … 100.46
    # The reply to segment 0 starts 550 ms after the last voiced frame went out; its 6th
    # packet is 60 ms late (100 ms gap: 60 ms beyond the previous packet's 40 ms).
    reply = [media(101.98 + 0.55 + 0.04 * k) for k in range(5)]
    reply += [media(reply[-1].at + 0.10 + 0.04 * k) for k in range(60)]  # plays to ~105.2
    # Caller barges in at 105.0 (frame 250 sent at 105.0); the server clears 350 ms later
    # and one stale packet still arrives after the clear.
    clear = Received(105.35, "clear")
    stale = media(105.40)
    answer = [media(105.98 + 0.48 + 0.04 * k) for k in range(5)]  # 480 ms after 105.98
    trace.received = [*greeting, *reply, clear, stale, *answer]
    trace.received.sort(key=lambda r: r.at)
    trace.ended_by, trace.closed_at = "caller", 110.0
    return trace


def test_turn_latency_is_speech_end_to_first_agent_audio() -> None:
    m = analyze(speech_trace())
    assert m.outcome == "completed"
    assert [t.latency_ms for t in m.turns] == pytest.approx([550.0, 480.0])
    assert m.first_audio_ms == pytest.approx(100.0)
    assert m.setup_ms == pytest.approx(200.0) and m.voice_ms == pytest.approx(50.0)


def test_barge_in_clear_and_media_after_it() -> None:
    first, second = analyze(speech_trace()).turns
    assert not first.barge_in
    assert second.barge_in and second.clear_ms == pytest.approx(350.0)
    assert second.media_after_clear == 1 and second.media_after_clear_ms == pytest.approx(40.0)


def test_a_clear_that_no_caller_speech_explains_is_a_false_barge_in() -> None:
    trace = speech_trace()
    assert analyze(trace).false_barge_ins == 0  # its one clear answers the second segment
    # The line's noise cuts the reply off at 103.5: 1.5 s after the first segment ended,
    # 1.5 s before the second began.
    trace.received.append(Received(103.5, "clear"))
    trace.received.sort(key=lambda r: r.at)
    m = analyze(trace)
    assert m.false_barge_ins == 1
    assert [t.clear_ms for t in m.turns] == [None, pytest.approx(350.0)]
    assert summarize([m, analyze(speech_trace())]).false_barge_ins == 1


def test_a_reply_that_starts_at_a_pause_in_the_line_is_spoken_over_not_unanswered() -> None:
    trace = speech_trace()
    # "No thanks, goodbye.": the agent answers at the comma (5.50 s) and talks on past the
    # caller's last word (6.00 s); nothing comes after it.
    trace.received = [r for r in trace.received if r.at < 105.0]
    trace.received += [media(105.5 + 0.04 * k) for k in range(40)]
    trace.closed_at = 108.0
    last = analyze(trace).turns[-1]
    assert last.latency_ms is None and last.spoken_over
    s = summarize([analyze(trace)])
    assert (s.unanswered, s.spoken_over) == (0, 1)
    # The same reply cut off by a clear before the caller finished answers nothing.
    trace.received = [r for r in trace.received if r.at < 105.9] + [Received(105.9, "clear")]
    assert summarize([analyze(trace)]).unanswered == 1


def test_outbound_pacing_and_falling_behind_real_time() -> None:
    m = analyze(speech_trace())
    assert m.utterances == 4  # greeting, reply, the stale packet after the clear, answer
    assert max(m.interarrival_ms) == pytest.approx(100.0)
    assert max(m.interarrival_excess_ms) == pytest.approx(60.0)
    assert sorted(m.interarrival_excess_ms)[0] == pytest.approx(0.0, abs=1e-6)
    assert m.behind_ms == pytest.approx(60.0)  # the reply never caught up its 60 ms

    s = summarize([m], turn_wait_ms=400)
    assert s.latency_over_wait_ms["max"] == pytest.approx(150.0)
    assert s.turns == 2 and s.unanswered == 0 and s.barge_ins == 1
    violations = Slo().violations(s)
    assert s.interarrival_excess_ms["max"] == pytest.approx(60.0)
    # One late packet in ~80 is under the 99th percentile; p99 decides, not the maximum.
    assert any("inter-arrival" in v for v in violations) == (
        s.interarrival_excess_ms["p99"] > 20)
    assert any("inter-arrival" in v for v in Slo(interarrival_p99_ms=20).violations(s))
    assert not any("behind" in v for v in violations)     # 60 ms ≤ 100 ms
    assert any("latency" in v for v in violations)        # 150 ms beyond the wait
    # Judged against its own unloaded latency, the same call has added nothing.
    assert not any("latency" in v for v in Slo().violations(s, latency_excess_p95_ms=0.0))
    assert reference_latency([m]) == pytest.approx({0: 550.0, 1: 480.0})


def test_a_turn_without_a_reply_and_a_call_the_server_cut() -> None:
    trace = speech_trace()
    trace.received = [r for r in trace.received if r.at < 102.0 or r.at > 106.0]
    trace.segments = [Segment(1000, 2000, SPEECH), Segment(5000, 6000, BARGE_IN)]
    m = analyze(trace)
    assert m.turns[0].latency_ms is None and m.turns[1].barge_in
    assert m.turns[1].clear_ms is None  # marked as a barge-in, but nothing was cleared

    cut = speech_trace()
    cut.sent, cut.ended_by, cut.close_code = cut.sent[:200], "agent", 1000
    assert analyze(cut).outcome == "dropped"
    refused = speech_trace()
    refused.received, refused.ended_by, refused.close_code = [], "agent", 1008
    assert analyze(refused).outcome == "refused"


def test_twilio_playback_returns_marks_after_the_audio_and_all_at_a_clear() -> None:
    p = Playback()
    p.media(10.0, 800)  # 100 ms
    p.mark(10.01, "a")
    p.media(10.02, 400)  # queued behind: plays 10.10-10.15
    p.mark(10.03, "b")
    assert p.due_marks(10.09) == [] and p.due_marks(10.10) == ["a"]
    assert p.playing(10.12) and p.clear(10.12) == ["b"] and not p.playing(10.12)
    p.mark(10.2, "c")  # nothing queued: returned at once
    assert p.due_marks(10.2) == ["c"]


def test_without_matplotlib_the_chart_is_skipped_with_the_install_hint(
        monkeypatch: pytest.MonkeyPatch, tmp_path, capsys) -> None:
    from loadtest import report

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # as if it were not installed
    assert report.chart(tmp_path / "c.png", {}) is None
    assert "pip install 'frontdesk[loadtest]'" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
