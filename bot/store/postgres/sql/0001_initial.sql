-- briefbot's PostgreSQL schema, version 1 (bot/store/postgres/migrations.py runs it once).

-- Trigram indexes serve substrings the word index cannot (a single CJK character).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The highest seq committed. Every transaction locks this row first (FOR UPDATE) and
-- holds it to COMMIT, so writers take turns and seqs become visible in commit order.
-- Values come from item_seq, which a rollback does not give back: a seq is never
-- handed out twice.
CREATE TABLE seq_counter (
    id integer PRIMARY KEY CHECK (id = 1),
    last bigint NOT NULL
);
INSERT INTO seq_counter (id, last) VALUES (1, 0);
CREATE SEQUENCE item_seq AS bigint MINVALUE 1;

-- Items: `doc` is the JSON document TinyDB stores (bot/store/records/codec.py), as text
-- (jsonb cannot hold U+0000, which feed text may). The other columns are derived
-- from it, for reading in order, filtering and searching.
CREATE TABLE items (
    seq bigint PRIMARY KEY,
    feed_id text NOT NULL,
    first_seen timestamptz,
    item_when timestamptz NOT NULL,   -- Item.when: published, else first seen
    story bigint NOT NULL,            -- Item.duplicate_of, else seq
    tags text[] NOT NULL,             -- the item's own tags, folded
    doc text NOT NULL,
    folded text NOT NULL,             -- title and summary folded (fold_text)
    tsv tsvector NOT NULL             -- the analyzer's tokens (bot/store/postgres/searchdoc.py)
);
CREATE INDEX items_feed_seq ON items (feed_id, seq);
CREATE INDEX items_first_seen ON items (first_seen);
CREATE INDEX items_when ON items (item_when);
CREATE INDEX items_story ON items (story);
CREATE INDEX items_tags ON items USING gin (tags);
CREATE INDEX items_tsv ON items USING gin (tsv);
CREATE INDEX items_folded_trgm ON items USING gin (folded gin_trgm_ops);

-- Dedup: one row per 16-byte digest of a dedup key, of a stored item or a tombstone.
-- The primary key is what makes a key known once (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE item_keys (
    digest bytea PRIMARY KEY,
    seq bigint NOT NULL
);
CREATE INDEX item_keys_seq ON item_keys (seq);

-- Pruned items: their keys stay in item_keys until the tombstone expires.
CREATE TABLE tombstones (
    seq bigint PRIMARY KEY,
    first_seen timestamptz,
    dedup_keys text NOT NULL          -- JSON list of the keys
);

-- Every record table (subscriptions, alert queue, ledgers, overrides, ...):
-- (table, key) -> JSON text, read and written by bot/store/records/.
CREATE TABLE records (
    tbl text NOT NULL,
    key text NOT NULL,
    value text NOT NULL,
    PRIMARY KEY (tbl, key)
);

-- The running service's heartbeat (outside transactions).
CREATE TABLE heartbeat (
    id integer PRIMARY KEY CHECK (id = 1),
    value text NOT NULL
);
