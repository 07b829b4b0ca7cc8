"""`frontdesk call` against the real app on a real socket, with scripted providers."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np

from db.appointments import Change
from frontdesk.phone_call import CallerTurn, _change, place_call
from loadtest import twilio_wire as wire
from tests.factories import make_client
from tests.live import AUTH_TOKEN, live_server
from tests.providers import FAREWELL, ScriptedProviders
from voice.twiml import SAY_UNKNOWN

LINES = ["I would like to book an appointment please", "Thank you very much"]


def channels(path) -> tuple[np.ndarray, np.ndarray, wave._wave_params]:
    with wave.open(str(path), "rb") as w:
        params = w.getparams()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    return audio[:, 0], audio[:, 1], params


async def test_a_call_from_the_terminal_reports_turns_latency_and_a_stereo_recording(
        pool, pg_url, tmp_path):
    async with live_server(pg_url, providers=ScriptedProviders(LINES)) as server:
        client = await make_client(pool)
        printed: list[str] = []
        report = await place_call(
            url=server.url, to=client.phone_number, turns=[CallerTurn.say(t) for t in LINES],
            auth_token=AUTH_TOKEN, database_url=pg_url, out=tmp_path / "call.wav",
            max_seconds=60, quiet_ms=500, linger_seconds=1, echo=printed.append)

    assert report.ok, report.error
    assert [t.label for t in report.turns] == LINES
    assert all(t.latency_ms is not None and t.latency_ms > 0 for t in report.turns)
    assert report.agent_lines == ["Hello, thanks for calling.",
                                  f"You said: {LINES[0]}.", f"You said: {LINES[1]}."]
    assert report.hung_up_by == "caller" and report.end_reason == "caller_hangup"
    assert report.bookings == []
    assert f"caller: {LINES[0]}" in printed and f"agent: You said: {LINES[1]}." in printed
    assert "booking: no booking" in printed

    left, right, params = channels(report.wav_path)
    assert report.wav_path == (tmp_path / "call.wav").resolve()
    assert (params.nchannels, params.framerate, params.sampwidth) == (2, 8000, 2)
    assert np.abs(left).max() > 1000 and np.abs(right).max() > 1000


async def test_the_agent_hanging_up_ends_the_call(pool, pg_url, tmp_path):
    async with live_server(pg_url, providers=ScriptedProviders(["Okay goodbye"])) as server:
        client = await make_client(pool)
        report = await place_call(
            url=server.url, to=client.phone_number, turns=[CallerTurn.say("Okay goodbye")],
            auth_token=AUTH_TOKEN, database_url=pg_url, out=tmp_path / "bye.wav",
            max_seconds=60, quiet_ms=500, linger_seconds=30, echo=lambda _: None)

    assert report.ok, report.error
    assert report.hung_up_by == "agent" and report.end_reason == "agent_hangup"
    assert report.agent_lines[-1] == "Goodbye!"


async def test_a_goodbye_said_over_the_callers_last_words_is_not_timed(pool, pg_url, tmp_path):
    # One line with a pause in it: the server answers the first part with a long goodbye,
    # and the caller's "thank you" ends while the goodbye is playing.
    first, second = CallerTurn.say("That's all, bye"), CallerTurn.say("Thank you")
    pause = [wire.ULAW_SILENCE] * 40                     # 0.8 s
    line = CallerTurn("That's all, bye... thank you", first.frames + pause + second.frames,
                      len(first.frames) + len(pause) + second.speech_end)
    async with live_server(pg_url, providers=ScriptedProviders(["That's all, bye"])) as server:
        client = await make_client(pool)
        printed: list[str] = []
        report = await place_call(
            url=server.url, to=client.phone_number, turns=[line], auth_token=AUTH_TOKEN,
            database_url=pg_url, out=tmp_path / "over.wav", max_seconds=60, quiet_ms=500,
            linger_seconds=30, echo=printed.append)

    assert report.ok, report.error
    assert report.turns[0].spoken_over and report.turns[0].latency_ms is None
    assert "latency per turn: spoken over" in printed
    assert report.hung_up_by == "agent" and report.agent_lines[-1] == " ".join(FAREWELL)


async def test_a_refused_call_reports_what_the_line_said(pool, pg_url, tmp_path):
    async with live_server(pg_url, providers=ScriptedProviders()) as server:
        printed: list[str] = []
        report = await place_call(
            url=server.url, to="+15555559999", turns=[CallerTurn.say("Hello")],
            auth_token=AUTH_TOKEN, database_url=pg_url, out=tmp_path / "no.wav",
            echo=printed.append)

    assert not report.ok and not report.connected
    assert report.refusal == SAY_UNKNOWN
    assert printed == [f"refused: {SAY_UNKNOWN}"]
    assert not (tmp_path / "no.wav").exists()


def test_a_booking_the_call_moved_or_cancelled_is_reported_in_the_clients_zone():
    def change(action: str, old: datetime | None, new: datetime | None) -> Change:
        return Change(id=1, appointment_id=7, conversation_id=3, user_id=None, actor="agent",
                      action=action, old_starts_at=old, new_starts_at=new, reason=None,
                      created_at=datetime.now(UTC))

    zone = ZoneInfo("America/New_York")
    tue, wed = datetime(2026, 12, 8, 20, tzinfo=UTC), datetime(2026, 12, 9, 15, tzinfo=UTC)
    assert _change(change("rescheduled", tue, wed), zone) == (
        "moved #7 from Tue 2026-12-08 15:00 to Wed 2026-12-09 10:00")
    assert _change(change("cancelled", wed, None), zone) == "cancelled #7 (Wed 2026-12-09 10:00)"
