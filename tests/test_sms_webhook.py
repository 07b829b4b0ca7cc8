"""POST /sms and /sms/status refuse what Twilio would never send, and lose nothing."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import make_client
from tests.live import live_server
from tests.providers import ScriptedProviders
from tests.test_booking_call import signed, text_in


@pytest.fixture(scope="module")
async def server(pg_url):
    async with live_server(pg_url, providers=ScriptedProviders()) as srv:
        yield srv


async def post(server, path: str, form: dict[str, str], *, sign: bool = True) -> httpx.Response:
    headers = signed(f"{server.settings.public_url}{path}", form) if sign else {}
    async with httpx.AsyncClient() as http:
        return await http.post(f"{server.url}{path}", data=form, headers=headers)


async def test_unsigned_malformed_and_oversized_requests_are_refused(server, pool):
    client = await make_client(pool)
    good = {"MessageSid": "SM" + "a" * 32, "From": "+12125550100", "To": client.phone_number,
            "Body": "Y"}
    assert (await post(server, "/sms", good, sign=False)).status_code == 403
    wrong = {**good, "Body": "C"}
    async with httpx.AsyncClient() as http:
        forged = await http.post(f"{server.url}/sms", data=wrong,
                                 headers=signed(f"{server.settings.public_url}/sms", good))
    assert forged.status_code == 403                      # signed over other values
    for missing in ("MessageSid", "From", "To"):
        form = {k: v for k, v in good.items() if k != missing}
        assert (await post(server, "/sms", form)).status_code == 400, missing
    assert (await post(server, "/sms", {**good, "From": "not a number"})).status_code == 400
    async with httpx.AsyncClient() as http:
        big = await http.post(f"{server.url}/sms", content=b"Body=" + b"x" * 20_000,
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413
        garbage = await http.post(f"{server.url}/sms", content=b"\xff\xfe=%%%",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert garbage.status_code == 400
    assert await pool.fetchval("SELECT count(*) FROM sms_messages") == 0


async def test_texts_to_unknown_numbers_and_without_appointments_get_plain_answers(server, pool):
    client = await make_client(pool)
    unknown = await text_in(server, "C", caller="+12125550100", to="+15005550999",
                            sid="SM" + "b" * 32)
    assert unknown.status_code == 200 and unknown.text.endswith("<Response />")
    reply = await text_in(server, "C", caller="+12125550100", to=client.phone_number,
                          sid="SM" + "d" * 32)
    assert "couldn't find an upcoming appointment" in reply.text
    chatter = await text_in(server, "hello there", caller="+12125550100",
                            to=client.phone_number, sid="SM" + "e" * 32)
    assert "<Message>" not in chatter.text
    stored = await pool.fetch("SELECT body, direction FROM sms_messages ORDER BY id")
    assert [(r["body"], r["direction"]) for r in stored] == [("C", "inbound"),
                                                             ("hello there", "inbound")]


async def test_status_callbacks_need_a_sid_and_a_status(server):
    assert (await post(server, "/sms/status", {"MessageSid": "SM1"})).status_code == 400
    assert (await post(server, "/sms/status", {"MessageStatus": "sent"})).status_code == 400
    unknown = await post(server, "/sms/status", {"MessageSid": "SMnope", "MessageStatus": "sent"})
    assert unknown.status_code == 204
    unsigned = await post(server, "/sms/status", {"MessageSid": "SM1", "MessageStatus": "sent"},
                          sign=False)
    assert unsigned.status_code == 403
