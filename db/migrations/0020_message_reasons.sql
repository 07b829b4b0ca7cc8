-- reason: a message the agent takes because the calendar of record could not be reached, so the office can book the time the caller wanted

ALTER TABLE messages DROP CONSTRAINT messages_reason_check;
ALTER TABLE messages ADD CONSTRAINT messages_reason_check
    CHECK (reason IN ('requested', 'not_understood', 'calendar_unreachable'));
