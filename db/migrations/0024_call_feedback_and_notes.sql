-- reason: the calls API: staff rate a call (1-5, with a comment) and other systems append notes to its transcript, kept beside the call's own turns and deleted with it

CREATE TABLE call_feedback (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         bigint REFERENCES users(id) ON DELETE SET NULL,
    rating          smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment         text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_feedback_conversation ON call_feedback (conversation_id);

CREATE TABLE call_notes (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    user_id         bigint REFERENCES users(id) ON DELETE SET NULL,
    source          text NOT NULL,
    text            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX call_notes_conversation ON call_notes (conversation_id);
