"""/api/twilio: credentials (the organisation's own, sealed, else the server's, else 503),
the account's numbers with their clients, assigning a number, and the 503 of an open
breaker."""

from __future__ import annotations

import httpx

from tests.factories import make_client
from tests.test_api_support import api_server, assert_error, phone, register

OWN_SID = "AC" + "1" * 32
OWN_TOKEN = "own-token-0123456789abcdef"


async def test_without_any_credentials_the_numbers_are_a_503(pg_url):
    async with api_server(pg_url, twilio_account_sid=None, twilio_auth_token=None) as server, \
            httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        assert (await owner.get("/api/twilio/credentials")).json() == {
            "source": "none", "account_sid": None}
        assert_error(await owner.get("/api/v1/twilio/numbers"), 503, "twilio_not_configured")


async def test_numbers_list_their_clients_and_assigning_points_the_webhooks_here(pg_url, pool):
    async with api_server(pg_url) as server, httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        twilio = server.twilio
        for _ in range(60):                          # more than one page of 50
            twilio.add_number(phone())
        numbers = (await owner.get("/api/twilio/numbers")).json()
        assert numbers["source"] == "server" and len(numbers["items"]) == 60

        # the organisation's own account: stored sealed, used from now on
        twilio.accounts = {OWN_SID: OWN_TOKEN}
        response = await owner.put("/api/twilio/credentials",
                                   json={"account_sid": OWN_SID, "auth_token": OWN_TOKEN})
        assert response.json() == {"source": "organisation", "account_sid": OWN_SID}
        sealed = await pool.fetchval("SELECT ciphertext FROM twilio_accounts")
        assert OWN_TOKEN.encode() not in sealed
        mine = twilio.numbers[0]
        client = await make_client(pool, owner_id=owner.id, phone_number=mine["phone_number"])
        listed = {n["sid"]: n for n in (await owner.get("/api/twilio/numbers")).json()["items"]}
        assert listed[mine["sid"]]["client_id"] == client.id
        assert listed[twilio.numbers[1]["sid"]]["client_id"] is None

        other = twilio.numbers[1]
        response = await owner.post(f"/api/twilio/numbers/{other['sid']}/assign",
                                    json={"client_id": client.id})
        assert response.status_code == 200, response.text
        base = server.settings.public_url
        assert twilio.number_updates[-1]["form"] == {
            "VoiceUrl": f"{base}/voice", "VoiceMethod": "POST",
            "StatusCallback": f"{base}/voice/status", "StatusCallbackMethod": "POST",
            "SmsUrl": f"{base}/sms", "SmsMethod": "POST"}
        got = (await owner.get(f"/api/clients/{client.id}")).json()
        assert got["phone_number"] == other["phone_number"]

        # with its own account, a client's number must be one of the account's
        response = await owner.post("/api/clients", json={"name": "X", "phone_number": phone()})
        assert_error(response, 422, "number_not_in_account")
        response = await owner.post("/api/clients", json={
            "name": "Y", "phone_number": twilio.numbers[2]["phone_number"]})
        assert response.status_code == 201, response.text

        # another owner's client, an unknown number
        stranger = await make_client(pool)
        assert_error(await owner.post(f"/api/twilio/numbers/{other['sid']}/assign",
                                      json={"client_id": stranger.id}), 404)
        assert_error(await owner.post("/api/twilio/numbers/PNnope/assign",
                                      json={"client_id": client.id}), 404)
        # wrong stored token: Twilio refuses, we say so
        twilio.accounts = {OWN_SID: "rotated-elsewhere-000000"}
        assert_error(await owner.get("/api/twilio/numbers"), 502, "twilio_auth_failed")
        assert (await owner.http.delete("/api/twilio/credentials",
                                        headers=owner.auth)).status_code == 204
        assert (await owner.get("/api/twilio/credentials")).json()["source"] == "server"


async def test_twilio_failing_opens_the_breaker_and_the_api_answers_503_retry_after(pg_url):
    async with api_server(pg_url) as server, httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        server.twilio.fail_numbers = 3
        for _ in range(3):
            assert_error(await owner.get("/api/twilio/numbers"), 502)
        response = await owner.get("/api/twilio/numbers")
        assert_error(response, 503, "service_unavailable")
        assert 1 <= int(response.headers["retry-after"]) <= 30
