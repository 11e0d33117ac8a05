-- Slack installations of a distributed app (OAuth) and the states of installs in flight
-- (bot/store/postgres/installations.py). Numbered 3: 2 is left to the replicas' tables.

-- One row per workspace: slack_sdk's installation document, sealed (Fernet) with
-- BRIEFBOT_SECRET_KEY. Nothing of it is readable without the key, tokens included.
CREATE TABLE slack_installations (
    enterprise_id text NOT NULL,       -- '' outside Enterprise Grid
    team_id text NOT NULL,
    installed_at timestamptz NOT NULL,
    sealed bytea NOT NULL,
    PRIMARY KEY (enterprise_id, team_id)
);

-- OAuth `state` values handed to browsers, each consumed once before it expires:
-- any replica can finish an install another one started.
CREATE TABLE slack_oauth_states (
    state text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

-- A value sealed with the key in use when the first installation was stored: a start with
-- another key is refused at once, rather than failing on the first scheduled post.
CREATE TABLE secret_key_check (
    id integer PRIMARY KEY CHECK (id = 1),
    sealed bytea NOT NULL
);
