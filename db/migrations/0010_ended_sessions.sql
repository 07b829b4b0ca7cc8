-- reason: logging out ends the session's access tokens as well as its refresh tokens

-- One row per signed-in session (a refresh-token family) that was logged out or found
-- replayed. Access tokens carry their session's id and are refused once it is here; rows
-- older than any access token can be are pruned.
CREATE TABLE ended_sessions (
    family_id uuid PRIMARY KEY,
    ended_at  timestamptz NOT NULL DEFAULT now()
);
