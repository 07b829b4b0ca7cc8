"""/console: the operators' web console. Each page is the same small server-rendered shell
naming its page; the scripts under /console/static draw it from the REST API (JSON, cookie
session) and the live-calls stream. Every asset is served from here: it works offline.
"""

from __future__ import annotations

import html
import json
from importlib.resources import files
from string import Template
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.errors import ApiError
from api.scopes import SCOPES
from api.webhooks import EVENT_TYPES
from console import live

STATIC = "/console/static"
# path -> (title, nav label or None)
PAGES: dict[str, str] = {
    "live": "Live calls",
    "calls": "Call history",
    "appointments": "Appointments",
    "contacts": "Contacts",
    "clients": "Clients",
    "keys": "API keys",
    "webhooks": "Webhooks",
    "analytics": "Analytics",
    "team": "Team",
    "billing": "Billing",   # Stripe Checkout comes back here (api/billing.py _return_url)
}

_SHELL = Template((files("console") / "shell.html").read_text())


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _headers(settings: Any) -> dict[str, str]:
    # No inline script or style anywhere; recordings come through the public URL, which
    # may be another origin than the one the console is opened at.
    media = " ".join(filter(None, ("'self'", _origin(settings.public_url))))
    return {
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            f" media-src {media}; connect-src 'self'; form-action 'self';"
            " frame-ancestors 'none'; base-uri 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }


def _nav(current: str) -> str:
    links = []
    for path, label in PAGES.items():
        here = ' aria-current="page"' if path == current else ""
        links.append(f'<a href="/console/{path}"{here}>{html.escape(label)}</a>')
    return "\n      ".join(links)


def shell(settings: Any, page: str, title: str, **data: Any) -> HTMLResponse:
    attrs = " ".join(f'data-{k.replace("_", "-")}="{html.escape(str(v), quote=True)}"'
                     for k, v in data.items())
    body = _SHELL.substitute(
        title=html.escape(title), page=html.escape(page), static=STATIC, data=attrs,
        nav=_nav(page) if page != "login" else "",
        scopes=html.escape(json.dumps(sorted(SCOPES)), quote=True),
        events=html.escape(json.dumps(list(EVENT_TYPES)), quote=True))
    return HTMLResponse(body, headers=_headers(settings))


def install(app: FastAPI, settings: Any) -> None:
    """Mount the console's pages, its assets and its live-calls stream."""
    app.mount(STATIC, StaticFiles(directory=str(files("console") / "static")),
              name="console-static")
    app.include_router(live.router)

    async def home() -> RedirectResponse:
        return RedirectResponse("/console/live", status_code=303)

    async def login() -> HTMLResponse:
        return shell(settings, "login", "Sign in")

    async def page(name: str) -> Response:
        if name not in PAGES:
            raise ApiError(404, "no such console page")
        return shell(settings, name, PAGES[name])

    async def call(call_id: int, request: Request) -> HTMLResponse:
        return shell(settings, "call", f"Call {call_id}", call_id=call_id)

    app.add_api_route("/console", home, include_in_schema=False)
    app.add_api_route("/console/", home, include_in_schema=False)
    app.add_api_route("/console/login", login, include_in_schema=False)
    app.add_api_route("/console/calls/{call_id:int}", call, include_in_schema=False)
    app.add_api_route("/console/{name}", page, include_in_schema=False)
