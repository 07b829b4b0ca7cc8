-- reason: billing with Stripe: an organisation's Stripe customer and subscription (plan, period, grace before a downgrade), and every Stripe event handled once by its id

CREATE TABLE billing_accounts (
    organization_id        bigint PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    stripe_customer_id     text UNIQUE,
    stripe_subscription_id text UNIQUE,
    subscription_plan      text CHECK (subscription_plan IN ('pro', 'enterprise')),
    subscription_status    text,      -- Stripe's: active, past_due, canceled, ...
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    -- Set by a failed payment or a deleted subscription; the plan falls back to free then.
    downgrade_at           timestamptz,
    -- The client whose balance receives each paid period's included minutes.
    grant_client_id        bigint REFERENCES clients (id) ON DELETE SET NULL,
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_accounts_downgrade_idx ON billing_accounts (downgrade_at)
    WHERE downgrade_at IS NOT NULL;

-- Stripe redelivers until it gets a 2xx and may send an event twice: the row is written in
-- the transaction that applies the event, so a replay finds it and changes nothing.
CREATE TABLE stripe_events (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    organization_id bigint REFERENCES organizations (id) ON DELETE SET NULL,
    outcome         text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now()
);
