"""POST /voice: signatures, routing and the TwiML answer."""

from __future__ import annotations

import httpx
import pytest

from db import conversations, users
from loadtest import twilio_wire as wire
from tests.caller import FakeCall
from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from voice import call_tokens
from voice.twiml import SAY_INACTIVE, SAY_NO_BALANCE, SAY_UNKNOWN


@pytest.fixture
async def server(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as srv:
        yield srv


async def test_accepted_call_gets_a_stream_with_a_token_bound_to_the_call(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number, caller="+15005550006")
    response = await call.dial()

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert call.instruction is not None
    assert call.instruction.url == f"ws://127.0.0.1:{server.url.rsplit(':', 1)[1]}" \
                                   f"/ws/{client.id}/+15005550006"
    token = call.instruction.parameters["token"]
    claims = call_tokens.verify(await _token_secret(pool), token, call_sid=call.call_sid,
                                client_id=client.id, ttl_seconds=60)
    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.status == "pending" and conv.caller_phone == "+15005550006"
    assert claims.nonce  # the stream must present this exact token
    assert wire.said(response.text) == []


async def _token_secret(pool) -> str:
    return await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'call_token'")


@pytest.mark.parametrize("signature", ["", "bm90IGEgc2lnbmF0dXJl", None])
async def test_bad_or_missing_signature_is_403_and_records_nothing(server, pool, signature):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    form = wire.voice_form(call_sid=call.call_sid, to=client.phone_number, caller=call.caller,
                           account_sid="AC1")
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/voice", data=form, headers=headers)
    assert response.status_code == 403
    assert await conversations.get_by_call_sid(pool, call.call_sid) is None


async def test_signature_over_another_url_or_token_is_refused(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number, auth_token="someone-elses-token")
    assert (await call.dial()).status_code == 403
    call = FakeCall(server.url, to=client.phone_number)
    form = wire.voice_form(call_sid=call.call_sid, to=client.phone_number, caller=call.caller,
                           account_sid="AC1")
    # Signed for the Host header's URL rather than the configured public URL.
    sig = wire.sign(call.auth_token, "http://evil.example/voice", form)
    assert (await call.dial(signature=sig)).status_code == 403


async def test_tampered_form_field_breaks_the_signature(server, pool):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number)
    form = wire.voice_form(call_sid=call.call_sid, to=client.phone_number, caller=call.caller,
                           account_sid="AC1")
    sig = wire.sign(call.auth_token, f"{server.url}/voice", form)
    form["From"] = "+15550000000"
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{server.url}/voice", data=form,
                                   headers={"X-Twilio-Signature": sig})
    assert response.status_code == 403


@pytest.mark.parametrize(("setup", "sentence"), [
    ("unknown", SAY_UNKNOWN), ("inactive", SAY_INACTIVE), ("no_balance", SAY_NO_BALANCE)])
async def test_unroutable_calls_hear_one_sentence_and_hang_up(server, pool, setup, sentence):
    to = "+15557770999"
    if setup == "inactive":
        await make_client(pool, phone_number=to, is_active=False)
    elif setup == "no_balance":
        await make_client(pool, phone_number=to, balance_seconds=0)
    call = FakeCall(server.url, to=to)
    response = await call.dial()
    assert response.status_code == 200
    assert call.instruction is None
    assert wire.said(response.text) == [sentence]
    assert "<Hangup" in response.text
    assert await conversations.get_by_call_sid(pool, call.call_sid) is None


async def test_to_number_is_normalized_before_routing(server, pool):
    client = await make_client(pool, phone_number="+15557770123")
    call = FakeCall(server.url, to="+1 (555) 777-0123")
    await call.dial()
    assert call.instruction is not None and f"/ws/{client.id}/" in call.instruction.url


async def test_missing_fields_and_oversized_or_garbled_bodies_are_refused(server, pool):
    await users.insert(pool, email="x@example.com")
    call = FakeCall(server.url, to="+15557770999")
    response = await call.dial(CallSid="")
    assert response.status_code == 400
    async with httpx.AsyncClient() as http:
        big = await http.post(f"{server.url}/voice", content=b"a=" + b"x" * 20_000,
                              headers={"content-type": "application/x-www-form-urlencoded"})
        garbled = await http.post(f"{server.url}/voice", content=b"\xff\xfe=%%%",
                                  headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    assert garbled.status_code == 400


async def test_at_capacity_callers_hear_busy(pool, pg_url):
    async with live_server(pg_url, providers=ScriptedProviders(), max_calls=1) as srv:
        client = await make_client(pool)
        srv.calls.accepting = False  # what a draining process looks like from outside
        call = FakeCall(srv.url, to=client.phone_number)
        response = await call.dial()
    assert call.instruction is None
    assert "busy" in wire.said(response.text)[0]


@pytest.mark.parametrize(("sent", "stored"), [
    ("+1 (415) 555-0123", "+14155550123"), ("anonymous", "anonymous"),
    ("Restricted", "anonymous"), ("+266696687", "anonymous"), ("", "anonymous"),
    ("client:alice_01", "client:alice_01")])
async def test_caller_id_is_stored_normalized(server, pool, sent, stored):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number, caller=sent)
    assert (await call.dial()).status_code == 200
    assert call.instruction is not None
    conv = await conversations.get_by_call_sid(pool, call.call_sid)
    assert conv.caller_phone == stored


@pytest.mark.parametrize("sent", ['=HYPERLINK("http://evil.example")', "@SUM(1+1)", "+1 555 CALL",
                                  "sip:alice@example.com", "+14155550123;ext=9", "client:a b",
                                  "+1415\n5550123"])
async def test_a_from_that_is_no_caller_id_is_refused_and_records_nothing(server, pool, sent):
    client = await make_client(pool)
    call = FakeCall(server.url, to=client.phone_number, caller=sent)
    response = await call.dial()
    assert response.status_code == 400 and "From must be" in response.text
    assert await conversations.get_by_call_sid(pool, call.call_sid) is None


@pytest.mark.parametrize("to", ["+15557770123;ext=1", "+15557770123 ext. 1", "+15557770123x1",
                                "+1 555 777 0123 #1"])
async def test_an_extension_in_to_is_an_unknown_number(server, pool, to):
    await make_client(pool, phone_number="+15557770123")
    call = FakeCall(server.url, to=to)
    response = await call.dial()
    assert call.instruction is None and wire.said(response.text) == [SAY_UNKNOWN]
    assert await conversations.get_by_call_sid(pool, call.call_sid) is None


@pytest.mark.parametrize("sid", ["CA1", "=1+2", "CA" + "g" * 32, "CA" + "0" * 32 + "\n"])
async def test_a_call_sid_that_is_not_twilio_s_is_refused(server, pool, sid):
    client = await make_client(pool)
    response = await FakeCall(server.url, to=client.phone_number).dial(CallSid=sid)
    assert response.status_code == 400 and "CallSid" in response.text
    assert await pool.fetchval("SELECT count(*) FROM conversations") == 0
