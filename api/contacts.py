"""/api/clients/{id}/contacts: the people a client talks to."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, EmailStr, Field

from api.auth import Principal, require
from api.clients import load as load_client
from api.errors import ApiError, responses
from api.validation import CleanStr, Id, Input, Phone
from db import contacts
from db.contacts import Contact

router = APIRouter(prefix="/clients/{client_id}/contacts", tags=["contacts"])

Read = Annotated[Principal, Depends(require("read:contacts"))]
Write = Annotated[Principal, Depends(require("write:contacts"))]


class ContactUpdate(Input):
    phone_number: Phone | None = Field(None, examples=["+14155550123"])
    name: str | None = Field(None, max_length=200, examples=["Alex Caller"])
    email: EmailStr | None = Field(None, examples=["alex@example.com"])
    notes: str | None = Field(None, max_length=5000, examples=["Prefers mornings"])


class ContactCreate(ContactUpdate):
    phone_number: Phone = Field(examples=["+14155550123"])


class ContactOut(BaseModel):
    id: int = Field(examples=[7])
    client_id: int = Field(examples=[1])
    phone_number: str = Field(examples=["+14155550123"])
    name: str | None = Field(examples=["Alex Caller"])
    email: str | None = Field(examples=["alex@example.com"])
    notes: str = Field(examples=["Prefers mornings"])
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, c: Contact) -> ContactOut:
        return cls(**{name: getattr(c, name) for name in cls.model_fields})


class ContactList(BaseModel):
    items: list[ContactOut]
    total: int = Field(examples=[1])
    limit: int = Field(examples=[50])
    offset: int = Field(examples=[0])


def _taken() -> ApiError:
    return ApiError(409, "this client already has a contact with this phone number",
                    "contact_exists")


@router.get("", response_model=ContactList,
            summary="List a client's contacts (scope read:contacts)",
            responses=responses(401, 403, 404, 422, 429))
async def list_contacts(client_id: Id, request: Request, principal: Read,
                        limit: Annotated[int, Query(ge=1, le=100)] = 50,
                        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
                        search: Annotated[CleanStr | None, Query(max_length=100,
                                                            description="Part of a name,"
                                                            " number or e-mail")] = None,
                        ) -> ContactList:
    await load_client(request, principal, client_id)
    if search is not None:
        search = search.replace("\\", "").replace("%", "").replace("_", "")
    items, total = await contacts.list_for_client(request.state.api.pool, client_id,
                                                  limit=limit, offset=offset,
                                                  search=search or None)
    return ContactList(items=[ContactOut.of(c) for c in items], total=total, limit=limit,
                       offset=offset)


@router.post("", status_code=201, response_model=ContactOut,
             summary="Add a contact (scope write:contacts)",
             responses=responses(401, 403, 404, 409, 422, 429))
async def create_contact(client_id: Id, body: ContactCreate, request: Request,
                         principal: Write) -> ContactOut:
    await load_client(request, principal, client_id)
    try:
        contact = await contacts.insert(request.state.api.pool, client_id=client_id,
                                        **body.model_dump(exclude_none=True))
    except asyncpg.UniqueViolationError:
        raise _taken() from None
    return ContactOut.of(contact)


@router.get("/{contact_id}", response_model=ContactOut,
            summary="One contact (scope read:contacts)",
            responses=responses(401, 403, 404, 429))
async def get_contact(client_id: Id, contact_id: Id, request: Request,
                      principal: Read) -> ContactOut:
    await load_client(request, principal, client_id)
    contact = await contacts.get_for_client(request.state.api.pool, client_id, contact_id)
    if contact is None:
        raise ApiError(404, "contact not found")
    return ContactOut.of(contact)


@router.patch("/{contact_id}", response_model=ContactOut,
              summary="Change a contact (scope write:contacts)",
              responses=responses(401, 403, 404, 409, 422, 429))
async def update_contact(client_id: Id, contact_id: Id, body: ContactUpdate, request: Request,
                         principal: Write) -> ContactOut:
    await load_client(request, principal, client_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("phone_number", "") is None or changes.get("notes", "") is None:
        field = "phone_number" if changes.get("phone_number", "") is None else "notes"
        raise ApiError(422, [{"field": field, "message": "may not be null"}])
    try:
        contact = await contacts.update_for_client(request.state.api.pool, client_id,
                                                   contact_id, **changes)
    except asyncpg.UniqueViolationError:
        raise _taken() from None
    if contact is None:
        raise ApiError(404, "contact not found")
    return ContactOut.of(contact)


@router.delete("/{contact_id}", status_code=204, response_class=Response,
               summary="Delete a contact (scope write:contacts)",
               responses=responses(401, 403, 404, 429))
async def delete_contact(client_id: Id, contact_id: Id, request: Request,
                         principal: Write) -> Response:
    await load_client(request, principal, client_id)
    if not await contacts.delete_for_client(request.state.api.pool, client_id, contact_id):
        raise ApiError(404, "contact not found")
    return Response(status_code=204)
