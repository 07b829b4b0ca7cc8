"""Both sides of a recorded call in one stereo WAV: caller left, agent right, written as
the call runs; served through a link that expires, deleted with the call or its retention."""

from __future__ import annotations

import base64
import io
import wave
from datetime import timedelta

import httpx
import numpy as np

from events.recording_retention import expire_recordings
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.test_api_conversations import make_call
from tests.test_api_support import assert_error, register
from tests.waiting import ended
from voice.call_audio import _PCM, FLUSH_SAMPLES, RATE, CallAudioRecorder


def channels(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").reshape(-1, 2)
    return frames[:, 0], frames[:, 1]


def test_agent_audio_lands_at_the_callers_clock_and_little_is_held(tmp_path):
    rec = CallAudioRecorder(tmp_path / "call.wav")
    for _ in range(100):                                   # 2 s of caller silence
        rec.caller(wire.ULAW_SILENCE)
    rec.agent(bytes([0x10]) * 800)                          # 100 ms of agent audio at 2 s
    rec.agent(bytes([0x20]) * 800)                          # right after it, not on top
    for _ in range(50):
        rec.caller(bytes([0x30]) * wire.FRAME_BYTES)        # then 1 s of caller speech
        assert len(rec._caller) < 2 * FLUSH_SAMPLES         # written out as it goes
    rec.close()

    left, right = channels((tmp_path / "call.wav").read_bytes())
    assert len(left) == 3 * RATE
    assert not left[:2 * RATE].any() and (left[2 * RATE:] == _PCM[0x30]).all()
    at = 2 * RATE
    assert not right[:at].any()
    assert (right[at:at + 800] == _PCM[0x10]).all()
    assert (right[at + 800:at + 1600] == _PCM[0x20]).all() and not right[at + 1600:].any()


async def test_a_recorded_call_is_served_through_an_expiring_link(pool, pg_url, tmp_path):
    async with live_server(pg_url, providers=ScriptedProviders(), frontdesk_home=tmp_path,
                           rate_limit_requests=10_000) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        assert (await owner.put(f"/api/clients/{client['id']}/settings/recording",
                                json={"value": True})).status_code == 200
        call = FakeCall(server.url, to=client["phone_number"])
        await call.dial()
        await call.connect()
        await call.wait_for_agent()
        spoken = [bytes([0x40 + i % 32]) * wire.FRAME_BYTES for i in range(50)]
        await call.play(spoken)
        await call.hang_up()
        conv = await ended(pool, call.call_sid)

        detail = (await owner.get(f"/api/calls/{conv.id}")).json()
        link = (await owner.get(f"/api/calls/{conv.id}/recording")).json()
        assert detail["recording_url"].startswith(f"{server.url}/api/recordings/")
        assert link["channels"] == {"left": "caller", "right": "agent"}
        audio = await http.get(link["url"])          # the link is the credential
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
        left, right = channels(audio.content)

        # The caller's channel is what the caller sent, in order, ending with the speech.
        sent = call._chunk * wire.FRAME_BYTES
        assert len(left) >= sent
        assert (left[sent - len(spoken) * wire.FRAME_BYTES:sent]
                == _PCM[np.frombuffer(b"".join(spoken), dtype=np.uint8)]).all()
        # The agent's channel holds every byte the agent sent, with gaps of silence between.
        heard = b"".join(base64.b64decode(r.message["media"]["payload"])
                         for r in call.received if r.message["event"] == "media")
        expected = _PCM[np.frombuffer(heard, dtype=np.uint8)]
        assert len(heard) > RATE // 2
        assert (right[right != 0] == expected[expected != 0]).all()
        assert np.count_nonzero(right) == np.count_nonzero(expected)

        assert_error(await http.get(link["url"][:-4] + "abcd"), 401)
        stranger = await register(http)
        assert_error(await stranger.get(f"/api/calls/{conv.id}/recording"), 404)

        unrecorded = await make_call(pool, client["id"], "CAplain")
        body = assert_error(await owner.get(f"/api/calls/{unrecorded}/recording"), 404)
        assert body["error_code"] == "not_recorded"
        assert (await owner.get(f"/api/calls/{unrecorded}")).json()["recording_url"] is None

        wav = tmp_path / "recordings" / str(client["id"]) / f"{call.call_sid}.wav"
        assert wav.is_file() and wav.with_suffix(".jsonl").is_file()
        assert (await owner.delete(f"/api/conversations/{conv.id}")).status_code == 204
        assert not wav.exists() and not wav.with_suffix(".jsonl").exists()
        assert_error(await http.get(link["url"]), 404)


async def test_recordings_past_their_retention_are_deleted(owner, pool, tmp_path):
    client = await owner.create_client()
    await owner.put(f"/api/clients/{client['id']}/settings/recording_retention_days",
                    json={"value": 7})
    old, recent = (await make_call(pool, client["id"], "CAold"),
                   await make_call(pool, client["id"], "CAnew"))
    files = {}
    for conv_id, age in ((old, 8), (recent, 6)):
        files[conv_id] = tmp_path / f"{conv_id}.wav"
        files[conv_id].write_bytes(b"RIFF")
        await pool.execute("UPDATE conversations SET recording_path = $2,"
                           " ended_at = now() - $3::interval WHERE id = $1",
                           conv_id, str(files[conv_id]), timedelta(days=age))

    assert await expire_recordings(pool) == 1
    assert not files[old].exists() and files[recent].exists()
    paths = dict(await pool.fetch("SELECT id, recording_path FROM conversations"
                                  " WHERE id = ANY($1::bigint[])", [old, recent]))
    assert paths == {old: None, recent: str(files[recent])}
