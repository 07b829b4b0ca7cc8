-- reason: outbound calls: the API places a call through Twilio; the request (who, what greeting, what to do on an answering machine) waits here for Twilio to ask what the answered call should do, and the conversation records its direction

ALTER TABLE conversations ADD COLUMN direction text NOT NULL DEFAULT 'inbound'
    CHECK (direction IN ('inbound', 'outbound'));

CREATE TABLE outbound_calls (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
    call_sid     text UNIQUE,
    to_number    text NOT NULL,
    greeting     text,
    on_machine   text NOT NULL CHECK (on_machine IN ('voicemail', 'hang_up')),
    voicemail    text,
    requested_by bigint REFERENCES users(id) ON DELETE SET NULL,
    answered_by  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
