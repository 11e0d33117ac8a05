-- Large documents every replica reads, kept whole (bot/store/postgres/snapshots.py):
-- the screening list's snapshot ("screening-list"), about 5 MB of JSON.
CREATE TABLE snapshots (
    name text PRIMARY KEY,
    version bigint NOT NULL,           -- rises with every write: readers re-read on a change
    saved_at timestamptz NOT NULL DEFAULT now(),
    body bytea NOT NULL
);
