"""POST /api/calls places a call through Twilio's REST API; Twilio's signed request to
/voice/outbound says who answered: a person talks to the same pipeline (greeted with the
request's greeting, metered), a machine gets the voicemail or a hang-up."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.test_api_support import assert_error, fields, register
from tests.waiting import ended

CALLEE = "+14155550123"


@pytest.fixture(scope="module")
async def server(pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           rate_limit_requests=10_000) as srv:
        yield srv


async def place(owner, client: dict, **body) -> dict:
    response = await owner.post("/api/calls", json={"client_id": client["id"], "to": CALLEE,
                                                    **body})
    assert response.status_code == 201, response.text
    return response.json()


def answer(server, placed: dict, client: dict) -> tuple[FakeCall, str]:
    """Twilio's side once the callee picks up: the request goes to the URL we gave."""
    [request] = [p for p in server.twilio.placed if p["sid"] == placed["call_sid"]]
    url = urlsplit(request["form"]["Url"])
    call = FakeCall(server.url, to=CALLEE, caller=client["phone_number"],
                    call_sid=placed["call_sid"])
    return call, f"{url.path}?{url.query}"


async def test_a_person_who_answers_talks_to_the_agent(owner, server, pool):
    client = await owner.create_client()
    placed = await place(owner, client, greeting="Hi, this is Bright Smile calling back.")
    assert placed["status"] == "queued" and placed["to"] == CALLEE
    [request] = [p for p in server.twilio.placed if p["sid"] == placed["call_sid"]]
    form = request["form"]
    assert (form["To"], form["From"], form["MachineDetection"]) == (
        CALLEE, client["phone_number"], "Enable")
    assert form["Url"].startswith(f"{server.url}/voice/outbound?id=")
    assert form["StatusCallback"] == f"{server.url}/voice/status"

    call, path = answer(server, placed, client)
    await call.dial(path=path, Direction="outbound-api", AnsweredBy="human")
    assert call.instruction is not None, call.twiml
    await call.connect()
    await call.wait_for_agent()
    await call.hang_up()
    conv = await ended(pool, call.call_sid)
    assert conv.direction == "outbound" and conv.caller_phone == CALLEE
    assert conv.transcript[0]["content"] == "Hi, this is Bright Smile calling back."
    assert conv.billed_seconds > 0
    listed = (await owner.get("/api/calls", params={"client_id": client["id"]})).json()
    assert [(c["call_sid"], c["direction"]) for c in listed["items"]] == [
        (placed["call_sid"], "outbound")]


@pytest.mark.parametrize(("setting", "answered_by", "said"), [
    ("Hi, this is Bright Smile. Please call us back.", "machine_end_beep",
     ["Hi, this is Bright Smile. Please call us back."]),
    (None, "machine_start", []),
    ("Hi, please call us back.", "fax", []),
])
async def test_a_machine_gets_the_voicemail_or_a_hang_up(owner, server, pool, setting,
                                                         answered_by, said):
    client = await owner.create_client()
    if setting:
        await owner.put(f"/api/clients/{client['id']}/settings/voicemail_message",
                        json={"value": setting})
    placed = await place(owner, client)
    [request] = [p for p in server.twilio.placed if p["sid"] == placed["call_sid"]]
    assert request["form"]["MachineDetection"] == (
        "DetectMessageEnd" if setting else "Enable")
    call, path = answer(server, placed, client)
    response = await call.dial(path=path, AnsweredBy=answered_by)
    assert response.status_code == 200 and "<Hangup" in response.text
    assert call.instruction is None and wire.said(response.text) == said
    assert await pool.fetchval("SELECT count(*) FROM conversations WHERE call_sid = $1",
                               placed["call_sid"]) == 0


async def test_forged_or_replayed_outbound_webhooks_are_refused(owner, server, pool):
    client = await owner.create_client()
    placed = await place(owner, client)
    call, path = answer(server, placed, client)
    assert (await call.dial(path=path, signature="forged")).status_code == 403
    # Another CallSid cannot adopt this request.
    other = FakeCall(server.url, to=CALLEE, caller=client["phone_number"])
    assert (await other.dial(path=path, AnsweredBy="human")).status_code == 404
    assert (await call.dial(path="/voice/outbound?id=999999999")).status_code == 404
    assert (await call.dial(path="/voice/outbound?id=x")).status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM conversations WHERE call_sid = ANY($1)",
                               [placed["call_sid"], other.call_sid]) == 0


async def test_placing_a_call_checks_the_client_the_number_and_twilio(owner, server, pool):
    client = await owner.create_client()
    assert fields(await owner.post("/api/calls", json={"client_id": client["id"],
                                                       "to": "12"})) == {"to"}
    assert fields(await owner.post("/api/calls", json={"client_id": client["id"], "to": CALLEE,
                                                       "on_machine": "voicemail"})) \
        == {"on_machine"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        theirs = await (await register(http)).create_client()
    assert_error(await owner.post("/api/calls", json={"client_id": theirs["id"], "to": CALLEE}),
                 404)
    await pool.execute("UPDATE clients SET balance_seconds = 0 WHERE id = $1", client["id"])
    body = assert_error(await owner.post("/api/calls", json={"client_id": client["id"],
                                                             "to": CALLEE}), 409)
    assert body["error_code"] == "no_balance"
    assert await pool.fetchval("SELECT count(*) FROM outbound_calls WHERE client_id = $1",
                               client["id"]) == 0


async def test_without_twilio_credentials_nothing_is_placed(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(),
                           twilio_account_sid=None) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        response = await owner.post("/api/calls", json={"client_id": client["id"],
                                                        "to": CALLEE})
        assert assert_error(response, 503)["error_code"] == "twilio_not_configured"
        assert server.twilio.placed == []
    assert await pool.fetchval("SELECT count(*) FROM outbound_calls WHERE client_id = $1",
                               client["id"]) == 0
