"""The permissions matrix, checked on every documented route for every role: a route that
needs a scope answers 403 (missing_permission) exactly when the role lacks it.

The route -> scope map is read from each route's dependency tree (the ``require(scope)``
dependencies), not written down by hand, so a new route is covered as soon as it exists.
"""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.permissions import ROLE_SCOPES
from tests.team_support import join, team_server
from tests.test_api_support import register

NO_SUCH_ID = "987654"


@pytest.fixture(scope="module")
async def world(pg_url):
    async with team_server(pg_url) as (server, sink):
        yield server, sink


def _scopes(dependant) -> set[str]:
    found = set()
    for dep in dependant.dependencies:
        scope = getattr(dep.call, "required_scope", None)
        if scope is not None:
            found.add(scope)
        found |= _scopes(dep)
    return found


def _api_routes(app) -> dict[tuple[str, str], Dependant]:
    """(method, full path) -> the dependency tree it runs. FastAPI >= 0.16x keeps included
    routers nested; older ones copy their routes onto the app."""
    from fastapi import routing

    found = {}
    nested = getattr(routing, "_iter_routes_with_context", None)
    pairs = nested(app.routes) if nested else ((r, None) for r in app.routes)
    for route, context in pairs:
        if not isinstance(route, APIRoute):
            continue
        path = context.path if context is not None else route.path_format
        methods = context.methods if context is not None else route.methods
        dependant = (context.dependant if context is not None and context.dependant
                     else route.dependant)
        for method in methods:
            found.setdefault((method, path), dependant)
    return found


def scoped_operations(app) -> list[tuple[str, str, frozenset[str]]]:
    """(method, path, scopes) of every operation in the OpenAPI document that needs scopes."""
    routes = _api_routes(app)
    ops = []
    for path, methods in app.openapi()["paths"].items():
        for method in methods:
            scopes = _scopes(routes[(method.upper(), path)])
            if scopes:
                ops.append((method.upper(), path, frozenset(scopes)))
    return ops


def test_the_matrix_is_what_the_issue_says():
    member, admin, owner = ROLE_SCOPES["member"], ROLE_SCOPES["admin"], ROLE_SCOPES["owner"]
    assert {"read:calls", "read:conversations", "read:appointments",
            "write:appointments"} <= member
    assert not {"write:clients", "manage:api_keys", "write:webhooks", "read:billing",
                "manage:team"} & member
    assert {"write:clients", "write:calls", "manage:api_keys", "write:webhooks",
            "read:webhooks"} <= admin
    assert not {"read:billing", "write:billing", "manage:team"} & admin
    assert member < admin < owner


async def test_every_route_enforces_the_matrix_for_every_role(world, pool):
    server, sink = world
    ops = scoped_operations(server.app)
    assert len(ops) > 50  # the map was found, not silently empty
    assert ("GET", "/api/calls", frozenset({"read:conversations"})) in ops
    assert ("POST", "/api/team/invite", frozenset({"manage:team"})) in ops
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        owner = await register(http)
        people = {"owner": owner, "admin": await join(owner, sink, "admin"),
                  "member": await join(owner, sink, "member")}
        wrong = []
        for method, path, scopes in ops:
            url = re.sub(r"\{[^}]+\}", NO_SUCH_ID, path)
            for role, user in people.items():
                response = await http.request(method, url, headers=user.auth,
                                              json={} if method in ("POST", "PUT", "PATCH")
                                              else None)
                refused = (response.status_code == 403
                           and response.json().get("error_code") == "missing_permission")
                if refused != (not scopes <= ROLE_SCOPES[role]):
                    wrong.append((role, method, path, sorted(scopes), response.status_code,
                                  response.text[:120]))
    assert not wrong, "\n".join(map(str, wrong))


async def test_the_permissions_route_shows_the_matrix_to_every_role(world, pool):
    server, sink = world
    async with httpx.AsyncClient(base_url=server.url) as http:
        owner = await register(http)
        member = await join(owner, sink, "member")
        body = (await member.get("/api/team/permissions")).json()
    roles = {r["role"]: set(r["scopes"]) for r in body["roles"]}
    assert roles == {k: set(v) for k, v in ROLE_SCOPES.items()}
    by_scope = {s["scope"]: s for s in body["scopes"]}
    assert by_scope["read:calls"]["roles"] == ["member", "admin", "owner"]
    assert by_scope["read:billing"]["roles"] == ["owner"]
    assert by_scope["read:billing"]["description"]
