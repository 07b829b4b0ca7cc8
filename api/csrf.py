"""The names of the session cookies, and the CSRF check for writes they authenticate.

Apart from api.cookies so that api.auth can check a request without importing sessions.
"""

from __future__ import annotations

from fastapi import Request

from api.crypto import same
from api.errors import ApiError

ACCESS_COOKIE = "fd_access"
REFRESH_COOKIE = "fd_refresh"
CSRF_COOKIE = "fd_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_csrf(request: Request) -> None:
    """A write authenticated by cookie must echo the CSRF cookie in its header (403)."""
    if request.method in SAFE_METHODS:
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not same(cookie, header):
        raise ApiError(403, f"a cookie-authenticated write needs the {CSRF_COOKIE} cookie's "
                            f"value in {CSRF_HEADER}", "csrf_failed")
