"""Browser sessions in cookies: HttpOnly access and refresh tokens, and a CSRF token.

Opt-in (``"use_cookies": true`` at sign-in): script on the page never sees the tokens, so
an injected script cannot carry them off. A cookie is sent by the browser on its own,
so every cookie-authenticated write must also echo the ``fd_csrf`` cookie (readable by
the page, not by other sites) in ``X-CSRF-Token``: the double-submit pattern. SameSite
Strict already keeps other sites' requests from carrying the cookies; the token also
covers browsers and subdomains where it does not.
"""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from api.auth import ACCESS_TOKEN_SECONDS
from api.csrf import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from api.sessions import REFRESH_TOKEN_SECONDS, TokenPair

REFRESH_PATH = "/api/auth"  # the refresh token travels only to the routes that use it


def _secure(request: Request) -> bool:
    # Secure cookies are not sent over plain http, which is how a local server is reached.
    return request.state.api.settings.public_url.startswith("https://")


def set_session(request: Request, response: Response, pair: TokenPair) -> None:
    secure = _secure(request)
    response.set_cookie(ACCESS_COOKIE, pair.access_token, max_age=ACCESS_TOKEN_SECONDS,
                        path="/", secure=secure, httponly=True, samesite="strict")
    response.set_cookie(REFRESH_COOKIE, pair.refresh_token, max_age=REFRESH_TOKEN_SECONDS,
                        path=REFRESH_PATH, secure=secure, httponly=True, samesite="strict")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=REFRESH_TOKEN_SECONDS,
                        path="/", secure=secure, httponly=False, samesite="strict")


def clear_session(request: Request, response: Response) -> None:
    secure = _secure(request)
    response.delete_cookie(ACCESS_COOKIE, path="/", secure=secure, httponly=True,
                           samesite="strict")
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=secure, httponly=True,
                           samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="strict")


def hidden(pair: TokenPair) -> TokenPair:
    """The body of a cookie sign-in: the tokens are in the cookies only."""
    return pair.model_copy(update={"access_token": "", "refresh_token": ""})
