-- reason: the organisation, not one user, owns webhook endpoints, Twilio credentials, API keys and events; members join it by invitation

-- Each table keeps its user column as "who created it"; nothing scopes by it any more.
ALTER TABLE webhook_endpoints
    ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE webhook_endpoints w SET organization_id = m.organization_id
    FROM memberships m WHERE m.user_id = w.owner_id;
ALTER TABLE webhook_endpoints ALTER COLUMN organization_id SET NOT NULL;
CREATE INDEX webhook_endpoints_organization_idx ON webhook_endpoints (organization_id);

ALTER TABLE api_keys
    ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE api_keys k SET organization_id = m.organization_id
    FROM memberships m WHERE m.user_id = k.user_id;
ALTER TABLE api_keys ALTER COLUMN organization_id SET NOT NULL;
CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);

-- One Twilio account per organisation (it was one per user, and a user had one organisation).
ALTER TABLE twilio_accounts
    ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE twilio_accounts t SET organization_id = m.organization_id
    FROM memberships m WHERE m.user_id = t.owner_id;
ALTER TABLE twilio_accounts ALTER COLUMN organization_id SET NOT NULL;
ALTER TABLE twilio_accounts DROP CONSTRAINT twilio_accounts_pkey;
ALTER TABLE twilio_accounts ALTER COLUMN owner_id DROP NOT NULL;
ALTER TABLE twilio_accounts ADD PRIMARY KEY (organization_id);

-- Events fan out to the organisation's webhooks and its owners' mailboxes.
ALTER TABLE events
    ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE events e SET organization_id = coalesce(
    (SELECT c.organization_id FROM clients c WHERE c.id = e.client_id),
    (SELECT m.organization_id FROM memberships m WHERE m.user_id = e.owner_id));
CREATE INDEX events_organization_idx ON events (organization_id, id DESC);

-- Invitations: single use, expiring, the token stored hashed; resending replaces the token.
CREATE TABLE invitations (
    id              bigserial PRIMARY KEY,
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash      text NOT NULL UNIQUE,
    invited_by      bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    revoked_at      timestamptz
);
-- at most one open invitation per address and organisation
CREATE UNIQUE INDEX invitations_open_idx ON invitations (organization_id, lower(email))
    WHERE accepted_at IS NULL AND revoked_at IS NULL;
