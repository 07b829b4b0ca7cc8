"""From sign-up to first call: registration names the organisation and records the plan, the
organisation's first client starts with the trial (once per organisation), and the
``frontdesk admin`` commands make administrators and add talk time."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest

from frontdesk.cli import main
from frontdesk.settings import Settings
from tests.test_api_support import PASSWORD, User, api_server, assert_error, fields, phone

ROOT = Path(__file__).resolve().parent.parent
TRIAL = 600  # the default TRIAL_SECONDS, which the module's server runs with


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_url: str) -> dict[str, str]:
    """The CLI's environment: the test database, and no ./.env of the checkout."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", pg_url)
    return {**os.environ, "PYTHONPATH": str(ROOT)}


async def admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``frontdesk admin ARGV`` in this process: (exit status, stdout, stderr)."""
    capsys.readouterr()

    def call() -> int:
        try:
            main(["admin", *argv])
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 1
        return 0

    code = await asyncio.to_thread(call)  # the CLI runs its own event loop
    out, err = capsys.readouterr()
    return code, out, err


async def sign_up(http: httpx.AsyncClient, **body: object) -> httpx.Response:
    n = phone()[-4:]
    return await http.post("/api/auth/register", json={
        "email": f"founder{n}@example.com", "password": PASSWORD, "full_name": "Dana"} | body)


def as_user(http: httpx.AsyncClient, response: httpx.Response) -> User:
    body = response.json()
    return User(http, body["user"]["id"], body["user"]["email"], body["access_token"],
                body["refresh_token"])


async def ledger(pool, client_id: int) -> list[tuple]:
    return [tuple(r) for r in await pool.fetch(
        "SELECT seconds, balance_after, reason, note FROM usage_ledger WHERE client_id = $1"
        " ORDER BY id", client_id)]


async def trials(pool, organization_id: int) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM usage_ledger l JOIN clients c ON c.id = l.client_id"
        " WHERE c.organization_id = $1 AND l.reason = 'trial'", organization_id)


# --- registration ----------------------------------------------------------------------

async def test_sign_up_names_the_organisation_and_records_the_plan(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        created = await sign_up(http, company_name="Bright Smile Dental", plan="pro")
        assert created.status_code == 201, created.text
        org = created.json()["user"]["organization"]
        assert org == {"id": org["id"], "name": "Bright Smile Dental", "plan": "free",
                       "role": "owner"}
        me = await as_user(http, created).get("/api/auth/me")
        assert me.status_code == 200 and me.json()["organization"] == org
    row = await pool.fetchrow("SELECT name, plan, requested_plan, trial_granted_at"
                              " FROM organizations WHERE id = $1", org["id"])
    assert tuple(row) == ("Bright Smile Dental", "free", "pro", None)


async def test_without_company_name_the_organisation_is_named_after_the_person(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        created = await sign_up(http)
    assert created.status_code == 201, created.text
    org = created.json()["user"]["organization"]
    assert (org["name"], org["plan"], org["role"]) == ("Dana", "free", "owner")
    assert await pool.fetchval("SELECT requested_plan FROM organizations WHERE id = $1",
                               org["id"]) is None


@pytest.mark.parametrize(("body", "field"), [
    ({"plan": "platinum"}, "plan"),
    ({"plan": "PRO"}, "plan"),
    ({"company_name": ""}, "company_name"),
    ({"company_name": "x" * 201}, "company_name"),
])
async def test_a_bad_plan_or_company_name_is_422_naming_the_field(server, pool, body, field):
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await sign_up(http, **body)
    assert fields(refused) == {field}
    assert await pool.fetchval("SELECT count(*) FROM users") == 0
    assert await pool.fetchval("SELECT count(*) FROM organizations") == 0


# --- the trial --------------------------------------------------------------------------

async def test_the_first_client_gets_the_trial_and_later_ones_none(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await sign_up(http, company_name="Bright Smile Dental")
        owner, org_id = as_user(http, signed), signed.json()["user"]["organization"]["id"]
        first = await owner.create_client()
        assert first["balance_seconds"] == TRIAL
        assert await ledger(pool, first["id"]) == [(-TRIAL, TRIAL, "trial", None)]
        assert await pool.fetchval("SELECT trial_granted_at FROM organizations WHERE id = $1",
                                   org_id) is not None

        second = await owner.create_client()
        assert second["balance_seconds"] == 0 and await ledger(pool, second["id"]) == []

        # Deleting the client that had the trial does not make the next one a first.
        assert (await owner.delete(f"/api/clients/{first['id']}")).status_code == 204
        third = await owner.create_client()
        assert third["balance_seconds"] == 0 and await ledger(pool, third["id"]) == []
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               second["id"]) == 0


async def test_a_replayed_sign_up_grants_nothing_twice(server, pool):
    body = {"email": "replay@example.com", "password": PASSWORD, "company_name": "Replay Co",
            "plan": "enterprise"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await http.post("/api/auth/register", json=body)
        assert signed.status_code == 201, signed.text
        owner, org_id = as_user(http, signed), signed.json()["user"]["organization"]["id"]
        await owner.create_client()
        assert_error(await http.post("/api/auth/register", json=body), 409, "email_taken")
        assert (await owner.create_client())["balance_seconds"] == 0
    assert await pool.fetchval("SELECT count(*) FROM users") == 1
    assert await pool.fetchval("SELECT count(*) FROM organizations") == 1
    assert await trials(pool, org_id) == 1


async def test_first_clients_created_at_once_share_one_trial(server, pool):
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await sign_up(http)
        owner, org_id = as_user(http, signed), signed.json()["user"]["organization"]["id"]
        made = await asyncio.gather(*(owner.create_client() for _ in range(4)))
    assert sorted(c["balance_seconds"] for c in made) == [0, 0, 0, TRIAL]
    assert await trials(pool, org_id) == 1


async def test_trial_seconds_is_a_setting_and_zero_gives_none(pool, pg_url):
    assert Settings.from_env({"TRIAL_SECONDS": "90"}).trial_seconds == 90
    assert Settings.from_env({}).trial_seconds == TRIAL
    async with api_server(pg_url, trial_seconds=0) as srv, \
            httpx.AsyncClient(base_url=srv.url) as http:
        owner = as_user(http, await sign_up(http))
        created = await owner.create_client()
    assert created["balance_seconds"] == 0 and await ledger(pool, created["id"]) == []


# --- frontdesk admin ----------------------------------------------------------------------

async def test_create_admin_promotes_and_the_admin_can_top_up(server, pool, cli_env, capsys):
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = as_user(http, await sign_up(http))
        client = await owner.create_client()
        path = f"/api/admin/clients/{client['id']}/top-ups"
        assert_error(await owner.post(path, json={"seconds": 60}), 403, "admin_required")

        code, out, _ = await admin(capsys, "create-admin", owner.email)
        assert code == 0 and "now an administrator" in out
        assert await pool.fetchval("SELECT is_admin FROM users WHERE id = $1", owner.id)
        assert (await admin(capsys, "create-admin", owner.email))[0] == 0  # idempotent

        topped = await owner.post(path, json={"seconds": 60, "note": "first invoice"})
        assert topped.status_code == 200, topped.text
        assert topped.json()["balance_seconds"] == TRIAL + 60
        assert (await owner.get("/api/auth/me")).json()["is_admin"] is True
    assert (await ledger(pool, client["id"]))[-1] == (-60, TRIAL + 60, "topup", "first invoice")


async def test_create_admin_creates_a_user_who_can_sign_in(server, pool, cli_env, capsys):
    code, out, _ = await admin(capsys, "create-admin", "Ops@Example.com",
                               "--password", "a long operator password")
    assert code == 0 and "created administrator ops@example.com" in out
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await http.post("/api/auth/login", json={
            "email": "ops@example.com", "password": "a long operator password"})
    assert signed.status_code == 200, signed.text
    assert signed.json()["user"]["is_admin"] is True
    assert signed.json()["user"]["organization"]["role"] == "owner"


async def test_top_up_and_balance(server, pool, cli_env, capsys):
    async with httpx.AsyncClient(base_url=server.url) as http:
        client = await as_user(http, await sign_up(http)).create_client(name="Bright Smile")
    code, out, _ = await admin(capsys, "top-up", str(client["id"]), "120", "--note", "invoice 7")
    assert code == 0 and f"balance {TRIAL + 120} s" in out
    assert await pool.fetchval("SELECT balance_seconds FROM clients WHERE id = $1",
                               client["id"]) == TRIAL + 120
    assert await ledger(pool, client["id"]) == [
        (-TRIAL, TRIAL, "trial", None), (-120, TRIAL + 120, "topup", "invoice 7")]

    code, out, _ = await admin(capsys, "balance", str(client["id"]))
    assert code == 0
    head, *rows = out.splitlines()
    assert "Bright Smile" in head and f"balance {TRIAL + 120} s" in head
    assert "trial" in rows[-2] and "topup" in rows[-1] and "invoice 7" in rows[-1]


@pytest.mark.parametrize(("argv", "status", "message"), [
    (["top-up", "999999", "60"], 1, "no client with id 999999"),
    (["balance", "999999"], 1, "no client with id 999999"),
    (["top-up", "{id}", "0"], 2, "seconds must be between 1 and"),
    (["top-up", "{id}", "-5"], 2, "seconds must be between 1 and"),
    (["top-up", "{id}", "ten"], 2, "seconds must be a whole number"),
    (["top-up", "{id}", "10000001"], 2, "seconds must be between 1 and"),
    (["top-up", "abc", "60"], 2, "not a client id"),
    (["create-admin", "not-an-email"], 1, "not an e-mail address"),
    (["create-admin", "ops@example.com", "--password", "short"], 1, "8 to 128 characters"),
])
async def test_refused_commands_exit_non_zero_and_change_nothing(pool, cli_env, capsys, argv,
                                                                 status, message):
    from tests.factories import make_client

    client = await make_client(pool, balance_seconds=0)
    code, out, err = await admin(capsys, *(a.format(id=client.id) for a in argv))
    assert (code, out) == (status, "") and message in err
    assert await pool.fetchval("SELECT count(*) FROM usage_ledger") == 0
    assert await pool.fetchval("SELECT count(*) FROM users WHERE is_admin") == 0


async def test_the_installed_command_exits_1_for_an_unknown_client(pool, cli_env):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from frontdesk.cli import main; main()",
        "admin", "top-up", "424242", "60", env=cli_env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1, err
    assert out == b"" and b"frontdesk admin: no client with id 424242" in err
