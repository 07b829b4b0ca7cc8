"""The FrontDesk API's documented paths that name a contact or a call without its client.

Each finds the owner's client the resource belongs to and hands over to the handler of our
own nested path, so the rules, the scopes and the errors are the same. Another owner's id
is a 404, as everywhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import Field

from api import contacts as contact_routes
from api import conversations as conversation_routes
from api.contacts import ContactCreate, ContactOut, ContactUpdate
from api.conversations import ConversationOut
from api.errors import ApiError, responses
from api.validation import MAX_ID, Id

router = APIRouter()

_CLIENT_OF = {
    "contacts": "SELECT r.client_id FROM contacts r JOIN clients c ON c.id = r.client_id"
                " WHERE r.id = $1 AND c.organization_id = $2",
    "conversations": "SELECT r.client_id FROM conversations r JOIN clients c"
                     " ON c.id = r.client_id WHERE r.id = $1 AND c.organization_id = $2",
}


async def _client_of(request: Request, kind: str, resource_id: int,
                     organization_id: int) -> int:
    client_id = await request.state.api.pool.fetchval(_CLIENT_OF[kind], resource_id,
                                                      organization_id)
    if client_id is None:
        raise ApiError(404, f"{kind[:-1]} not found")
    return client_id


class ContactCreateFor(ContactCreate):
    client_id: int = Field(ge=1, le=MAX_ID, description="The client the contact belongs to",
                           examples=[1])


@router.post("/contacts", status_code=201, response_model=ContactOut, tags=["contacts"],
             summary="Add a contact to one of your clients (scope write:contacts)",
             responses=responses(401, 403, 404, 409, 422, 429))
async def create_contact(body: ContactCreateFor, request: Request,
                         principal: contact_routes.Write) -> ContactOut:
    fields = body.model_dump(exclude_unset=True)
    client_id = fields.pop("client_id")
    return await contact_routes.create_contact(client_id, ContactCreate(**fields), request,
                                               principal)


@router.put("/contacts/{contact_id}", response_model=ContactOut, tags=["contacts"],
            summary="Change a contact (scope write:contacts)",
            responses=responses(401, 403, 404, 409, 422, 429))
async def update_contact(contact_id: Id, body: ContactUpdate, request: Request,
                         principal: contact_routes.Write) -> ContactOut:
    client_id = await _client_of(request, "contacts", contact_id, principal.organization_id)
    return await contact_routes.update_contact(client_id, contact_id, body, request, principal)


@router.delete("/contacts/{contact_id}", status_code=204, response_class=Response,
               tags=["contacts"], summary="Delete a contact (scope write:contacts)",
               responses=responses(401, 403, 404, 429))
async def delete_contact(contact_id: Id, request: Request,
                         principal: contact_routes.Write) -> Response:
    client_id = await _client_of(request, "contacts", contact_id, principal.organization_id)
    return await contact_routes.delete_contact(client_id, contact_id, request, principal)


@router.get("/conversations/{conversation_id}", response_model=ConversationOut,
            tags=["conversations"],
            summary="One call with its transcript (scope read:conversations)",
            responses=responses(401, 403, 404, 429))
async def get_conversation(conversation_id: Id, request: Request,
                           principal: conversation_routes.Read) -> ConversationOut:
    client_id = await _client_of(request, "conversations", conversation_id,
                                 principal.organization_id)
    return await conversation_routes.get_conversation(client_id, conversation_id, request,
                                                      principal)


@router.delete("/conversations/{conversation_id}", status_code=204, response_class=Response,
               tags=["conversations"],
               summary="Delete a finished call and its transcript (scope write:conversations)",
               responses=responses(401, 403, 404, 409, 429))
async def delete_conversation(conversation_id: Id, request: Request,
                              principal: conversation_routes.Write) -> Response:
    client_id = await _client_of(request, "conversations", conversation_id,
                                 principal.organization_id)
    return await conversation_routes.delete_conversation(client_id, conversation_id, request,
                                                         principal)
