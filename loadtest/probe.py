"""``python -m loadtest.probe``: an outside probe of a frontdesk server's defences.

It does what a careless or hostile peer would: idle unauthenticated media streams,
malformed messages in a live call, deep JSON, control characters in webhook fields,
spreadsheet formulas in caller IDs, many calls on a small balance, a caller that stops
reading, logout and key-scope misuse, extensions in the dialled number. Each check reports
a figure. It talks to the server only over HTTP and WebSocket, as Twilio, callers, owners
and attackers do.

``--launch`` starts ``frontdesk serve`` itself (embedded PostgreSQL in a fresh
FRONTDESK_HOME, its log in the output folder), so it can also read the log, make its owner
an administrator (for top-ups) in the database it created, and finally stop the server with
SIGTERM and SIGINT and look for processes left behind. Against a server you run yourself,
give ``--url``, ``--auth-token``, ``--admin-token`` and optionally ``--log``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import os
import random
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from loadtest import probe_shapes
from loadtest import twilio_wire as wire
from loadtest.probe_call import ProbeCall
from loadtest.server import SpawnedServer, free_port

DEMO_NUMBER = "+15555550100"
PASSWORD = "probe password 0123"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Target:
    url: str
    auth_token: str | None
    admin_token: str | None = None
    log: Path | None = None
    attacker_host: str | None = None   # local address the attacker's sockets come from
    home: Path | None = None           # FRONTDESK_HOME of a launched server

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


@dataclass
class Owner:
    http: httpx.AsyncClient
    token: str
    refresh: str
    user_id: int
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def client(self, name: str, *, balance: int, admin_token: str | None) -> dict:
        number = f"+1415555{secrets.randbelow(10_000):04d}"
        r = await self.http.post("/api/clients", headers=self.auth, json={
            "name": name, "phone_number": number, "initial_greeting":
            "Thanks for calling the probe clinic, this is the front desk. How can I help?"})
        r.raise_for_status()
        client = r.json()
        if balance and admin_token:
            r = await self.http.post(f"/api/admin/clients/{client['id']}/top-ups",
                                     headers={"Authorization": f"Bearer {admin_token}"},
                                     json={"seconds": balance})
            r.raise_for_status()
        self.clients[name] = client
        return client

    async def conversation(self, client_id: int, call_sid: str) -> dict | None:
        r = await self.http.get(f"/api/clients/{client_id}/conversations", headers=self.auth,
                                params={"limit": 100})
        for item in r.json().get("items", []):
            if item["call_sid"] == call_sid:
                detail = await self.http.get(
                    f"/api/clients/{client_id}/conversations/{item['id']}", headers=self.auth)
                return detail.json()
        return None

    async def ended(self, client_id: int, call_sid: str, within: float = 30.0) -> dict | None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            conv = await self.conversation(client_id, call_sid)
            if conv and conv["status"] == "ended":
                return conv
            await asyncio.sleep(0.25)
        return await self.conversation(client_id, call_sid)


async def register(url: str) -> Owner:
    http = httpx.AsyncClient(base_url=url, timeout=30)
    r = await http.post("/api/auth/register", json={
        "email": f"probe-{secrets.token_hex(4)}@example.com", "password": PASSWORD})
    r.raise_for_status()
    body = r.json()
    return Owner(http, body["access_token"], body["refresh_token"], body["user"]["id"])


# --- 1. idle unauthenticated sockets -----------------------------------------------------------

async def idle_sockets(t: Target, owner: Owner, count: int) -> dict[str, Any]:
    """``count`` sockets that never send ``start``, then a real call: is it admitted, and
    how long does the server let the idle sockets live?"""
    client = owner.clients["main"]
    url = f"{t.url.replace('http', 'ws', 1)}/ws/{client['id']}/idle"
    local = (t.attacker_host, 0) if t.attacker_host else None
    sockets: list[Any] = []
    watchers: list[asyncio.Task[float | None]] = []
    refused = 0

    async def lifetime(ws: Any, since: float) -> float | None:
        """Seconds until the server closed ``ws`` (None: still open after 30 s)."""
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), 30)
        return time.monotonic() - since if ws.close_code is not None else None

    for _ in range(count):
        try:
            ws = await connect(url, open_timeout=5, local_addr=local, ping_interval=None)
        except (InvalidHandshake, OSError, TimeoutError):
            refused += 1
            continue
        sockets.append(ws)
        watchers.append(asyncio.create_task(lifetime(ws, time.monotonic())))
    call = ProbeCall(t.url, client["phone_number"], t.auth_token)
    dialed = await call.dial()
    if dialed.instruction is None:
        outcome = f"refused at /voice ({dialed.status}: {dialed.said[:60]})"
    elif not await call.connect():
        outcome = "stream refused at the upgrade"
    elif not await call.until_agent_spoke(20):
        outcome = f"stream closed {call.close_code}" if call.closed else "no greeting"
    else:
        await call.hang_up()
        outcome = "completed"
    await call.close()

    lifetimes = await asyncio.gather(*watchers)
    for ws in sockets:
        with contextlib.suppress(Exception):
            await ws.close()
    closed = [x for x in lifetimes if x is not None]
    return {"idle_sockets": count, "refused_at_upgrade": refused, "real_call": outcome,
            "closed_by_server_within_1_s": sum(1 for x in closed if x < 1),
            "longest_idle_socket_s": round(max(closed, default=0), 1),
            "still_open_after_30_s": len(lifetimes) - len(closed)}


# --- 2. malformed messages in a live call ------------------------------------------------------

async def _live_call(t: Target, number: str) -> ProbeCall:
    call = ProbeCall(t.url, number, t.auth_token)
    dialed = await call.dial()
    if dialed.instruction is None or not await call.connect():
        raise RuntimeError(f"could not place a call: {dialed.status} {dialed.said}")
    await call.until_agent_spoke(20)
    return call


# A silent caller hears "are you still there?" after the client's silence timeout (10 s by
# default) and a goodbye after twice that: a probe call is replaced long before, so that
# only a message can end it.
FRESH_CALL_SECONDS = 12.0


async def _survives(call: ProbeCall, messages: list[str | bytes]) -> bool:
    for message in messages:
        await call.send(message)
    await call.silence(0.3)
    return not await call.wait_closed(1.0)


async def _fresh(t: Target, number: str, call: ProbeCall | None) -> ProbeCall:
    if call is not None and not call.closed and time.monotonic() - call.t0 < FRESH_CALL_SECONDS:
        return call
    if call is not None and not call.closed:
        await call.hang_up()
    return await _live_call(t, number)


async def malformed(t: Target, owner: Owner, *, seed: int, batches: int, size: int
                    ) -> dict[str, Any]:
    number = owner.clients["main"]["phone_number"]
    killers: list[str] = []
    shapes = probe_shapes.catalogue()
    call = None
    for name, raw in shapes:
        call = await _fresh(t, number, call)
        if not await _survives(call, [raw]):
            killers.append(f"{name} (closed {call.close_code})")
    rng = random.Random(seed)
    killed_batches = 0
    for _ in range(batches):
        call = await _fresh(t, number, call)
        if not await _survives(call, probe_shapes.random_batch(rng, size)):
            killed_batches += 1
    responsive = await _health(t)
    if call is not None:
        await call.hang_up()
    return {"shapes": len(shapes), "shapes_that_ended_a_call": len(killers),
            "which": killers, "random_batches": batches, "batch_size": size, "seed": seed,
            "batches_that_ended_a_call": killed_batches, "healthz_after": responsive}


async def _health(t: Target) -> int:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(f"{t.url}/healthz")).status_code


# --- 3. deep JSON before start ----------------------------------------------------------------

async def deep_json_first(t: Target, owner: Owner) -> dict[str, Any]:
    before = t.log_text().count("Traceback")
    url = f"{t.url.replace('http', 'ws', 1)}/ws/{owner.clients['main']['id']}/deep"
    async with connect(url, open_timeout=5) as ws:
        await ws.send("[" * probe_shapes.DEEP + "]" * probe_shapes.DEEP)
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), 15)
        code = ws.close_code
    await asyncio.sleep(0.5)  # let the server write its log line
    out: dict[str, Any] = {"close_code": code}
    if t.log:
        out["new_tracebacks_in_log"] = t.log_text().count("Traceback") - before
    return out


# --- 4. log injection --------------------------------------------------------------------------

async def log_injection(t: Target) -> dict[str, Any]:
    marker = f"FORGED-{secrets.token_hex(4)}"
    statuses = []
    async with httpx.AsyncClient(timeout=10) as http:
        form = wire.voice_form(call_sid=f"CA1\n{marker} INFO frontdesk: ok", to=DEMO_NUMBER,
                               caller="+14155550100", account_sid="AC1")
        r = await http.post(f"{t.url}/voice", data=form, headers={"X-Twilio-Signature": "bad"})
        statuses.append(r.status_code)
        form = wire.voice_form(call_sid=wire.new_sid("CA"), to=f"+1\r\n{marker} WARNING x",
                               caller="+14155550100", account_sid="AC1")
        headers = {"X-Twilio-Signature": wire.sign(t.auth_token, f"{t.url}/voice", form)} \
            if t.auth_token else {}
        r = await http.post(f"{t.url}/voice", data=form, headers=headers)
        statuses.append(r.status_code)
    await asyncio.sleep(0.5)
    out: dict[str, Any] = {"statuses": statuses}
    if t.log:
        out["forged_log_lines"] = sum(1 for line in t.log_text().splitlines()
                                      if line.startswith(marker))
    return out


# --- 5. CSV formula injection ----------------------------------------------------------------

async def csv_injection(t: Target, owner: Owner) -> dict[str, Any]:
    client = owner.clients["main"]
    statuses = {}
    for name, overrides in {
        "From =HYPERLINK": {"From": '=HYPERLINK("http://evil.example")'},
        "From @SUM": {"From": "@SUM(1+1)*cmd|' /C calc'!A0"},
        "CallSid =1+2": {"CallSid": "=1+2"},
        "From E.164": {},
    }.items():
        call = ProbeCall(t.url, client["phone_number"], t.auth_token)
        statuses[name] = (await call.dial(**overrides)).status
    r = await owner.http.get(f"/api/clients/{client['id']}/conversations/export",
                             headers=owner.auth)
    rows = list(csv.reader(io.StringIO(r.text)))
    unguarded = [cell for row in rows[1:] for cell in row if cell.startswith(FORMULA_START)]
    return {"voice_statuses": statuses, "export_rows": len(rows) - 1,
            "unguarded_formula_cells": len(unguarded), "examples": unguarded[:4]}


# --- 6. many calls on a small balance; a caller that stops reading ----------------------------

async def small_balance(t: Target, owner: Owner, *, calls: int, balance: int) -> dict[str, Any]:
    if not t.admin_token:
        return {"skipped": "needs --admin-token (a top-up sets the balance)"}
    client = await owner.client(f"balance-{calls}x{balance}", balance=balance,
                                admin_token=t.admin_token)
    probes = [ProbeCall(t.url, client["phone_number"], t.auth_token) for _ in range(calls)]
    for call in probes:
        await call.dial()
    opened = await asyncio.gather(*(c.connect() for c in probes if c.dialed.instruction))
    await asyncio.gather(*(c.until_closed(180) for c in probes if c.ws is not None))
    convs = [await owner.ended(client["id"], c.call_sid) for c in probes]
    talked = [c["duration_seconds"] or 0.0 for c in convs if c]
    before_goodbye = []
    for call, conv in zip(probes, convs, strict=True):
        starts = call.utterance_starts()
        if conv and conv["end_reason"] == "balance_exhausted" and len(starts) >= 1:
            before_goodbye.append(starts[-1] - call.t0)
        elif conv and conv["duration_seconds"]:
            before_goodbye.append(conv["duration_seconds"])
    return {"calls": calls, "balance_s": balance, "streams_opened": sum(opened),
            "talked_s_total": round(sum(talked), 1),
            "talked_before_goodbye_s_total": round(sum(before_goodbye), 1),
            "billed_s_total": sum(c["billed_seconds"] for c in convs if c),
            "end_reasons": sorted(c["end_reason"] or "?" for c in convs if c)}


async def non_reader(t: Target, owner: Owner) -> dict[str, Any]:
    if not t.admin_token:
        return {"skipped": "needs --admin-token"}
    client = await owner.client("non-reader", balance=600, admin_token=t.admin_token)
    call = await _live_call(t, client["phone_number"])
    assert call.ws is not None
    call.ws.transport.pause_reading()   # stop reading; keep sending, as a wedged peer does
    stopped = time.monotonic()
    dropped = None
    while time.monotonic() - stopped < 90:
        try:
            await asyncio.wait_for(call.ws.send(wire.media(
                stream_sid=call.stream_sid, payload=wire.ULAW_SILENCE, chunk=0, sequence=9)), 2)
        except (ConnectionClosed, TimeoutError, OSError):
            dropped = time.monotonic() - stopped
            break
        await asyncio.sleep(0.02)
    with contextlib.suppress(Exception):
        call.ws.transport.abort()
    conv = await owner.ended(client["id"], call.call_sid)
    return {"dropped_after_s": None if dropped is None else round(dropped, 1),
            "duration_s": conv and conv["duration_seconds"],
            "billed_s": conv and conv["billed_seconds"], "end_reason": conv and conv["end_reason"]}


# --- 7. the smaller ones ----------------------------------------------------------------------

async def greeting_cut_at_once(t: Target, owner: Owner) -> dict[str, Any]:
    from loadtest.voices import synthesize, to_ulaw_frames

    speech = to_ulaw_frames(*synthesize("Hi, I would like to book a cleaning please"))
    call = ProbeCall(t.url, owner.clients["main"]["phone_number"], t.auth_token)
    await call.dial()
    await call.connect()
    await call.play(speech)          # from the first frame: over the greeting
    await call.silence(4)
    await call.hang_up()
    conv = await owner.ended(owner.clients["main"]["id"], call.call_sid)
    turns = conv["transcript"] if conv else []
    return {"first_turns": [{"role": x["role"], "interrupted": x.get("interrupted"),
                             "content": x["content"][:40]} for x in turns[:2]]}


async def logout_kills_access_token(t: Target) -> dict[str, Any]:
    owner = await register(t.url)
    r = await owner.http.post("/api/auth/logout", json={"refresh_token": owner.refresh})
    me = await owner.http.get("/api/auth/me", headers=owner.auth)
    await owner.http.aclose()
    return {"logout": r.status_code, "access_token_after_logout": me.status_code}


async def key_scope(t: Target, owner: Owner) -> dict[str, Any]:
    async def key(scopes: list[str]) -> dict:
        r = await owner.http.post("/api/api-keys", headers=owner.auth,
                                  json={"name": "probe", "scopes": scopes})
        r.raise_for_status()
        return r.json()

    narrow = await key(["manage:api_keys"])
    broad = await key(["manage:api_keys", "read:conversations", "write:clients"])
    other = await key(["manage:api_keys", "read:clients"])
    as_narrow = {"Authorization": f"Bearer {narrow['key']}"}
    rotate = await owner.http.post(f"/api/api-keys/{other['id']}/rotate", headers=as_narrow)
    revoke = await owner.http.delete(f"/api/api-keys/{broad['id']}", headers=as_narrow)
    return {"narrow_key_rotates_broader_key": rotate.status_code,
            "narrow_key_revokes_broader_key": revoke.status_code}


async def extension_in_to(t: Target) -> dict[str, Any]:
    call = ProbeCall(t.url, DEMO_NUMBER + ";ext=1", t.auth_token)
    dialed = await call.dial()
    return {"status": dialed.status,
            "routed_to_a_stream": dialed.instruction is not None,
            "said": "" if dialed.instruction else dialed.said}


# --- running ----------------------------------------------------------------------------------

async def run_checks(t: Target, args: argparse.Namespace) -> dict[str, Any]:
    owner = await register(t.url)
    await owner.client("main", balance=3600, admin_token=t.admin_token)
    results: dict[str, Any] = {}

    async def check(name: str, step: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        if args.only and name not in args.only:
            return
        started = time.monotonic()
        try:
            results[name] = await step()
        except Exception as exc:  # one broken check is a figure, not the end of the probe
            results[name] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
        results[name]["check_s"] = round(time.monotonic() - started, 1)
        print(f"{name}: {json.dumps(results[name])}", flush=True)

    for n in args.idle:
        await check(f"idle_sockets_{n}", lambda n=n: idle_sockets(t, owner, n))
    await check("deep_json_before_start", lambda: deep_json_first(t, owner))
    await check("malformed_messages", lambda: malformed(t, owner, seed=args.seed,
                                                        batches=args.batches, size=args.size))
    await check("log_injection", lambda: log_injection(t))
    await check("csv_injection", lambda: csv_injection(t, owner))
    await check("small_balance", lambda: small_balance(t, owner, calls=6, balance=20))
    await check("non_reader", lambda: non_reader(t, owner))
    await check("greeting_cut_at_once", lambda: greeting_cut_at_once(t, owner))
    await check("logout", lambda: logout_kills_access_token(t))
    await check("key_scope", lambda: key_scope(t, owner))
    await check("extension_in_to", lambda: extension_in_to(t))
    await owner.http.aclose()
    return results


def _postgres_of(home: Path) -> list[int]:
    import psutil

    data = str(home / "pgdata")
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["name"] == "postgres" and data in " ".join(proc.info["cmdline"] or []):
                found.append(proc.pid)
    return found


async def _make_admin(home: Path, user_id: int) -> None:
    import asyncpg

    socket_dir = (home / "pgdata" / "postmaster.pid").read_text().splitlines()[4]
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await conn.execute("UPDATE users SET is_admin = true WHERE id = $1", user_id)
    finally:
        await conn.close()


async def _admin_token(url: str, home: Path) -> str:
    admin = await register(url)
    await admin.http.aclose()
    await _make_admin(home, admin.user_id)   # read per request: the token is an admin's now
    return admin.token


async def _stop(server: SpawnedServer, sig: signal.Signals) -> dict[str, Any]:
    assert server.proc is not None
    server.proc.send_signal(sig)
    try:
        code = await asyncio.to_thread(server.proc.wait, 60)
    except Exception:
        server.proc.kill()
        code = "did not exit in 60 s"
    return {"signal": sig.name, "exit_code": code}


def _env(port: int, token: str, home: Path, extra: list[str]) -> dict[str, str]:
    env = {"PORT": str(port), "HOST": "127.0.0.1", "PUBLIC_URL": f"http://127.0.0.1:{port}",
           "TWILIO_AUTH_TOKEN": token, "TWILIO_ACCOUNT_SID": "", "DATABASE_URL": "",
           "FRONTDESK_HOME": str(home), "LOG_LEVEL": "INFO"}
    env.update(item.split("=", 1) for item in extra)
    return env


async def launched(args: argparse.Namespace) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fd-probe-"))
    out = Path(args.out)
    token = secrets.token_hex(16)
    cmd = [shutil.which("frontdesk") or str(Path(sys.executable).parent / "frontdesk"), "serve"]
    results: dict[str, Any] = {}
    for round_, sig in ((1, signal.SIGTERM), (2, signal.SIGINT)):
        port = free_port()
        log = out / f"server-{round_}.log"
        server = SpawnedServer(cmd, _env(port, token, home, args.server_env), port, log_path=log)
        await server.start()
        t = Target(server.url, token, log=log, home=home,
                   attacker_host=args.attacker_host)
        try:
            if round_ == 1:
                t.admin_token = await _admin_token(server.url, home)
                results.update(await run_checks(t, args))
        finally:
            stop = await _stop(server, sig)
            await server.stop()   # closes its log
        await asyncio.sleep(1)
        stop["postgres_left_running"] = len(_postgres_of(home))
        results[f"stop_{round_}"] = stop
        print(f"stop_{round_}: {json.dumps(stop)}", flush=True)
    for pid in _postgres_of(home):  # leave the machine as we found it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    return results


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.probe", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--launch", action="store_true", help="start `frontdesk serve` itself")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--auth-token", help="the server's TWILIO_AUTH_TOKEN (signs /voice)")
    p.add_argument("--admin-token", help="an administrator's access token (top-ups)")
    p.add_argument("--log", type=Path, help="the server's log file, to look for forged lines")
    p.add_argument("--attacker-host", default="127.0.0.2",
                   help="local address of the idle sockets (default 127.0.0.2; '' for any)")
    p.add_argument("--idle", type=int, nargs="*", default=[10, 200])
    p.add_argument("--seed", type=int, default=12)
    p.add_argument("--batches", type=int, default=24)
    p.add_argument("--size", type=int, default=100)
    p.add_argument("--only", nargs="*", help="run only these checks")
    p.add_argument("--server-env", nargs="*", default=[], metavar="KEY=VALUE",
                   help="extra environment for a launched server")
    p.add_argument("--out", default="probe-out", help="folder for logs and results.json")
    args = p.parse_args(argv)
    args.attacker_host = args.attacker_host or None
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if args.launch:
        results = asyncio.run(launched(args))
    else:
        target = Target(args.url.rstrip("/"), args.auth_token, args.admin_token, args.log,
                        args.attacker_host)
        results = asyncio.run(run_checks(target, args))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"results: {out / 'results.json'}")


if __name__ == "__main__":
    main()
