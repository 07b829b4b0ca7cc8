-- reason: a business is an organisation with members (owner, admin, member), not one user; each existing user becomes the owner of an organisation holding their clients

CREATE TABLE organizations (
    id               bigserial PRIMARY KEY,
    name             text NOT NULL DEFAULT '',
    plan             text NOT NULL DEFAULT 'free',
    trial_granted_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    founder_id       bigint  -- only to backfill below; dropped at the end
);

-- one organisation per user: a member belongs to exactly one business
CREATE TABLE memberships (
    organization_id bigint NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, user_id)
);

INSERT INTO organizations (name, founder_id)
    SELECT CASE WHEN full_name <> '' THEN full_name ELSE email END, id FROM users ORDER BY id;
INSERT INTO memberships (organization_id, user_id, role)
    SELECT id, founder_id, 'owner' FROM organizations;

ALTER TABLE clients ADD COLUMN organization_id bigint REFERENCES organizations (id) ON DELETE CASCADE;
UPDATE clients c SET organization_id = m.organization_id FROM memberships m WHERE m.user_id = c.owner_id;
ALTER TABLE clients ALTER COLUMN organization_id SET NOT NULL;
CREATE INDEX clients_organization_idx ON clients (organization_id);
ALTER TABLE organizations DROP COLUMN founder_id;

-- Every way a user is created (registration, Google sign-in, the admin CLI) gives them an
-- organisation they own; every way a client is created files it under its owner's.
CREATE FUNCTION frontdesk_user_organization() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE org bigint;
BEGIN
    INSERT INTO organizations (name)
        VALUES (CASE WHEN NEW.full_name <> '' THEN NEW.full_name ELSE NEW.email END)
        RETURNING id INTO org;
    INSERT INTO memberships (organization_id, user_id, role) VALUES (org, NEW.id, 'owner');
    RETURN NEW;
END $$;
CREATE TRIGGER users_organization AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION frontdesk_user_organization();

CREATE FUNCTION frontdesk_client_organization() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization_id IS NULL THEN
        SELECT organization_id INTO NEW.organization_id FROM memberships WHERE user_id = NEW.owner_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER clients_organization BEFORE INSERT ON clients
    FOR EACH ROW EXECUTE FUNCTION frontdesk_client_organization();
