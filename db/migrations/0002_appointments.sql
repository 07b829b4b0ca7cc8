-- reason: appointments the agent books; the database itself refuses a second booking of one slot

CREATE TABLE appointments (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE SET NULL,
    contact_id      bigint REFERENCES contacts (id) ON DELETE SET NULL,
    name            text NOT NULL,
    phone           text NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL CHECK (ends_at > starts_at),
    status          text NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'cancelled')),
    notes           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz
);

-- Slots are aligned to the client's grid, so "one booked row per start" is "no double booking".
-- A partial unique index rather than an exclusion constraint: btree_gist is missing from the
-- embedded PostgreSQL (pgserver). Cancelled rows drop out, which frees the slot again.
-- It also serves the availability query (client_id, starts_at range).
CREATE UNIQUE INDEX appointments_one_booking_per_slot
    ON appointments (client_id, starts_at) WHERE status = 'booked';
CREATE INDEX appointments_conversation_idx ON appointments (conversation_id);
