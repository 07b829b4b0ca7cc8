-- reason: the agent's create_payment: a Stripe Checkout link for a deposit or a fee, asked for on a call, texted to the caller when the line can text, marked paid by Stripe's webhook

CREATE TABLE payments (
    id                bigserial PRIMARY KEY,
    client_id         bigint NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    conversation_id   bigint REFERENCES conversations (id) ON DELETE SET NULL,
    amount_cents      integer NOT NULL CHECK (amount_cents > 0),
    currency          text NOT NULL,
    description       text NOT NULL,
    caller_phone      text NOT NULL,
    stripe_session_id text NOT NULL UNIQUE,
    url               text NOT NULL,
    texted            boolean NOT NULL DEFAULT false,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'paid')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    paid_at           timestamptz
);
CREATE INDEX payments_conversation_idx ON payments (conversation_id);
CREATE INDEX payments_client_idx ON payments (client_id, created_at);
