"""Twilio's REST API on 127.0.0.1: the parts frontdesk uses (update a Call, send a Message,
list and update IncomingPhoneNumbers), speaking Twilio's form fields and JSON answers."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.serving import free_socket, serving

_sids = itertools.count(1)


@dataclass
class FakeTwilioRest:
    url: str = ""
    requests: list[dict] = field(default_factory=list)
    ended: set[str] = field(default_factory=set)
    messages: list[dict] = field(default_factory=list)       # every Messages.json POST
    blocked: set[str] = field(default_factory=set)           # recipients that sent STOP
    fail_messages: int = 0                                   # answer the next N with 500
    numbers: list[dict[str, Any]] = field(default_factory=list)
    number_updates: list[dict] = field(default_factory=list)
    fail_numbers: int = 0
    accounts: dict[str, str] = field(default_factory=dict)  # sid -> token it accepts (any if empty)
    placed: list[dict] = field(default_factory=list)          # every Calls.json POST (outbound)

    def redirects(self, call_sid: str) -> list[dict]:
        return [r for r in self.requests if r["call_sid"] == call_sid and "Twiml" in r["form"]]

    def hangups(self, call_sid: str) -> list[dict]:
        return [r for r in self.requests
                if r["call_sid"] == call_sid and r["form"].get("Status") == "completed"]

    def add_number(self, phone_number: str) -> dict[str, Any]:
        number = {"sid": f"PN{next(_sids):032x}", "phone_number": phone_number,
                  "friendly_name": phone_number, "voice_url": "", "sms_url": "",
                  "status_callback": "", "capabilities": {"voice": True, "sms": True}}
        self.numbers.append(number)
        return number


def _basic(request: Request) -> tuple[str, str]:
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(auth.removeprefix("Basic ")).decode().partition(":")
    return user, password


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, "status": status,
                         "more_info": f"https://www.twilio.com/docs/errors/{code}"}, status)


@asynccontextmanager
async def fake_twilio_rest() -> AsyncIterator[FakeTwilioRest]:
    state = FakeTwilioRest()

    def refused(request: Request) -> JSONResponse | None:
        user, password = _basic(request)
        if user != request.path_params["account"]:
            return _error(401, 20003, "Authenticate")
        if state.accounts and state.accounts.get(user) != password:
            return _error(401, 20003, "Authenticate")
        return None

    async def update_call(request: Request) -> JSONResponse:
        form = dict(parse_qsl((await request.body()).decode()))
        user, _ = _basic(request)
        call_sid = request.path_params["call_sid"]
        state.requests.append({"account": request.path_params["account"], "user": user,
                               "call_sid": call_sid, "form": form, "at": time.monotonic()})
        if call_sid in state.ended:
            return JSONResponse({"code": 20404, "message": "not found", "status": 404}, 404)
        if form.get("Status") == "completed":
            state.ended.add(call_sid)
        return JSONResponse({"sid": call_sid, "status": form.get("Status", "in-progress")})

    async def create_call(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        form = dict(parse_qsl((await request.body()).decode()))
        if not form.get("To", "").startswith("+") or not form.get("Url"):
            return _error(400, 21211, "Invalid 'To' Phone Number")
        sid = f"CA{next(_sids):032x}"
        state.placed.append({"sid": sid, "form": form})
        return JSONResponse({"sid": sid, "status": "queued", "to": form["To"],
                             "from": form.get("From"), "direction": "outbound-api"}, 201)

    async def create_message(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        form = dict(parse_qsl((await request.body()).decode()))
        record = {"account": request.path_params["account"], "form": form,
                  "at": time.monotonic()}
        state.messages.append(record)
        if state.fail_messages > 0:
            state.fail_messages -= 1
            return JSONResponse({"message": "internal error", "status": 500}, 500)
        if not form.get("To") or not (form.get("Body") or form.get("MediaUrl")):
            return _error(400, 21602, "Message body is required.")
        if form["To"] in state.blocked:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = f"SM{next(_sids):032x}"
        record["sid"] = sid
        return JSONResponse({"sid": sid, "status": "queued", "to": form["To"],
                             "from": form.get("From"), "body": form.get("Body"),
                             "num_segments": "1", "error_code": None,
                             "error_message": None}, 201)

    async def list_numbers(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        if state.fail_numbers > 0:
            state.fail_numbers -= 1
            return JSONResponse({"message": "internal error", "status": 500}, 500)
        size = int(request.query_params.get("PageSize", 50))
        page = int(request.query_params.get("Page", 0))
        items = state.numbers[page * size:(page + 1) * size]
        base = f"/2010-04-01/Accounts/{request.path_params['account']}/IncomingPhoneNumbers.json"
        more = (page + 1) * size < len(state.numbers)
        return JSONResponse({"incoming_phone_numbers": items, "page": page, "page_size": size,
                             "next_page_uri": f"{base}?PageSize={size}&Page={page + 1}"
                             if more else None})

    async def update_number(request: Request) -> JSONResponse:
        if (denied := refused(request)) is not None:
            return denied
        form = dict(parse_qsl((await request.body()).decode()))
        number = next((n for n in state.numbers if n["sid"] == request.path_params["sid"]),
                      None)
        if number is None:
            return _error(404, 20404, "not found")
        state.number_updates.append({"sid": number["sid"], "form": form})
        number.update(voice_url=form.get("VoiceUrl", number["voice_url"]),
                      sms_url=form.get("SmsUrl", number["sms_url"]),
                      status_callback=form.get("StatusCallback", number["status_callback"]))
        return JSONResponse(number)

    prefix = "/2010-04-01/Accounts/{account}"
    app = Starlette(routes=[
        Route(prefix + "/Calls.json", create_call, methods=["POST"]),
        Route(prefix + "/Calls/{call_sid}.json", update_call, methods=["POST"]),
        Route(prefix + "/Messages.json", create_message, methods=["POST"]),
        Route(prefix + "/IncomingPhoneNumbers.json", list_numbers, methods=["GET"]),
        Route(prefix + "/IncomingPhoneNumbers/{sid}.json", update_number, methods=["POST"]),
    ])
    sock = free_socket()
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    async with serving(app, sock, lifespan="off"):
        yield state
