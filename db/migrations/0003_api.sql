-- reason: the management API: sessions, password resets, Google sign-in, API keys, rate limits, calendar credentials

ALTER TABLE users ADD COLUMN google_sub text UNIQUE;
ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
-- Access tokens issued before this instant are refused (set on password reset).
ALTER TABLE users ADD COLUMN tokens_valid_after timestamptz;

ALTER TABLE contacts ADD COLUMN email text;
ALTER TABLE contacts ADD COLUMN notes text NOT NULL DEFAULT '';

-- Refresh tokens, stored as SHA-256 hashes. Each use rotates the token within its family;
-- presenting a rotated token again revokes the whole family (it was stolen or replayed).
CREATE TABLE refresh_tokens (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

CREATE TABLE password_resets (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_resets_user_idx ON password_resets (user_id);

-- OAuth round trips (Google sign-in, calendar consent): single use, short-lived, bound to
-- the user and client that started them.
CREATE TABLE oauth_states (
    state_hash    text PRIMARY KEY,
    purpose       text NOT NULL CHECK (purpose IN ('login', 'calendar')),
    user_id       bigint REFERENCES users (id) ON DELETE CASCADE,
    client_id     bigint REFERENCES clients (id) ON DELETE CASCADE,
    code_verifier text NOT NULL,
    expires_at    timestamptz NOT NULL,
    used_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- API keys: the secret is shown once; only its SHA-256 and a visible prefix are kept.
CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text NOT NULL,
    prefix       text NOT NULL UNIQUE,
    key_hash     text NOT NULL,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- Request counters shared by every process: one row per bucket (user, key or address),
-- a window that starts at the bucket's first request.
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

-- One calendar credential per client; the secret part is encrypted by the application.
CREATE TABLE calendar_credentials (
    client_id     bigint PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('oauth', 'service_account')),
    account_email text,
    scopes        text[] NOT NULL DEFAULT '{}',
    ciphertext    bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
