-- reason: onboarding: a new organisation's first client starts with trial talk time (one ledger row, reason 'trial', once per organisation: organizations.trial_granted_at), sign-up records the plan asked for, and operators' top-ups can carry a note

-- The plan chosen at sign-up; organizations.plan stays 'free' until billing exists.
ALTER TABLE organizations ADD COLUMN requested_plan text
    CHECK (requested_plan IN ('free', 'pro', 'enterprise'));

-- Why an operator added time ("frontdesk admin top-up --note", the admin API).
ALTER TABLE usage_ledger ADD COLUMN note text;

-- usage_ledger.reason has no CHECK constraint (call_tick, call_final, call_refund, topup,
-- adjustment, trial are all written by the code), so 'trial' needs no change here.
