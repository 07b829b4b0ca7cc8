"""All REST routers, mounted under /api."""

from __future__ import annotations

from fastapi import APIRouter

from api import active_calls


def router() -> APIRouter:
    api = APIRouter(prefix="/api")
    api.include_router(active_calls.router)
    return api
