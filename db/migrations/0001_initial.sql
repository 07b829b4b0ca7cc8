-- reason: everything one phone call touches: owners, their clients, contacts, calls with transcripts, usage, audit, live calls

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text,
    full_name     text NOT NULL DEFAULT '',
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clients (
    id               bigserial PRIMARY KEY,
    owner_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             text NOT NULL,
    phone_number     text NOT NULL UNIQUE CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    calendar_id      text,
    system_prompt    text NOT NULL DEFAULT '',
    initial_greeting text NOT NULL DEFAULT 'Hello, thanks for calling. How can I help you today?',
    llm_model        text NOT NULL DEFAULT 'builtin/receptionist',
    stt_model        text NOT NULL DEFAULT 'local/whisper-tiny.en',
    tts_provider     text NOT NULL DEFAULT 'local',
    tts_voice_id     text NOT NULL DEFAULT 'en_US-joe-medium',
    enabled_tools    text[] NOT NULL DEFAULT ARRAY['get_available_slots', 'book_appointment', 'end_call'],
    balance_seconds  integer NOT NULL DEFAULT 0 CHECK (balance_seconds >= 0),
    is_active        boolean NOT NULL DEFAULT true,
    timezone         text NOT NULL DEFAULT 'UTC',
    -- weekday (mon..sun) -> [open, close] in the client's time zone; a missing day is closed
    business_hours   jsonb NOT NULL DEFAULT '{"mon": ["09:00", "17:00"], "tue": ["09:00", "17:00"], "wed": ["09:00", "17:00"], "thu": ["09:00", "17:00"], "fri": ["09:00", "17:00"]}',
    slot_minutes     integer NOT NULL DEFAULT 30 CHECK (slot_minutes BETWEEN 5 AND 480),
    settings         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clients_owner_idx ON clients (owner_id);

CREATE TABLE contacts (
    id           bigserial PRIMARY KEY,
    client_id    bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    phone_number text NOT NULL,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, phone_number)
);

-- One row per phone call, created 'pending' by POST /voice, 'active' once its
-- media stream has presented the call token, 'ended' exactly once.
CREATE TABLE conversations (
    id                 bigserial PRIMARY KEY,
    call_sid           text NOT NULL UNIQUE,
    client_id          bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    contact_id         bigint REFERENCES contacts (id) ON DELETE SET NULL,
    caller_phone       text NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'active', 'ended')),
    token_nonce        text,
    stream_sid         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    ended_at           timestamptz,
    duration_seconds   double precision,
    billed_seconds     integer NOT NULL DEFAULT 0,
    end_reason         text,
    -- [{role, content, timestamp, interrupted}], appended as each turn finishes
    transcript         jsonb NOT NULL DEFAULT '[]',
    -- [{turn, latency_ms, ...}] per agent turn
    turn_metrics       jsonb NOT NULL DEFAULT '[]',
    providers          jsonb NOT NULL DEFAULT '{}',
    provider_fallbacks jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX conversations_client_idx ON conversations (client_id, created_at DESC);
CREATE INDEX conversations_open_idx ON conversations (status) WHERE status <> 'ended';

CREATE TABLE tool_executions (
    id                bigserial PRIMARY KEY,
    client_id         bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id   bigint REFERENCES conversations (id) ON DELETE SET NULL,
    tool_name         text NOT NULL,
    input             jsonb NOT NULL DEFAULT '{}',
    output            jsonb,
    status            text NOT NULL CHECK (status IN ('success', 'error')),
    error_message     text,
    execution_time_ms integer NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_executions_client_idx ON tool_executions (client_id, created_at DESC);

-- Every change of clients.balance_seconds leaves one row here.
CREATE TABLE usage_ledger (
    id              bigserial PRIMARY KEY,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id bigint REFERENCES conversations (id) ON DELETE SET NULL,
    seconds         integer NOT NULL,          -- debited (positive) or credited (negative)
    balance_after   integer NOT NULL,
    reason          text NOT NULL,             -- call_tick, call_final, topup, adjustment
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_ledger_conversation_idx ON usage_ledger (conversation_id);

-- Server processes and their heartbeats: how one process tells that another has died.
CREATE TABLE server_processes (
    id           uuid PRIMARY KEY,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE active_calls (
    call_sid        text PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    client_id       bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    owner_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    caller_phone    text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    process_id      uuid NOT NULL,
    heartbeat_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX active_calls_owner_idx ON active_calls (owner_id);
CREATE INDEX active_calls_process_idx ON active_calls (process_id);

-- Secrets generated on first start and shared by every process (call-token and JWT keys
-- when none is configured).
CREATE TABLE server_secrets (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
