-- Each replica's own heartbeat (the `heartbeat` table of version 1 held one for all,
-- so `briefbot health` saw only whichever replica beat last; it is no longer written).
CREATE TABLE replica_heartbeats (
    replica text PRIMARY KEY,          -- the coordination's name ("host:pid:..."), '' alone
    at timestamptz NOT NULL,
    value text NOT NULL                -- the rest of the heartbeat, JSON
);
CREATE INDEX replica_heartbeats_at ON replica_heartbeats (at);
