"""/api/team: the organisation's members, their roles, invitations, and the permissions matrix.

Accepting an invitation (a public route: the token is the credential) makes a new account,
or links an existing one: the request must then carry that account's sign-in (Bearer) or its
password. A user belongs to one organisation, so accepting moves them out of their own; that
is refused (409) while it still has clients or other members.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import asyncpg
from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, EmailStr, Field

from api import mailer, passwords, permissions, rate_limit
from api.auth import Principal, authenticate, bearer_scheme, require
from api.auth_routes import SessionOut, new_session
from api.crypto import new_token, token_hash
from api.errors import ApiError, responses
from api.state import ApiState
from api.validation import Id, Input
from db import api_keys, invitations, organizations, users
from db.invitations import Invitation

log = logging.getLogger("frontdesk.api")
router = APIRouter(prefix="/team", tags=["team"])

Read = Annotated[Principal, Depends(require("read:team"))]
Manage = Annotated[Principal, Depends(require("manage:team"))]
Role = Literal["owner", "admin", "member"]  # organizations.ROLES
MIN_PASSWORD = 8


class MemberOut(BaseModel):
    id: int = Field(examples=[2], description="The user's id")
    email: str = Field(examples=["colleague@example.com"])
    name: str = Field(examples=["Sam Colleague"])
    role: Role = Field(examples=["member"])
    joined: datetime


class InviteIn(Input):
    email: EmailStr = Field(examples=["colleague@example.com"])
    role: Role = Field("member", examples=["member"])


class RoleIn(Input):
    role: Role = Field(examples=["admin"])


class InvitationOut(BaseModel):
    id: int = Field(examples=[1])
    email: str = Field(examples=["colleague@example.com"])
    role: Role = Field(examples=["member"])
    status: Literal["pending", "expired", "accepted", "revoked"] = Field(examples=["pending"])
    invited_by: int | None = Field(examples=[1])
    created_at: datetime
    sent_at: datetime
    expires_at: datetime
    accepted_at: datetime | None = None

    @classmethod
    def of(cls, i: Invitation) -> InvitationOut:
        return cls(id=i.id, email=i.email, role=i.role, status=i.status,
                   invited_by=i.invited_by, created_at=i.created_at, sent_at=i.sent_at,
                   expires_at=i.expires_at, accepted_at=i.accepted_at)


class InvitationSent(InvitationOut):
    email_sent: bool = Field(examples=[True],
                             description="Whether the e-mail with the link went out")


class AcceptIn(Input):
    password: str | None = Field(
        None, min_length=1, max_length=128, examples=["correct horse battery"],
        description="A new account's password (at least 8 characters); for an existing"
                    " account, its password, unless the request is signed in as it")
    full_name: str = Field("", max_length=200, examples=["Sam Colleague"])


class ScopeOut(BaseModel):
    scope: str = Field(examples=["read:calls"])
    description: str
    roles: list[Role]


class RoleOut(BaseModel):
    role: Role
    description: str
    scopes: list[str]


class MatrixOut(BaseModel):
    roles: list[RoleOut]
    scopes: list[ScopeOut]


# --- members ----------------------------------------------------------------------------------

@router.get("/members", response_model=list[MemberOut],
            summary="The organisation's members and their roles (scope read:team)",
            responses=responses(401, 403, 429))
async def list_members(request: Request, principal: Read) -> list[MemberOut]:
    rows = await organizations.members(request.state.api.pool, principal.organization_id)
    return [MemberOut(id=m.user_id, email=m.email, name=m.full_name, role=m.role,
                      joined=m.joined_at) for m in rows]


def _last_owner(roles: dict[int, str], user_id: int) -> bool:
    return roles[user_id] == "owner" and list(roles.values()).count("owner") == 1


@router.delete("/members/{user_id}", status_code=204, response_class=Response,
               summary="Remove a member (scope manage:team); they keep their account, in an"
                       " organisation of their own, and their API keys here stop working."
                       " The last owner cannot be removed",
               responses=responses(401, 403, 404, 409, 429))
async def remove_member(user_id: Id, request: Request, principal: Manage) -> Response:
    org = principal.organization_id
    async with request.state.api.pool.acquire() as conn, conn.transaction():
        roles = await organizations.lock_roles(conn, org)
        if user_id not in roles:
            raise ApiError(404, "member not found")
        if _last_owner(roles, user_id):
            raise ApiError(409, "the last owner cannot leave: make another member an owner"
                                " first", "last_owner")
        await api_keys.revoke_created_by(conn, org, user_id)
        await organizations.leave(conn, user_id)
    return Response(status_code=204)


@router.put("/members/{user_id}/role", response_model=MemberOut,
            summary="Change a member's role (scope manage:team); the last owner cannot be"
                    " demoted", responses=responses(401, 403, 404, 409, 422, 429))
async def set_role(user_id: Id, body: RoleIn, request: Request, principal: Manage
                   ) -> MemberOut:
    org = principal.organization_id
    async with request.state.api.pool.acquire() as conn, conn.transaction():
        roles = await organizations.lock_roles(conn, org)
        if user_id not in roles:
            raise ApiError(404, "member not found")
        if body.role != "owner" and _last_owner(roles, user_id):
            raise ApiError(409, "the last owner cannot be demoted: make another member an"
                                " owner first", "last_owner")
        await organizations.set_role(conn, org, user_id, body.role)
        member = next(m for m in await organizations.members(conn, org) if m.user_id == user_id)
    return MemberOut(id=member.user_id, email=member.email, name=member.full_name,
                     role=member.role, joined=member.joined_at)


# --- invitations ------------------------------------------------------------------------------

def _ttl(state: ApiState) -> int:
    return state.settings.invitation_ttl_days * 86_400


async def _mail_invitation(state: ApiState, principal: Principal, invitation: Invitation,
                           token: str) -> bool:
    s = state.settings
    org = await organizations.get(state.pool, invitation.organization_id)
    page = s.invitation_url or f"{s.public_url}/accept-invitation"
    link = f"{page}?{urlencode({'token': token})}"
    body = (f"{principal.email} invites you to join {org.name if org else 'their team'} on"
            f" frontdesk as {invitation.role}.\n\nAccept within"
            f" {s.invitation_ttl_days} days:\n{link}\n\n"
            f"Or send this token to POST /api/team/invitations/{{token}}/accept:\n{token}\n\n"
            "If you did not expect this, ignore this message.")
    try:
        await mailer.send(s.secret("smtp_url"), s.mail_from, invitation.email,
                          "You are invited to frontdesk", body)
    except mailer.MailNotConfigured:
        log.warning("invitation %d not sent: SMTP_URL is not set", invitation.id)
        return False
    except OSError as exc:
        log.warning("invitation %d e-mail failed: %s", invitation.id, type(exc).__name__)
        return False
    return True


@router.post("/invite", status_code=201, response_model=InvitationSent,
             summary="Invite someone by e-mail with a role (scope manage:team); the link is"
                     " single-use and expires. A new invitation to the same address replaces"
                     " the open one", responses=responses(401, 403, 409, 422, 429))
async def invite(body: InviteIn, request: Request, principal: Manage) -> InvitationSent:
    state: ApiState = request.state.api
    org = principal.organization_id
    token = new_token()
    try:
        async with state.pool.acquire() as conn, conn.transaction():
            if any(m.email == body.email.lower()
                   for m in await organizations.members(conn, org)):
                raise ApiError(409, "this address is already a member", "already_member")
            invitation = await invitations.insert(
                conn, organization_id=org, email=body.email, role=body.role,
                token_hash=token_hash(token), invited_by=principal.user_id,
                ttl_seconds=_ttl(state))
    except asyncpg.UniqueViolationError:  # the same address invited at the same moment
        raise ApiError(409, "an invitation to this address is being sent; try again",
                       "invitation_pending") from None
    sent = await _mail_invitation(state, principal, invitation, token)
    return InvitationSent(**InvitationOut.of(invitation).model_dump(), email_sent=sent)


@router.get("/invitations", response_model=list[InvitationOut],
            summary="Invitations, newest first, with their status (scope read:team)",
            responses=responses(401, 403, 429))
async def list_invitations(request: Request, principal: Read) -> list[InvitationOut]:
    rows = await invitations.list_for_org(request.state.api.pool, principal.organization_id)
    return [InvitationOut.of(i) for i in rows]


@router.post("/invitations/{invitation_id}/resend", response_model=InvitationSent,
             summary="Send an open invitation again with a new link and a new expiry; the old"
                     " link stops working (scope manage:team)",
             responses=responses(401, 403, 404, 409, 429))
async def resend(invitation_id: Id, request: Request, principal: Manage) -> InvitationSent:
    state: ApiState = request.state.api
    org = principal.organization_id
    token = new_token()
    invitation = await invitations.renew(state.pool, org, invitation_id,
                                         token_hash=token_hash(token), ttl_seconds=_ttl(state))
    if invitation is None:
        found = await invitations.get_for_org(state.pool, org, invitation_id)
        if found is None:
            raise ApiError(404, "invitation not found")
        raise ApiError(409, f"this invitation is {found.status}", f"invitation_{found.status}")
    sent = await _mail_invitation(state, principal, invitation, token)
    return InvitationSent(**InvitationOut.of(invitation).model_dump(), email_sent=sent)


@router.delete("/invitations/{invitation_id}", status_code=204, response_class=Response,
               summary="Revoke an invitation: its link stops working (scope manage:team)",
               responses=responses(401, 403, 404, 409, 429))
async def revoke(invitation_id: Id, request: Request, principal: Manage) -> Response:
    pool = request.state.api.pool
    if await invitations.revoke(pool, principal.organization_id, invitation_id) is None:
        if await invitations.get_for_org(pool, principal.organization_id, invitation_id):
            raise ApiError(409, "this invitation was accepted", "invitation_accepted")
        raise ApiError(404, "invitation not found")
    return Response(status_code=204)


def _refused(invitation: Invitation | None) -> ApiError | None:
    if invitation is None:
        return ApiError(404, "invitation not found")
    if invitation.status != "pending":
        return ApiError(410, f"this invitation is {invitation.status}",
                        f"invitation_{invitation.status}")
    return None


async def _signed_in(request: Request, bearer: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]) -> Principal | None:
    """The signed-in user, when the request carries a sign-in; else None."""
    if bearer is None or not bearer.credentials:
        return None
    principal = await authenticate(request, bearer, None)
    if principal.is_key:
        raise ApiError(403, "accept an invitation signed in, not with an API key",
                       "session_required")
    return principal


@router.post("/invitations/{token}/accept", response_model=SessionOut,
             dependencies=[Depends(rate_limit.by_address)],
             summary="Accept an invitation: creates the account (password, full_name) or links"
                     " the existing one (signed in as it, or its password), and signs in",
             responses=responses(401, 403, 404, 409, 410, 422, 429))
async def accept(token: str, body: AcceptIn, request: Request,
                 signed_in: Annotated[Principal | None, Depends(_signed_in)]) -> SessionOut:
    state: ApiState = request.state.api
    async with state.pool.acquire() as conn, conn.transaction():
        invitation = await invitations.by_token(conn, token_hash(token))
        if (refused := _refused(invitation)) is not None:
            raise refused
        assert invitation is not None
        existing = await users.credentials_by_email(conn, invitation.email)
        if existing is not None:
            user_id = existing.id
            proven = (signed_in is not None and signed_in.user_id == existing.id) or (
                body.password is not None
                and await passwords.verify(existing.password_hash, body.password))
            if not proven or not existing.is_active:
                raise ApiError(401, f"{invitation.email} has an account: sign in as it or give"
                                    " its password", "invalid_credentials")
            member = await organizations.membership(conn, user_id)
            if member is not None and member.organization_id == invitation.organization_id:
                raise ApiError(409, "you are already a member", "already_member")
            if member is not None and await organizations.holds_anything(
                    conn, member.organization_id, besides_user=user_id):
                raise ApiError(409, "your own organisation still has clients or members:"
                                    " a user belongs to one organisation", "organization_not_empty")
        else:
            if signed_in is not None:
                raise ApiError(403, "this invitation is for another address",
                               "invitation_for_another_address")
            if body.password is None or len(body.password) < MIN_PASSWORD:
                raise ApiError(422, [{"field": "password", "message": "a new account needs a"
                                      f" password of at least {MIN_PASSWORD} characters"}],
                               "validation_error")
            password_hash = await passwords.hash_password(body.password)
            try:
                async with conn.transaction():
                    user_id = (await users.insert(conn, email=invitation.email,
                                                  password_hash=password_hash,
                                                  full_name=body.full_name)).id
            except asyncpg.UniqueViolationError:
                raise ApiError(409, "an account with this e-mail already exists",
                               "email_taken") from None
        await organizations.move(conn, user_id, invitation.organization_id, invitation.role)
        if not await invitations.mark_accepted(conn, invitation.id, user_id):
            raise ApiError(410, "this invitation is no longer open", "invitation_expired")
    return await new_session(state, user_id)


# --- the matrix -------------------------------------------------------------------------------

@router.get("/permissions", response_model=MatrixOut,
            summary="What each role may do: roles with their scopes, scopes with their roles"
                    " (scope read:team)", responses=responses(401, 403, 429))
async def permission_matrix(principal: Read) -> MatrixOut:
    return MatrixOut(**permissions.matrix())
