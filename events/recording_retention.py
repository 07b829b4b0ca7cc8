"""Hourly: recordings past their client's ``recording_retention_days`` are deleted."""

from __future__ import annotations

import logging

from db import conversations
from db.pool import Executor
from voice.recorder import remove_recording

log = logging.getLogger("frontdesk.events")

RECORDING_RETENTION = "recordings.retention"


async def expire_recordings(db: Executor) -> int:
    """Delete the files first, then forget them: a failed delete is retried next hour."""
    expired = await conversations.expired_recordings(db)
    for conversation_id, path in expired:
        await remove_recording(path)
        await conversations.forget_recording(db, conversation_id)
    if expired:
        log.info("deleted %d recording(s) past their retention", len(expired))
    return len(expired)
