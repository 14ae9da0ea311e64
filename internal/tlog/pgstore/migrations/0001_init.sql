-- Transparency log, PostgreSQL. Every table is append-only: triggers refuse UPDATE, DELETE and
-- TRUNCATE, so not even a bug elsewhere can rewrite history. Dropping the schema still works.

-- One row per entry. The append lock (LOCK TABLE tlog_entries IN EXCLUSIVE MODE) keeps
-- log_index dense; no sequence is used, because a sequence leaves gaps on rollback.
CREATE TABLE tlog_entries (
	log_index       BIGINT      PRIMARY KEY CHECK (log_index >= 0),
	leaf_hash       BYTEA       NOT NULL UNIQUE CHECK (octet_length(leaf_hash) = 32),
	body            BYTEA       NOT NULL CHECK (octet_length(body) > 0),
	integrated_time TIMESTAMPTZ NOT NULL
);

-- The hash of every perfect subtree, written when it completes. Level 0 repeats the leaf
-- hashes so that any proof's nodes come from one table in one query.
CREATE TABLE tlog_nodes (
	level SMALLINT NOT NULL CHECK (level BETWEEN 0 AND 63),
	idx   BIGINT   NOT NULL CHECK (idx >= 0),
	hash  BYTEA    NOT NULL CHECK (octet_length(hash) = 32),
	PRIMARY KEY (level, idx)
);

-- Signed tree heads, at most one per (key, size).
CREATE TABLE tlog_tree_heads (
	key_id    TEXT        NOT NULL,
	tree_size BIGINT      NOT NULL CHECK (tree_size >= 0),
	origin    TEXT        NOT NULL,
	root_hash BYTEA       NOT NULL CHECK (octet_length(root_hash) = 32),
	timestamp TIMESTAMPTZ NOT NULL,
	signature BYTEA       NOT NULL,
	PRIMARY KEY (key_id, tree_size)
);

CREATE FUNCTION tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER tlog_entries_append_only BEFORE UPDATE OR DELETE ON tlog_entries
	FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_entries_no_truncate BEFORE TRUNCATE ON tlog_entries
	FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_nodes_append_only BEFORE UPDATE OR DELETE ON tlog_nodes
	FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_nodes_no_truncate BEFORE TRUNCATE ON tlog_nodes
	FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_tree_heads_append_only BEFORE UPDATE OR DELETE ON tlog_tree_heads
	FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_tree_heads_no_truncate BEFORE TRUNCATE ON tlog_tree_heads
	FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
