-- Several replicas on one database (bot/store/postgres/coordination.py).

-- Leased claims on work: "poll:<feed>", "digest:<channel>", "alerts:<owner>".
-- A claim is taken with UPDATE ... WHERE key IN (SELECT ... FOR UPDATE SKIP LOCKED)
-- when its lease is free or expired; the finishing transaction checks it is still held.
CREATE TABLE claims (
    key text PRIMARY KEY,
    leased_by text,
    lease_until timestamptz
);

-- The replicas running, as each last said (every leader check).
CREATE TABLE replicas (
    replica text PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL,
    leader boolean NOT NULL DEFAULT false
);

-- Every time a replica became the leader (took the advisory lock), in order.
CREATE TABLE leadership (
    term bigserial PRIMARY KEY,
    replica text NOT NULL,
    backend_pid integer NOT NULL,
    since timestamptz NOT NULL DEFAULT now()
);

-- Slack deliveries (event ids, trigger ids) already taken by a replica; kept a day.
CREATE TABLE slack_deliveries (
    key text PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_deliveries_seen_at ON slack_deliveries (seen_at);
