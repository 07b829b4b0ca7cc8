"""/api/api-keys: keys for integrations. The secret is shown once, at creation or rotation."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import AfterValidator, BaseModel, Field

from api.auth import KEY_PREFIX, Principal, require
from api.crypto import token_hash
from api.errors import ApiError, responses
from api.scopes import ALL, SCOPES
from api.validation import Id, Input
from db import api_keys
from db.api_keys import ApiKey

router = APIRouter(prefix="/api-keys", tags=["API keys"])

Manage = Annotated[Principal, Depends(require("manage:api_keys"))]
MAX_KEYS_PER_USER = 50


def _scopes(value: list[str]) -> list[str]:
    unknown = sorted(set(value) - ALL)
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {sorted(ALL)}")
    return sorted(set(value))


Scopes = Annotated[list[Annotated[str, Field(max_length=64,
                                             json_schema_extra={"enum": sorted(ALL)})]],
                   Field(min_length=1, max_length=len(SCOPES),
                         description="Any of: " + ", ".join(SCOPES),
                         examples=[["read:conversations", "write:clients"]]),
                   AfterValidator(_scopes)]


class KeyCreate(Input):
    name: str = Field(min_length=1, max_length=100, examples=["CRM sync"])
    scopes: Scopes


class KeyOut(BaseModel):
    id: int = Field(examples=[3])
    name: str = Field(examples=["CRM sync"])
    prefix: str = Field(description="Identifies the key; not secret", examples=["fd_1a2b3c4d"])
    masked: str = Field(examples=["fd_1a2b3c4d_…"])
    scopes: list[str] = Field(examples=[["read:conversations"]])
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(id=k.id, name=k.name, prefix=k.prefix, masked=f"{k.prefix}_…",
                   scopes=k.scopes, created_at=k.created_at, last_used_at=k.last_used_at,
                   revoked_at=k.revoked_at)


class KeyCreated(KeyOut):
    key: str = Field(description="The secret. Shown only now: store it safely",
                     examples=["fd_1a2b3c4d_Qx7...43 more characters"])


def _within_own_scopes(principal: Principal, scopes: list[str], action: str) -> None:
    """A key can create, rotate or revoke only keys whose scopes it holds itself: else a
    narrow key could take a broader key away from its integration, or mint its twin. A
    member likewise grants no scope beyond their role's."""
    if set(scopes) <= principal.scopes:
        return
    if principal.is_key:
        raise ApiError(403, f"a key cannot {action} a key with scopes it does not hold",
                       "missing_scope")
    beyond = ", ".join(sorted(set(scopes) - principal.scopes))
    raise ApiError(403, f"the {principal.role} role cannot {action} a key with {beyond}",
                   "missing_permission")


async def _mint(request: Request, principal: Principal, name: str,
                scopes: list[str]) -> KeyCreated:
    _within_own_scopes(principal, scopes, "create")
    prefix = KEY_PREFIX + secrets.token_hex(4)
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = await api_keys.insert(request.state.api.pool, user_id=principal.user_id, name=name,
                                organization_id=principal.organization_id, prefix=prefix,
                                key_hash=token_hash(key), scopes=scopes)
    return KeyCreated(**KeyOut.of(row).model_dump(), key=key)


@router.post("", status_code=201, response_model=KeyCreated,
             summary="Create a key; its secret is in the answer and nowhere else"
                     " (scope manage:api_keys)", responses=responses(401, 403, 409, 422, 429))
async def create_key(body: KeyCreate, request: Request, principal: Manage) -> KeyCreated:
    live = await api_keys.for_org(request.state.api.pool, principal.organization_id)
    if len(live) >= MAX_KEYS_PER_USER:
        raise ApiError(409, f"at most {MAX_KEYS_PER_USER} live keys; revoke one first",
                       "too_many_keys")
    return await _mint(request, principal, body.name, body.scopes)


@router.get("", response_model=list[KeyOut],
            summary="Your organisation's keys, masked, with when each was last used"
                    " (scope manage:api_keys)",
            responses=responses(401, 403, 429))
async def list_keys(request: Request, principal: Manage,
                    include_revoked: bool = False) -> list[KeyOut]:
    rows = await api_keys.for_org(request.state.api.pool, principal.organization_id,
                                  include_revoked=include_revoked)
    return [KeyOut.of(k) for k in rows]


@router.delete("/{key_id}", status_code=204, response_class=Response,
               summary="Revoke a key at once (scope manage:api_keys)",
               responses=responses(401, 403, 404, 429))
async def revoke_key(key_id: Id, request: Request, principal: Manage) -> Response:
    pool = request.state.api.pool
    key = await api_keys.get_for_org(pool, principal.organization_id, key_id)
    if key is None:
        raise ApiError(404, "API key not found")
    _within_own_scopes(principal, key.scopes, "revoke")
    await api_keys.revoke(pool, principal.organization_id, key_id)
    return Response(status_code=204)


@router.post("/{key_id}/rotate", status_code=201, response_model=KeyCreated,
             summary="Replace a key with a new secret, same name and scopes; the old one"
                     " stops working (scope manage:api_keys)",
             responses=responses(401, 403, 404, 409, 429))
async def rotate_key(key_id: Id, request: Request, principal: Manage) -> KeyCreated:
    pool = request.state.api.pool
    old = await api_keys.get_for_org(pool, principal.organization_id, key_id)
    if old is None:
        raise ApiError(404, "API key not found")
    if old.revoked_at is not None:
        raise ApiError(409, "this key is revoked; create a new one", "key_revoked")
    _within_own_scopes(principal, old.scopes, "rotate")
    created = await _mint(request, principal, old.name, old.scopes)
    await api_keys.revoke(pool, principal.organization_id, key_id)
    return created
