-- reason: bookings reach the business's calendar of record (Google Calendar, Microsoft 365), staff manage appointments through the API, and every change of an appointment is recorded

-- Which calendar holds the booking besides this table, and its event there.
ALTER TABLE appointments
    ADD COLUMN calendar_provider text NOT NULL DEFAULT 'builtin'
        CHECK (calendar_provider IN ('builtin', 'google', 'microsoft')),
    ADD COLUMN external_event_id text,
    ADD COLUMN booked_by text NOT NULL DEFAULT 'agent' CHECK (booked_by IN ('agent', 'staff')),
    ADD COLUMN cancelled_by text CHECK (cancelled_by IN ('caller', 'staff')),
    ADD COLUMN cancel_reason text,
    ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- Listing by date range (cancelled rows too) and finding a caller's bookings by number.
CREATE INDEX appointments_client_starts_idx ON appointments (client_id, starts_at);
CREATE INDEX appointments_client_phone_idx ON appointments (client_id, phone);

-- One row per change of an appointment, written by the same statement as the change: who
-- (the agent in a call, or a member of staff through the API) did what, from when to when.
CREATE TABLE appointment_changes (
    id              bigserial PRIMARY KEY,
    appointment_id  bigint NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE SET NULL,
    user_id         bigint REFERENCES users (id) ON DELETE SET NULL,
    api_key_id      bigint REFERENCES api_keys (id) ON DELETE SET NULL,
    actor           text NOT NULL CHECK (actor IN ('agent', 'staff')),
    action          text NOT NULL CHECK (action IN ('booked', 'rescheduled', 'updated', 'cancelled')),
    old_starts_at   timestamptz,
    new_starts_at   timestamptz,
    reason          text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_changes_appointment_idx ON appointment_changes (appointment_id, id);
CREATE INDEX appointment_changes_conversation_idx ON appointment_changes (conversation_id)
    WHERE conversation_id IS NOT NULL;

-- Microsoft 365 beside Google; when the credential was last used; a refresh the provider
-- refused marks it as needing the owner to connect again.
ALTER TABLE calendar_credentials
    ADD COLUMN provider text NOT NULL DEFAULT 'google' CHECK (provider IN ('google', 'microsoft')),
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN reauthorization_required_at timestamptz,
    ADD COLUMN last_error text;

ALTER TABLE oauth_states DROP CONSTRAINT oauth_states_purpose_check;
ALTER TABLE oauth_states ADD CONSTRAINT oauth_states_purpose_check
    CHECK (purpose IN ('login', 'calendar', 'microsoft_calendar'));
