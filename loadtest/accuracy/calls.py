"""``accuracy --mode call``: real calls into ``frontdesk serve`` with the offline stack.

Starts the server itself on a fresh PostgreSQL database (created on ``--database-url``'s
server and dropped afterwards), adds the benchmark client to it, and places each call as
Twilio does: a signed ``POST /voice``, then the media stream, the caller's lines spoken
each once the agent has answered (``loadtest.line``). The truth is read back from the
server's database, as an operator would with psql: the appointments and messages of each
call and the transcript the server stored. Each call's bookings are cancelled afterwards,
so every call finds the same free calendar.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
from websockets.asyncio.client import connect

from loadtest import phone_line, voices
from loadtest import twilio_wire as wire
from loadtest.accuracy import dialogues as dialogue_data
from loadtest.accuracy.caller import Caller
from loadtest.accuracy.offline import BUSINESS, HOURS, SLOT_MINUTES, TZ
from loadtest.accuracy.score import Booked, CallResult
from loadtest.line import PENDING, CallerTurn, Line, LineReport
from loadtest.server import SpawnedServer, free_port

NUMBER = "+15555550142"
CALLER_ID = "+12125550199"
MODELS = {"tiny": "local/whisper-tiny.en", "base": "local/whisper-base"}
AGENT_LINE_WAIT_S = 2.0  # for the agent's last turn to reach the database once it went quiet


async def _seed(pool: asyncpg.Pool, stt_model: str) -> int:
    owner = await pool.fetchval(
        "INSERT INTO users (email, full_name) VALUES ('accuracy@frontdesk.local', 'Bench')"
        " RETURNING id")
    return await pool.fetchval(
        "INSERT INTO clients (owner_id, name, phone_number, balance_seconds, timezone,"
        " business_hours, slot_minutes, stt_model, initial_greeting)"
        " VALUES ($1, $2, $3, 10000000, $4, $5::jsonb, $6, $7, $8) RETURNING id",
        owner, BUSINESS, NUMBER, TZ, json.dumps(HOURS), SLOT_MINUTES, stt_model,
        f"Thanks for calling {BUSINESS}. How can I help you today?")


class _Transcript:
    """The server's stored transcript of one call, polled while it goes on."""

    def __init__(self, pool: asyncpg.Pool, call_sid: str) -> None:
        self.pool, self.call_sid = pool, call_sid
        self.turns: list[dict[str, Any]] = []

    async def watch(self) -> None:
        while True:
            raw = await self.pool.fetchval(
                "SELECT transcript FROM conversations WHERE call_sid = $1", self.call_sid)
            if raw is not None:
                self.turns = json.loads(raw) if isinstance(raw, str) else raw
            await asyncio.sleep(0.1)

    def agent_lines(self) -> list[str]:
        return [t["content"] for t in self.turns if t.get("role") == "assistant"]


async def _one_call(url: str, token: str, pool: asyncpg.Pool, dialogue: dialogue_data.Dialogue,
                    voice: str, noisy: bool, today: date) -> tuple[CallResult, LineReport]:
    result = CallResult(dialogue=dialogue, voice=voice, noisy=noisy, today=today)
    report = LineReport(call_sid=wire.new_sid("CA"))
    account = wire.new_sid("AC")
    form = wire.voice_form(call_sid=report.call_sid, to=NUMBER, caller=CALLER_ID,
                           account_sid=account)
    async with httpx.AsyncClient(timeout=15) as http:
        response = await http.post(f"{url}/voice", data=form, headers={
            "X-Twilio-Signature": wire.sign(token, f"{url}/voice", form)})
    instruction = wire.parse_twiml(response.text) if response.status_code == 200 else None
    if instruction is None:
        result.error = f"/voice: {response.status_code} {response.text[:100]}"
        return result, report
    transcript = _Transcript(pool, report.call_sid)
    caller = Caller(dialogue, today=today)
    heard_agent = {"count": 0, "since": time.monotonic()}

    def next_turn() -> CallerTurn | None | object:
        lines = transcript.agent_lines()
        if len(lines) <= heard_agent["count"] and \
                time.monotonic() - heard_agent["since"] < AGENT_LINE_WAIT_S:
            return PENDING  # the agent's reply is not in the database yet
        heard_agent["count"], heard_agent["since"] = len(lines), time.monotonic()
        text = caller.next_line(lines[-1] if lines else "")
        if text is None:
            return None
        pcm, rate = voices.synthesize(text, engine=voice)
        seed = sum(map(ord, text + voice)) % 2**32
        return CallerTurn.from_pcm(text, phone_line.phone(pcm, rate, noisy=noisy, seed=seed),
                                   rate)

    ws = await connect(instruction.url, max_size=2**22, open_timeout=10)
    line = Line(ws, report, next_turn, account_sid=account, quiet_s=0.7, linger_s=4.0,
                deadline=time.monotonic() + 180, hang_up=asyncio.Event(), echo=lambda _s: None)
    watcher = asyncio.create_task(transcript.watch())
    try:
        await line.run(instruction.parameters)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    await _finished(pool, report.call_sid)
    await _collect(pool, report, result, caller)
    return result, report


async def _finished(pool: asyncpg.Pool, call_sid: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await pool.fetchval("SELECT status FROM conversations WHERE call_sid = $1",
                               call_sid) == "ended":
            return
        await asyncio.sleep(0.2)


async def _collect(pool: asyncpg.Pool, report: LineReport, result: CallResult,
                   caller: Caller) -> None:
    conv = await pool.fetchrow("SELECT id, transcript FROM conversations WHERE call_sid = $1",
                               report.call_sid)
    turns = json.loads(conv["transcript"]) if isinstance(conv["transcript"], str) \
        else conv["transcript"]
    zone = ZoneInfo(TZ)
    rows = await pool.fetch("SELECT name, starts_at FROM appointments WHERE conversation_id = $1"
                            " AND status = 'booked' ORDER BY id", conv["id"])
    result.bookings = [Booked(r["starts_at"].astimezone(zone).date(),
                              r["starts_at"].astimezone(zone).time(), r["name"]) for r in rows]
    result.messages = await pool.fetchval(
        "SELECT count(*) FROM messages WHERE conversation_id = $1", conv["id"])
    result.agent = [t["content"] for t in turns if t.get("role") == "assistant"]
    heard = [t["content"] for t in turns if t.get("role") == "user"]
    result.caller = [(s, heard[i] if i < len(heard) else "") for i, s in enumerate(caller.said)]
    result.latencies_ms = [t.latency_ms for t in report.turns if t.latency_ms is not None]
    result.unanswered_turns = sum(1 for t in report.turns[:-1]
                                  if t.latency_ms is None and not t.spoken_over)
    users = 0
    for t in turns:
        users += t.get("role") == "user"
        if t.get("role") == "assistant" and str(t.get("content", "")).startswith(
                "You're booked") and rows:
            result.turns_to_booking = users
            break
    await pool.execute("UPDATE appointments SET status = 'cancelled', cancelled_at = now()"
                       " WHERE conversation_id = $1", conv["id"])


async def _run(args: argparse.Namespace) -> int:
    from loadtest.accuracy import offline
    from loadtest.accuracy.run import _ids, plans, report

    suite = dialogue_data.load()
    ids = _ids(args.dialogues)
    chosen = plans(suite, args.voices.split(","), args.per_dialogue,
                   args.conditions.split(","), ids)
    base = args.database_url or os.environ.get("DATABASE_URL") or \
        "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"frontdesk_accuracy_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(base)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = base.rsplit("/", 1)[0] + f"/{name}"
    port = free_port()
    token = secrets.token_hex(16)
    server = SpawnedServer(
        cmd=[str(Path(sys.executable).parent / "frontdesk"), "serve"],
        env={"DATABASE_URL": dsn, "PORT": str(port), "HOST": "127.0.0.1",
             "PUBLIC_URL": f"http://127.0.0.1:{port}", "TWILIO_AUTH_TOKEN": token,
             "TWILIO_ACCOUNT_SID": "", "LOCAL_MODELS": "true", "LOG_LEVEL": "WARNING"},
        port=port, cpus=None, log_path=Path(tempfile.gettempdir()) / f"{name}.log")
    results: list[CallResult] = []
    latencies: list[float] = []
    try:
        await server.start()
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        await _seed(pool, MODELS[args.model])
        today = datetime.now(ZoneInfo(TZ)).date()
        for n, plan in enumerate(chosen, start=1):
            result, _ = await _one_call(server.url, token, pool, plan.dialogue, plan.voice,
                                        plan.noisy, today)
            results.append(result)
            latencies += result.latencies_ms
            print(f"  [{n}/{len(chosen)}] #{plan.dialogue.id} {plan.voice} "
                  f"{'noisy' if plan.noisy else 'clean'}: "
                  f"{'ok' if not result.failed else 'FAILED'}", flush=True)
        await pool.close()
    finally:
        await server.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    text_ok = {d.id: not offline.converse(d, lambda s: s, voice="text", noisy=False).failed
               for d in suite.dialogues}
    out = report(results, text_ok, suite.held_out_voices, show_held_out=args.show_held_out,
                 mode=f"call ({args.model})", verbose=args.verbose)
    if latencies:
        ordered = sorted(latencies)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(f"turn latency (caller speech end → first agent audio), {len(ordered)} turns: "
              f"p50 {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms")
        out["latency_ms"] = {"p50": statistics.median(ordered), "p95": p95,
                             "turns": len(ordered)}
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))  # noqa: ASYNC240
    return 0


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
