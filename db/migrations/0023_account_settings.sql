-- reason: account settings: each user's preferences (a small JSON object the console keeps), and the business's own phone number and time zone on its organisation

ALTER TABLE users ADD COLUMN preferences jsonb NOT NULL DEFAULT '{}'::jsonb
    CHECK (jsonb_typeof(preferences) = 'object');
ALTER TABLE organizations ADD COLUMN phone_number text;
ALTER TABLE organizations ADD COLUMN timezone text;
