"""Call recordings (both sides, stereo WAV) through links that expire.

``GET /api/calls/{id}/recording`` hands out a link; the link itself is the credential (an
audio player or a browser's <audio> element cannot send a bearer token), signed with a key
derived from the server's JWT secret and good for RECORDING_LINK_SECONDS. The file is read
from FRONTDESK_HOME, where the process that carried the call wrote it (several hosts share
that folder, e.g. a network volume).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.errors import ApiError, responses
from api.state import ApiState
from db import conversations
from db.conversations import Conversation

router = APIRouter(prefix="/recordings", tags=["calls"])

RECORDING_LINK_SECONDS = 600
_ALGORITHM = "HS256"


class RecordingLink(BaseModel):
    url: str = Field(examples=["https://frontdesk.example/api/recordings/eyJhbGciOi..."])
    expires_at: datetime
    content_type: str = Field("audio/wav", examples=["audio/wav"])
    channels: dict[str, str] = Field(default={"left": "caller", "right": "agent"})


def _key(state: ApiState) -> str:
    # Its own key: a recording link is never an access token, nor the other way round.
    return hashlib.sha256(f"recording-link:{state.jwt_secret}".encode()).hexdigest()


def link(state: ApiState, conv: Conversation) -> RecordingLink | None:
    """A fresh link to the call's recording, or None when the call has none (yet)."""
    if conv.recording_path is None or conv.status != "ended":
        return None
    expires = int(time.time()) + RECORDING_LINK_SECONDS
    token = jwt.encode({"rec": conv.id, "exp": expires}, _key(state), algorithm=_ALGORITHM)
    return RecordingLink(url=f"{state.settings.public_url.rstrip('/')}/api/recordings/{token}",
                         expires_at=datetime.fromtimestamp(expires, UTC))


@router.get("/{token}", response_class=FileResponse,
            summary="A call's recording, through a link from /api/calls/{id}/recording",
            responses={200: {"content": {"audio/wav": {"schema": {"type": "string",
                                                                  "format": "binary"}}},
                             "description": "Stereo WAV: caller left, agent right"},
                       **responses(401, 404)})
async def download(token: str, request: Request) -> FileResponse:
    state: ApiState = request.state.api
    try:
        claims = jwt.decode(token, _key(state), algorithms=[_ALGORITHM],
                            options={"require": ["rec", "exp"]})
        conversation_id = int(claims["rec"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise ApiError(401, "the recording link is invalid or has expired",
                       "invalid_link") from None
    conv = await conversations.get(state.pool, conversation_id)
    if conv is None or conv.recording_path is None \
            or not await asyncio.to_thread(Path(conv.recording_path).is_file):
        raise ApiError(404, "recording not found")
    return FileResponse(conv.recording_path, media_type="audio/wav",
                        filename=f"{conv.call_sid}.wav")
