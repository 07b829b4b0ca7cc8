"""Clients that switch recording on get their inbound streams kept in the replay format."""

from __future__ import annotations

from loadtest import recording
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended


async def test_recorded_stream_reads_back_as_the_frames_the_caller_sent(pool, pg_url, tmp_path):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           frontdesk_home=tmp_path) as server:
        recorded = await make_client(pool, settings={"recording": True})
        plain = await make_client(pool)
        calls = []
        for client in (recorded, plain):
            call = FakeCall(server.url, to=client.phone_number)
            await call.dial()
            await call.connect()
            frames = [bytes([i % 256]) * wire.FRAME_BYTES for i in range(50)]
            await call.play(frames)
            await call.press("5")
            await call.hang_up()
            await ended(pool, call.call_sid)
            calls.append(call)

    path = tmp_path / "recordings" / str(recorded.id) / f"{calls[0].call_sid}.jsonl"
    rec = recording.read(path)
    assert rec.media == frames
    assert [e.event for e in rec.entries][0] == "start"
    assert [e.event for e in rec.entries][-2:] == ["dtmf", "stop"]
    offsets = [e.offset_ms for e in rec.entries]
    assert offsets == sorted(offsets)
    assert "token" not in path.read_text().lower()
    assert not (tmp_path / "recordings" / str(plain.id)).exists()


async def test_server_recording_replays_identically(pool, pg_url, tmp_path):
    """Replay a recording at the server, which records it; replay that recording; the
    frames the server received are the same both times."""
    import httpx

    from loadtest.call import Dialing, replay_call
    from loadtest.pacing import schedule
    from loadtest.synth import assemble

    original = assemble([bytes([k % 200 + 20]) * wire.FRAME_BYTES for k in range(60)],
                        [(30, {"event": "dtmf", "dtmf": {"digit": "7"}})], [],
                        recording.header("synth"))
    async with live_server(pg_url, providers=ScriptedProviders(),
                           frontdesk_home=tmp_path) as server:
        client = await make_client(pool, settings={"recording": True})
        folder = tmp_path / "recordings" / str(client.id)
        dialing = Dialing(url=server.url, to=client.phone_number,
                          auth_token=server.settings.secret("twilio_auth_token"))
        async with httpx.AsyncClient() as http:
            first = await replay_call(schedule(original), [], dialing, http=http)
            await ended(pool, first.call_sid)
            recorded = recording.read(folder / f"{first.call_sid}.jsonl")
            second = await replay_call(schedule(recorded), [], dialing, http=http)
            await ended(pool, second.call_sid)
        replayed = recording.read(folder / f"{second.call_sid}.jsonl")

    assert first.error is None and second.error is None
    assert original.media == recorded.media == replayed.media
    for r in (recorded, replayed):
        assert [e.message["dtmf"]["digit"] for e in r.entries if e.event == "dtmf"] == ["7"]
