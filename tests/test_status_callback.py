"""Twilio's REST hang-up is idempotent; the signed status callback finalizes lost calls."""

from __future__ import annotations

import httpx
import pytest

from db import conversations
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.fake_twilio_rest import fake_twilio_rest
from tests.live import ACCOUNT_SID, AUTH_TOKEN, live_server
from tests.providers import ScriptedProviders
from tests.waiting import ended
from voice.twilio_rest import TwilioRest


async def test_hang_up_is_idempotent_and_redirect_of_an_ended_call_fails():
    async with fake_twilio_rest() as twilio, httpx.AsyncClient() as http:
        rest = TwilioRest(http, base_url=twilio.url, account_sid=ACCOUNT_SID,
                          auth_token=AUTH_TOKEN)
        assert await rest.hang_up("CA1") is True
        assert await rest.hang_up("CA1") is True           # 404 / 20404: already over
        assert await rest.redirect("CA1", "<Response/>") is False
        assert [r["user"] for r in twilio.requests] == [ACCOUNT_SID] * 3
        unconfigured = TwilioRest(http, base_url=twilio.url, account_sid=None, auth_token=None)
        assert await unconfigured.hang_up("CA2") is False
        assert len(twilio.requests) == 3


async def post_status(server, form: dict[str, str], *, sign: bool = True) -> httpx.Response:
    url = f"{server.url}/voice/status"
    headers = {"X-Twilio-Signature": wire.sign(AUTH_TOKEN, url, form)} if sign else {}
    async with httpx.AsyncClient() as http:
        return await http.post(url, data=form, headers=headers)


@pytest.fixture
async def server(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as srv:
        yield srv


async def test_status_callback_needs_a_valid_signature(server, pool):
    response = await post_status(server, {"CallSid": "CA1", "CallStatus": "completed"},
                                 sign=False)
    assert response.status_code == 403


async def test_completed_status_finalizes_a_call_whose_stream_never_connected(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    await call.dial()
    response = await post_status(server, {"CallSid": call.call_sid, "CallStatus": "no-answer"})
    assert response.status_code == 204
    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.status == "ended" and conv.end_reason == "not_connected:no-answer"


async def test_completed_status_ends_a_live_call_without_stop(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    await call.dial()
    await call.connect()
    await call.wait_for_agent()
    response = await post_status(server, {"CallSid": call.call_sid, "CallStatus": "completed"})
    assert response.status_code == 204
    conv = await ended(pool, call.call_sid)
    assert conv.end_reason == "caller_hangup"
    await call.close()


async def test_status_for_unknown_or_in_progress_calls_changes_nothing(server, pool):
    assert (await post_status(server, {"CallSid": wire.new_sid("CA"),
                                       "CallStatus": "completed"})).status_code == 204
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    await call.dial()
    assert (await post_status(server, {"CallSid": call.call_sid, "CallStatus": "ringing"})
            ).status_code == 204
    assert (await conversations.get_by_call_sid(pool, call.call_sid)).status == "pending"
    assert (await post_status(server, {"CallStatus": "completed"})).status_code == 400
    assert (await post_status(server, {"CallSid": "CAnope\nforged", "CallStatus": "completed"})
            ).status_code == 400


async def test_the_vami_path_for_the_status_callback_is_the_same_handler(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    await call.dial()
    form = {"CallSid": call.call_sid, "CallStatus": "busy"}
    url = f"{server.url}/api/webhooks/twilio"
    async with httpx.AsyncClient() as http:
        # Signed for /voice/status, posted here: the signature names the URL, so refused.
        wrong = await http.post(url, data=form, headers={
            "X-Twilio-Signature": wire.sign(AUTH_TOKEN, f"{server.url}/voice/status", form)})
        assert wrong.status_code == 403
        response = await http.post(url, data=form, headers={
            "X-Twilio-Signature": wire.sign(AUTH_TOKEN, url, form)})
    assert response.status_code == 204
    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.status == "ended" and conv.end_reason == "not_connected:busy"
