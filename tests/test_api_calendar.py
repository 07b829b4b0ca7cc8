"""Calendar credentials: status, Google OAuth consent (local OAuth server), service-account
upload, revoke; encrypted at rest, never returned."""

from __future__ import annotations

import json

import httpx
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.crypto import Sealer
from tests.test_api_support import (
    api_server,
    assert_error,
    fake_google,
    fields,
    query,
    register,
)

KEY = Fernet.generate_key().decode()


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # once: it is slow


def service_account(**overrides) -> dict:
    return {"type": "service_account", "project_id": "p", "private_key_id": "abc123",
            "private_key": pem(_RSA), "client_email": "desk@p.iam.gserviceaccount.com",
            "client_id": "42", "token_uri": "https://oauth2.googleapis.com/token",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth"} | overrides


@pytest.fixture
async def google():
    async with fake_google() as g:
        yield g


@pytest.fixture
async def server(pool, pg_url, google):
    async with api_server(pg_url, encryption_key=KEY,
                          cors_origins="https://app.example.com", **google.settings()) as srv:
        yield srv


async def test_service_account_upload_is_encrypted_and_never_returned(owner, pool):
    client = await owner.create_client()
    base = f"/api/clients/{client['id']}/calendar"
    assert (await owner.get(base)).json()["connected"] is False
    key_file = service_account()
    uploaded = await owner.put(f"{base}/service-account", json=key_file)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["account_email"] == "desk@p.iam.gserviceaccount.com"
    assert uploaded.json()["kind"] == "service_account"
    status = (await owner.get(base)).json()
    assert status["connected"] is True and "PRIVATE KEY" not in json.dumps(status)

    ciphertext = await pool.fetchval("SELECT ciphertext FROM calendar_credentials")
    assert b"PRIVATE KEY" not in ciphertext
    assert Sealer.from_config(KEY).open(ciphertext)["private_key"] == key_file["private_key"]

    assert (await owner.delete(base)).status_code == 204
    assert await pool.fetchval("SELECT count(*) FROM calendar_credentials") == 0
    assert_error(await owner.delete(base), 404)


@pytest.mark.parametrize(("change", "field"), [
    ({"type": "authorized_user"}, "type"),
    ({"private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"},
     "private_key"),
    ({"private_key": pem(ec.generate_private_key(ec.SECP256R1()))}, "private_key"),
    ({"client_email": "not-an-email"}, "client_email"),
    ({"token_uri": "http://insecure.example/token"}, "token_uri"),
    ({"client_id": None}, "client_id"),
])
async def test_invalid_service_account_json_is_422(owner, pool, change, field):
    client = await owner.create_client()
    response = await owner.put(f"/api/clients/{client['id']}/calendar/service-account",
                               json=service_account(**change))
    assert field in fields(response)
    assert await pool.fetchval("SELECT count(*) FROM calendar_credentials") == 0


async def test_oauth_consent_stores_tokens_and_tells_the_opener(owner, google, pool, server):
    client = await owner.create_client()
    started = await owner.post(f"/api/clients/{client['id']}/calendar/oauth/initiate")
    assert started.status_code == 200
    q = query(started.json()["authorization_url"])
    assert q["access_type"] == "offline" and "calendar" in q["scope"]
    assert q["redirect_uri"] == f"{server.url}/api/calendar/oauth/callback"
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        page = await browser.get(started.json()["authorization_url"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "postMessage" in page.text and "window.close" in page.text
    assert '"status": "connected"' in page.text and "https://app.example.com" in page.text
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    assert "ya29." not in page.text  # no token in the page

    status = (await owner.get(f"/api/clients/{client['id']}/calendar")).json()
    assert status["connected"] and status["kind"] == "oauth"
    assert status["account_email"] == "googler@example.com"
    ciphertext = await pool.fetchval("SELECT ciphertext FROM calendar_credentials")
    tokens = Sealer.from_config(KEY).open(ciphertext)
    assert tokens["access_token"].startswith("ya29.") and tokens["refresh_token"]
    assert tokens["access_token"].encode() not in ciphertext

    assert (await owner.delete(f"/api/clients/{client['id']}/calendar")).status_code == 204
    assert google.revoked == [tokens["refresh_token"]]


async def test_oauth_state_is_bound_single_use_and_denial_is_reported(owner, google, pool):
    client = await owner.create_client()
    started = (await owner.post(f"/api/clients/{client['id']}/calendar/oauth/initiate")).json()
    row = await pool.fetchrow("SELECT user_id, client_id, purpose FROM oauth_states")
    assert dict(row) == {"user_id": owner.id, "client_id": client["id"], "purpose": "calendar"}
    async with httpx.AsyncClient() as browser:
        callback = (await browser.get(started["authorization_url"])).headers["location"]
        assert (await browser.get(callback)).status_code == 200
        replay = await browser.get(callback)
        assert replay.status_code == 400 and "invalid_state" in replay.text
        # A sign-in state is not a calendar state.
        login = (await owner.post("/api/auth/google/initiate")).json()
        crossed = await browser.get(f"{owner.http.base_url}/api/calendar/oauth/callback",
                                    params={"state": login["state"], "code": "x"})
        assert crossed.status_code == 400 and "invalid_state" in crossed.text
    await owner.delete(f"/api/clients/{client['id']}/calendar")

    started = (await owner.post(f"/api/clients/{client['id']}/calendar/oauth/initiate")).json()
    async with httpx.AsyncClient(follow_redirects=True) as browser:
        denied = await browser.get(started["authorization_url"] + "&deny=1")
    assert denied.status_code == 400 and '"status": "error"' in denied.text
    assert await pool.fetchval("SELECT count(*) FROM calendar_credentials") == 0


def test_keys_rotate_and_a_bad_key_stops_start_up():
    from frontdesk.settings import ConfigError, Settings

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = Sealer.from_config(old).seal({"refresh_token": "r"})
    assert Sealer.from_config(f"{new},{old}").open(sealed) == {"refresh_token": "r"}
    with pytest.raises(ValueError):
        Sealer.from_config(new).open(sealed)
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        Settings.from_env({"ENCRYPTION_KEY": "not-a-fernet-key"})
    assert Settings.from_env({"ENCRYPTION_KEY": f"{new},{old}"}).encryption_key is not None


async def test_without_a_configured_key_one_is_kept_in_the_database(pool, pg_url):
    async with api_server(pg_url) as srv, httpx.AsyncClient(base_url=srv.url) as http:
        owner = await register(http)
        client = await owner.create_client()
        put = await owner.put(f"/api/clients/{client['id']}/calendar/service-account",
                              json=service_account())
        assert put.status_code == 200
    secret = await pool.fetchval("SELECT value FROM server_secrets WHERE name = 'encryption'")
    ciphertext = await pool.fetchval("SELECT ciphertext FROM calendar_credentials")
    assert Sealer.from_server_secret(secret).open(ciphertext)["client_email"] == \
        "desk@p.iam.gserviceaccount.com"
