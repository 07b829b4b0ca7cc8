"""The recording format, the server-side recorder, the 20 ms grid, and a record → replay
round trip over real sockets (a fake server that records what it receives)."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from loadtest import recording as rec
from loadtest.call import Dialing, replay_call
from loadtest.pacing import Pacer, schedule
from loadtest.synth import assemble
from tests.serving import free_socket, serving
from voice.recorder import InboundRecorder


def frames(n: int, seed: int = 1) -> list[bytes]:
    rnd = random.Random(seed)
    return [bytes(rnd.randrange(256) for _ in range(160)) for _ in range(n)]


def test_a_recording_reads_back_as_written(tmp_path: Path) -> None:
    original = assemble(frames(10), [(4, {"event": "dtmf", "dtmf": {"digit": "7"}})],
                        [rec.Segment(20, 160, rec.SPEECH, "hi")],
                        rec.header("synth", to="+15555550100"))
    back = rec.read(original.write(tmp_path / "r.jsonl"))
    assert back.entries == original.entries
    assert back.segments == original.segments
    assert back.header["to"] == "+15555550100" and back.header["recording"] == rec.VERSION
    assert back.media == frames(10)
    assert [e.event for e in back.entries].count("dtmf") == 1


def test_a_malformed_line_is_reported_with_its_number() -> None:
    with pytest.raises(rec.RecordingError, match=r"x:3: not JSON"):
        rec.parse(['{"recording": 1}', '{"offset_ms": 0, "message": {}}', "{oops"], name="x")
    with pytest.raises(rec.RecordingError, match="version"):
        rec.parse(['{"recording": 99}'])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_sender_keeps_its_20ms_grid_over_60_seconds() -> None:
    recording = assemble(frames(3000), [], [], rec.header("synth"))
    steps = schedule(recording)
    media = [s for s in steps if s.frame is not None]
    assert len(media) == 3000
    assert [s.due_ms for s in media] == [20 * k for k in range(3000)]

    # A sender whose every sleep overshoots by 2 ms and whose sends take 1 ms, with one
    # 150 ms stall: the due times stay on the absolute grid, so nothing accumulates.
    clock = FakeClock()

    async def sleepy(seconds: float) -> None:
        clock.now += seconds + 0.002

    async def send_all() -> list[float]:
        pacer = Pacer(0.0, clock=clock, sleep=sleepy)
        sent = []
        for s in media:
            await pacer.wait(s.due_ms)
            sent.append(clock.now)
            clock.now += 0.001 + (0.150 if s.frame == 1000 else 0.0)
        return sent

    sent = asyncio.run(send_all())
    drift = [t - s.due_ms / 1000 for t, s in zip(sent, media, strict=True)]
    assert all(d >= 0 for d in drift)
    assert max(drift[-100:]) < 0.020  # after 60 s, still within one frame of the grid
    assert max(drift[1010:]) < 0.020  # and back on the grid right after the stall
    assert sent[-1] - sent[0] == pytest.approx(59.98, abs=0.020)


# -- record → replay round trip over real sockets ------------------------------------------

def recording_server(folder: Path) -> Starlette:
    """A stand-in for frontdesk: /voice answers a <Stream>, the WebSocket records what
    arrives exactly as the server's recorder does, and sends a mark and a clear."""
    calls = {"n": 0}

    async def voice(request: Request) -> Response:
        host = request.headers["host"]
        return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
                        f'<Stream url="ws://{host}/ws"><Parameter name="token" value="t0k"/>'
                        f"</Stream></Connect></Response>", media_type="application/xml")

    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        calls["n"] += 1
        assert json.loads(await ws.receive_text())["event"] == "connected"
        start = json.loads(await ws.receive_text())
        assert start["start"]["customParameters"] == {"token": "t0k"}
        recorder = InboundRecorder.open(folder, client_id=calls["n"],
                                        call_sid=start["start"]["callSid"],
                                        stream_sid=start["streamSid"], to="+15555550100",
                                        caller="+15005550006", account_sid="AC1")
        sid = start["streamSid"]
        # 80 ms of agent audio then a mark; later a clear with a mark pending.
        await ws.send_text(json.dumps({"event": "media", "streamSid": sid,
                                       "media": {"payload": "/" * 856}}))  # 642 bytes
        await ws.send_text(json.dumps({"event": "mark", "streamSid": sid,
                                       "mark": {"name": "after-audio"}}))
        try:
            while True:
                raw = await ws.receive_text()
                recorder.record(raw)
                message = json.loads(raw)
                if message.get("event") == "media" and message["media"]["chunk"] == "10":
                    await ws.send_text(json.dumps({"event": "media", "streamSid": sid,
                                                   "media": {"payload": "/" * 4000}}))
                    await ws.send_text(json.dumps({"event": "mark", "streamSid": sid,
                                                   "mark": {"name": "pending"}}))
                    await ws.send_text(json.dumps({"event": "clear", "streamSid": sid}))
                if message.get("event") == "stop":
                    break
        except WebSocketDisconnect:
            pass
        finally:
            recorder.close()

    return Starlette(routes=[Route("/voice", voice, methods=["POST"]),
                             WebSocketRoute("/ws", stream)])


async def test_recorder_to_replay_round_trip_sends_identical_frames(tmp_path: Path) -> None:
    original = assemble(frames(25), [(12, {"event": "dtmf", "dtmf": {"digit": "5"}})], [],
                        rec.header("synth"))
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(recording_server(tmp_path), sock), httpx.AsyncClient() as http:
        dialing = Dialing(url=url, to="+15555550100", auth_token="secret")
        first = await replay_call(schedule(original), [], dialing, http=http)
        recorded = rec.read(next((tmp_path / "recordings" / "1").glob("*.jsonl")))
        second = await replay_call(schedule(recorded), [], dialing, http=http)
    replayed = rec.read(next((tmp_path / "recordings" / "2").glob("*.jsonl")))

    assert first.error is None and second.error is None
    assert recorded.media == original.media == replayed.media
    for r in (recorded, replayed):
        assert [(e.event, e.message.get("dtmf")) for e in r.entries if e.event == "dtmf"] == [
            ("dtmf", {"track": "inbound_track", "digit": "5"})]
        assert [e.event for e in r.entries][-1] == "stop"
        assert "t0k" not in next((tmp_path / "recordings" / "1").glob("*.jsonl")).read_text()

    # Marks came back as Twilio returns them: the first once its 80 ms had played out,
    # the pending one at once when the clear came (right after the clear, by its time).
    names = [name for _, name in first.marks_returned]
    assert names == ["after-audio", "pending"]
    received = {r.event + r.name: r.at for r in first.received}
    first_media = next(r for r in first.received if r.event == "media")
    assert first.marks_returned[0][0] >= first_media.at + first_media.audio_bytes / 8000
    assert received["clear"] <= first.marks_returned[1][0]


def test_a_script_repeats_steps_and_refuses_a_malformed_repeat(tmp_path: Path) -> None:
    from loadtest.synth import ScriptError, load_script

    good = tmp_path / "long.yaml"
    good.write_text("steps:\n  - pause: 1\n  - repeat:\n      times: 3\n      steps:\n"
                    "        - say: Hello.\n        - repeat: {times: 2, steps: [{pause: 2}]}\n")
    steps = load_script(good).steps
    assert steps == [{"pause": 1}] + [{"say": "Hello."}, {"pause": 2}, {"pause": 2}] * 3
    for body, message in [("{times: 0, steps: [{pause: 1}]}", "repeat needs times"),
                          ("{times: 2}", "repeat needs times"),
                          ("{times: 2, steps: [{shout: hi}]}", "step 1 > step 1: expected"),
                          ("{times: 30000, steps: [{pause: 1}]}", "more than 20000 steps")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(f"steps:\n  - repeat: {body}\n")
        with pytest.raises(ScriptError, match=message):
            load_script(bad)
    assert len(load_script("long_call").steps) > 400   # the shipped 30-minute call


def test_a_noisy_line_script_keeps_its_speech_segments_and_fills_the_silence(
        tmp_path: Path) -> None:
    from loadtest.segments import frame_levels
    from loadtest.synth import build, load_script

    body = "steps:\n  - pause: 1\n  - say: Hello there.\n  - pause: 1\n  - noise: 0.2\n" \
           "  - pause: 1\n"
    clean, noisy = tmp_path / "clean.yaml", tmp_path / "noisy.yaml"
    clean.write_text(body)
    noisy.write_text("line: noisy\n" + body)
    plain, line = build(load_script(clean)), build(load_script(noisy))
    assert line.header["line"] == "noisy" and plain.header["line"] == "clean"
    # A burst is no speech (Piper's timing varies a frame from one synthesis to the next).
    assert [(s.kind, s.text) for s in line.segments] == [("speech", "Hello there.")]
    assert [s.text for s in plain.segments] == ["Hello there."]
    quiet, hiss = frame_levels(plain.media[:40]), frame_levels(line.media[:40])
    assert max(quiet) < 50 < min(hiss)  # the first second: silence, then the line's hiss
    speech = max(frame_levels(plain.media))
    after_speech = frame_levels(plain.media[line.segments[0].end_ms // 20 + 10:])
    assert max(after_speech) > 0.3 * speech   # the burst sounds at the speech's level


def test_a_script_refuses_an_unknown_line_and_a_noise_without_seconds(tmp_path: Path) -> None:
    from loadtest.synth import ScriptError, load_script

    for body, message in [("line: crackly\nsteps: [{pause: 1}]", "line must be one of"),
                          ("steps: [{noise: loud}]", "noise needs a number of seconds"),
                          ("steps: [{pause: -1}]", "pause needs a number of seconds")]:
        bad = tmp_path / "bad.yaml"
        bad.write_text(body)
        with pytest.raises(ScriptError, match=message):
            load_script(bad)
