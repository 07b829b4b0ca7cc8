"""From a call's raw trace to figures: turn latency, outbound pacing, barge-in, outcome.

Definitions (times on the caller's clock):

- **Speech end** of a caller segment: when the frame holding its last voiced 20 ms was
  actually sent (the server cannot hear it earlier).
- **Agent utterance**: a run of outbound media. A packet starts a new utterance when it
  arrives more than ``UTTERANCE_GAP_S`` after the audio queued before it has played
  out (Pipecat's own "bot stopped speaking" wait), or after a ``clear``.
- **Turn latency**: speech end → first packet of the first utterance that starts after
  it (and before the caller's next segment starts). None: the turn went unanswered,
  unless it was **spoken over**: the agent began its reply while the caller was still
  speaking (it answered the first part of the line at a pause) and was not cut off.
- **Inter-arrival**: time between consecutive packets of one utterance. Its **excess** is
  that time minus the previous packet's audio: 0 for a sender exactly at real time,
  whatever its packet size (Pipecat sends 40 ms packets every 40 ms; Twilio's own are
  20 ms). The SLO's "inter-arrival p99 ≤ 40 ms" is read for 20 ms packets: excess p99
  ≤ 20 ms.
- **Behind real time**: for packet k of an utterance, arrival − (utterance start + audio
  before k); the most an utterance's audio ever fell behind the caller's ear.
- **Barge-in**: a segment that starts while the agent's audio is playing (or is marked
  ``barge_in``); clear latency is segment start → first ``clear``; media after clear is
  the burst that still arrives right after it: packets each within ``STALE_GAP_S`` of
  the clear or of the packet before (a new reply comes after a pause, never like that).
- **False barge-in**: a ``clear`` that no caller speech explains: it arrives outside every
  segment's start … end + ``CLEAR_WINDOW_S`` (line noise, a click or a breath cut the
  agent off).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from loadtest.call import CallTrace
from loadtest.playback import RATE
from loadtest.recording import BARGE_IN, FRAME_MS

UTTERANCE_GAP_S = 0.35
STALE_GAP_S = 0.1  # media this close after a clear (or after such media) is stale audio
CLEAR_WINDOW_S = 1.0  # a clear this long after a segment's speech ended is still its own
REFUSED_CLOSE_CODES = {1008, 1013}
ABNORMAL_CLOSE_CODES = {1006, 1011, 1012}


@dataclass
class Utterance:
    start: float
    end: float  # when its audio stops playing (cut short by a clear)
    arrivals: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # audio in each packet
    behind_s: float = 0.0  # the most it fell behind real time
    behind_at: float = 0.0  # when (the late packet's arrival)
    audio_s: float = 0.0


@dataclass
class Turn:
    segment: int
    speech_end_ms: int                 # stream time of the segment's end
    latency_ms: float | None           # None: unanswered (or spoken over)
    spoken_over: bool = False          # the reply began before the caller finished
    barge_in: bool = False
    clear_ms: float | None = None      # barge-in: segment start → clear
    media_after_clear: int = 0         # packets
    media_after_clear_ms: float = 0.0  # audio in them
    concurrency: int = 0               # calls in progress when the caller stopped speaking


@dataclass
class CallMetrics:
    call_sid: str
    outcome: str                       # completed, dropped, refused, error
    detail: str = ""
    ended_by: str | None = None
    voice_ms: float | None = None      # POST /voice round trip
    setup_ms: float | None = None      # dial → stream started (``start`` sent)
    first_audio_ms: float | None = None  # stream start → first agent media (the greeting)
    turns: list[Turn] = field(default_factory=list)
    interarrival_ms: list[float] = field(default_factory=list)
    interarrival_excess_ms: list[float] = field(default_factory=list)
    behind_ms: float = 0.0
    behind_at_ms: float | None = None  # stream time of the worst lag
    utterances: int = 0
    agent_audio_s: float = 0.0
    marks_returned: int = 0
    false_barge_ins: int = 0           # clears that no caller speech explains
    send_late_max_ms: float = 0.0      # the caller's own pacing: worst frame lateness

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("interarrival_ms", "interarrival_excess_ms"):
            d[key] = [round(x, 2) for x in d[key]]
        return d


def utterances(trace: CallTrace) -> list[Utterance]:
    out: list[Utterance] = []
    current: Utterance | None = None
    play_end = 0.0
    for r in trace.received:
        if r.event == "clear":
            if current is not None:
                current.end = min(current.end, r.at)
            current, play_end = None, min(play_end, r.at)
            continue
        if r.event != "media":
            continue
        seconds = r.audio_bytes / RATE
        if current is None or r.at > play_end + UTTERANCE_GAP_S:
            current = Utterance(start=r.at, end=r.at)
            out.append(current)
        lag = r.at - (current.start + current.audio_s)
        if lag > current.behind_s:
            current.behind_s, current.behind_at = lag, r.at
        current.arrivals.append(r.at)
        current.seconds.append(seconds)
        current.audio_s += seconds
        play_end = max(r.at, play_end) + seconds
        current.end = play_end
    return out


def analyze(trace: CallTrace, *, concurrency: Sequence[tuple[float, int]] = ()) -> CallMetrics:
    """Figures of one call; ``concurrency`` is (time, calls in progress) steps, for turns."""
    m = CallMetrics(call_sid=trace.call_sid, outcome="completed", ended_by=trace.ended_by,
                    marks_returned=len(trace.marks_returned))
    if trace.voice_at is not None:
        m.voice_ms = (trace.voice_at - trace.dialed_at) * 1000
    if trace.t0 is not None:
        m.setup_ms = (trace.t0 - trace.dialed_at) * 1000
    m.send_late_max_ms = max(trace.lateness, default=0.0) * 1000
    media = [r for r in trace.received if r.event == "media"]
    if media and trace.t0 is not None:
        m.first_audio_ms = (media[0].at - trace.t0) * 1000

    utts = utterances(trace)
    m.utterances = len(utts)
    m.agent_audio_s = sum(u.audio_s for u in utts)
    for u in utts:
        for k in range(1, len(u.arrivals)):
            gap = u.arrivals[k] - u.arrivals[k - 1]
            m.interarrival_ms.append(gap * 1000)
            m.interarrival_excess_ms.append((gap - u.seconds[k - 1]) * 1000)
    worst = max(utts, key=lambda u: u.behind_s, default=None)
    if worst is not None and worst.behind_s > 0:
        m.behind_ms = worst.behind_s * 1000
        if trace.t0 is not None:
            m.behind_at_ms = (worst.behind_at - trace.t0) * 1000
    m.turns = _turns(trace, utts, concurrency)
    m.false_barge_ins = _false_barge_ins(trace)
    m.outcome, m.detail = _outcome(trace, media)
    return m


def _turns(trace: CallTrace, utts: list[Utterance],
           concurrency: Sequence[tuple[float, int]]) -> list[Turn]:
    turns: list[Turn] = []
    segments = sorted(trace.segments, key=lambda s: s.start_ms)
    clears = [r.at for r in trace.received if r.event == "clear"]
    for i, seg in enumerate(segments):
        start_at = trace.frame_sent_at(seg.start_ms // FRAME_MS)
        end_at = trace.frame_sent_at(max(seg.start_ms, seg.end_ms - FRAME_MS) // FRAME_MS)
        if start_at is None or end_at is None:
            break  # the call ended before the caller finished this segment
        nxt = segments[i + 1] if i + 1 < len(segments) else None
        next_at = trace.frame_sent_at(nxt.start_ms // FRAME_MS) if nxt else None
        horizon = next_at if next_at is not None else math.inf
        reply = next((u for u in utts if end_at < u.start < horizon), None)
        turn = Turn(segment=i, speech_end_ms=seg.end_ms,
                    latency_ms=(reply.start - end_at) * 1000 if reply else None,
                    concurrency=_level_at(concurrency, end_at))
        playing = any(u.start <= start_at < u.end for u in utts)
        if reply is None:
            turn.spoken_over = any(start_at < u.start <= end_at and u.end > end_at
                                   for u in utts)
        if seg.kind == BARGE_IN or playing:
            turn.barge_in = True
            clear = next((c for c in clears if start_at <= c <= end_at + CLEAR_WINDOW_S), None)
            if clear is not None:
                turn.clear_ms = (clear - start_at) * 1000
                stale, last = [], clear
                for r in trace.received:
                    if r.event != "media" or r.at <= clear:
                        continue
                    if r.at - last > STALE_GAP_S:
                        break
                    stale.append(r)
                    last = r.at
                turn.media_after_clear = len(stale)
                turn.media_after_clear_ms = sum(r.audio_bytes for r in stale) / RATE * 1000
        turns.append(turn)
    # A turn whose reply never came is only unanswered if the call went on long enough
    # for one (the caller hung up right after speaking is the recording's choice).
    if turns and turns[-1].latency_ms is None and not turns[-1].spoken_over \
            and trace.closed_at is not None:
        last_end = trace.frame_sent_at(max(segments[len(turns) - 1].start_ms,
                                           segments[len(turns) - 1].end_ms - FRAME_MS)
                                       // FRAME_MS)
        if last_end is not None and trace.closed_at - last_end < 2.0:
            turns.pop()
    return turns


def _false_barge_ins(trace: CallTrace) -> int:
    spans = []
    for seg in trace.segments:
        start_at = trace.frame_sent_at(seg.start_ms // FRAME_MS)
        end_at = trace.frame_sent_at(max(seg.start_ms, seg.end_ms - FRAME_MS) // FRAME_MS)
        if start_at is not None:
            spans.append((start_at, (end_at if end_at is not None else math.inf)
                          + CLEAR_WINDOW_S))
    return sum(1 for r in trace.received if r.event == "clear"
               and not any(a <= r.at <= b for a, b in spans))


def _level_at(steps: Sequence[tuple[float, int]], at: float) -> int:
    level = 0
    for t, n in steps:
        if t > at:
            break
        level = n
    return level


def _outcome(trace: CallTrace, media: list[Any]) -> tuple[str, str]:
    if trace.error:
        return "error", trace.error
    if trace.refusal is not None:
        return "refused", trace.refusal
    if trace.close_code in REFUSED_CLOSE_CODES and not media:
        return "refused", f"{trace.close_code} {trace.close_reason}".strip()
    if trace.ended_by == "agent":
        if trace.close_code in ABNORMAL_CLOSE_CODES:
            return "dropped", f"closed {trace.close_code} {trace.close_reason}".strip()
        last_needed = max((s.end_ms // FRAME_MS for s in trace.segments), default=0)
        if len(trace.sent) < min(last_needed, trace.frames_planned):
            return "dropped", (f"server closed the stream after {len(trace.sent)} of"
                               f" {trace.frames_planned} frames ({trace.close_code})")
    return "completed", ""


# -- aggregation --------------------------------------------------------------------------

def reference_latency(calls: Sequence[CallMetrics]) -> dict[int, float]:
    """Median latency of each caller segment: the unloaded reference of a pipeline."""
    by: dict[int, list[float]] = {}
    for c in calls:
        for t in c.turns:
            if t.latency_ms is not None:
                by.setdefault(t.segment, []).append(t.latency_ms)
    return {k: sorted(v)[len(v) // 2] if len(v) % 2 else (sorted(v)[len(v) // 2 - 1]
                                                          + sorted(v)[len(v) // 2]) / 2
            for k, v in by.items()}


def latency_excess(calls: Sequence[CallMetrics], reference: dict[int, float]) -> list[float]:
    """Each answered turn's latency beyond the reference for its segment."""
    return [t.latency_ms - reference[t.segment] for c in calls for t in c.turns
            if t.latency_ms is not None and t.segment in reference]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


@dataclass
class Summary:
    calls: int = 0
    completed: int = 0
    dropped: int = 0
    refused: int = 0
    errors: int = 0
    turns: int = 0
    unanswered: int = 0
    spoken_over: int = 0
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    latency_over_wait_ms: dict[str, float | None] = field(default_factory=dict)
    interarrival_ms: dict[str, float | None] = field(default_factory=dict)
    interarrival_excess_ms: dict[str, float | None] = field(default_factory=dict)
    behind_ms_max: float = 0.0
    barge_ins: int = 0
    clears_missing: int = 0
    false_barge_ins: int = 0
    clear_ms: dict[str, float | None] = field(default_factory=dict)
    media_after_clear: int = 0
    setup_ms: dict[str, float | None] = field(default_factory=dict)
    first_audio_ms: dict[str, float | None] = field(default_factory=dict)
    send_late_max_ms: float = 0.0
    turn_wait_ms: float = 0.0
    problems: list[str] = field(default_factory=list)


def _pcts(values: Sequence[float], qs: Iterable[float] = (50, 95, 99)) -> dict[str, float | None]:
    out: dict[str, float | None] = {f"p{q:g}": percentile(values, q) for q in qs}
    out["max"] = max(values) if values else None
    out["n"] = len(values)
    return out


def summarize(calls: Sequence[CallMetrics], *, turn_wait_ms: float = 0.0) -> Summary:
    s = Summary(calls=len(calls), turn_wait_ms=turn_wait_ms)
    latencies: list[float] = []
    inter: list[float] = []
    excess: list[float] = []
    clears: list[float] = []
    for c in calls:
        s.completed += c.outcome == "completed"
        s.dropped += c.outcome == "dropped"
        s.refused += c.outcome == "refused"
        s.errors += c.outcome == "error"
        if c.outcome in ("error", "dropped", "refused") and len(s.problems) < 5:
            s.problems.append(f"{c.call_sid[:12]}… {c.outcome}: {c.detail}")
        s.turns += len(c.turns)
        for t in c.turns:
            if t.spoken_over:
                s.spoken_over += 1
            elif t.latency_ms is None:
                s.unanswered += 1
            else:
                latencies.append(t.latency_ms)
            if t.barge_in:
                s.barge_ins += 1
                if t.clear_ms is None:
                    s.clears_missing += 1
                else:
                    clears.append(t.clear_ms)
                s.media_after_clear += t.media_after_clear
        inter += c.interarrival_ms
        excess += c.interarrival_excess_ms
        s.behind_ms_max = max(s.behind_ms_max, c.behind_ms)
        s.false_barge_ins += c.false_barge_ins
        s.send_late_max_ms = max(s.send_late_max_ms, c.send_late_max_ms)
    s.latency_ms = _pcts(latencies)
    s.latency_over_wait_ms = _pcts([x - turn_wait_ms for x in latencies])
    s.interarrival_ms = _pcts(inter)
    s.interarrival_excess_ms = _pcts(excess)
    s.clear_ms = _pcts(clears)
    s.setup_ms = _pcts([c.setup_ms for c in calls if c.setup_ms is not None])
    s.first_audio_ms = _pcts([c.first_audio_ms for c in calls if c.first_audio_ms is not None])
    return s


@dataclass(frozen=True)
class Slo:
    """The service level a number of calls per core must hold (issue 4's bench)."""

    latency_over_wait_p95_ms: float = 100.0
    interarrival_p99_ms: float = 40.0  # for 20 ms packets: excess over the packet ≤ 20 ms
    behind_max_ms: float = 100.0

    def violations(self, s: Summary, *, latency_excess_p95_ms: float | None = None
                   ) -> list[str]:
        """What fails. ``latency_excess_p95_ms``: judge latency against the pipeline's own
        unloaded latency (see bench) instead of its configured turn wait."""
        out = []
        over = s.latency_over_wait_ms.get("p95")
        if latency_excess_p95_ms is not None:
            if latency_excess_p95_ms > self.latency_over_wait_p95_ms:
                out.append(f"p95 latency beyond unloaded {latency_excess_p95_ms:.0f} ms"
                           f" > {self.latency_over_wait_p95_ms:g}")
        elif over is None:
            out.append("no answered turn")
        elif over > self.latency_over_wait_p95_ms:
            out.append(f"p95 latency − wait {over:.0f} ms > {self.latency_over_wait_p95_ms:g}")
        p99 = s.interarrival_excess_ms.get("p99")
        allowed = self.interarrival_p99_ms - FRAME_MS
        if p99 is not None and p99 > allowed:
            out.append(f"inter-arrival p99 {p99 + FRAME_MS:.0f} ms (for 20 ms packets)"
                       f" > {self.interarrival_p99_ms:g}")
        if s.behind_ms_max > self.behind_max_ms:
            out.append(f"audio {s.behind_ms_max:.0f} ms behind real time"
                       f" > {self.behind_max_ms:g}")
        for what, n in (("dropped", s.dropped), ("refused", s.refused), ("errors", s.errors),
                        ("unanswered turns", s.unanswered)):
            if n:
                out.append(f"{n} {what}")
        return out
