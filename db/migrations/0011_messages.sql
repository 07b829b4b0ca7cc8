-- reason: messages the agent takes for the business (who, which number to call back, what they wanted), kept with the call and the contact

CREATE TABLE messages (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE SET NULL,
    contact_id      bigint REFERENCES contacts (id) ON DELETE SET NULL,
    name            text,
    -- NULL when the caller withheld their number and gave none
    callback_phone  text CHECK (callback_phone ~ '^\+[1-9][0-9]{6,14}$'),
    body            text NOT NULL CHECK (body <> ''),
    -- requested: the caller asked to leave it; not_understood: the agent took it when it
    -- could not understand the call
    reason          text NOT NULL DEFAULT 'requested'
                    CHECK (reason IN ('requested', 'not_understood')),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id);
CREATE INDEX messages_contact_idx ON messages (contact_id);
CREATE INDEX messages_client_idx ON messages (client_id, created_at DESC);

-- The receptionist takes a message when it cannot book: on by default, and for every
-- client that books through the agent.
ALTER TABLE clients ALTER COLUMN enabled_tools
    SET DEFAULT ARRAY['get_available_slots', 'book_appointment', 'end_call', 'take_message'];
UPDATE clients SET enabled_tools = enabled_tools || ARRAY['take_message']
    WHERE enabled_tools @> ARRAY['book_appointment'] AND NOT enabled_tools @> ARRAY['take_message'];
