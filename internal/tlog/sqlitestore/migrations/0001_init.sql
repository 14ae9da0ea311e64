-- Transparency log, SQLite. Every table is append-only: triggers refuse UPDATE and DELETE, so
-- not even a bug elsewhere in the process can rewrite history.

-- One row per entry. log_index is the rowid; the append lock (BEGIN IMMEDIATE) keeps it dense.
CREATE TABLE tlog_entries (
	log_index       INTEGER PRIMARY KEY CHECK (log_index >= 0),
	leaf_hash       BLOB    NOT NULL UNIQUE CHECK (length(leaf_hash) = 32),
	body            BLOB    NOT NULL CHECK (length(body) > 0),
	integrated_time INTEGER NOT NULL -- Unix microseconds, UTC
);

-- The hash of every perfect subtree, written when it completes. Level 0 repeats the leaf
-- hashes so that any proof's nodes come from one table in one query.
CREATE TABLE tlog_nodes (
	level INTEGER NOT NULL CHECK (level BETWEEN 0 AND 63),
	idx   INTEGER NOT NULL CHECK (idx >= 0),
	hash  BLOB    NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed tree heads, at most one per (size, key).
CREATE TABLE tlog_tree_heads (
	tree_size INTEGER NOT NULL CHECK (tree_size >= 0),
	key_id    TEXT    NOT NULL,
	origin    TEXT    NOT NULL,
	root_hash BLOB    NOT NULL CHECK (length(root_hash) = 32),
	timestamp INTEGER NOT NULL, -- Unix microseconds, UTC
	signature BLOB    NOT NULL,
	PRIMARY KEY (key_id, tree_size)
) WITHOUT ROWID;

CREATE TRIGGER tlog_entries_no_update BEFORE UPDATE ON tlog_entries
BEGIN SELECT RAISE(ABORT, 'tlog_entries is append-only'); END;
CREATE TRIGGER tlog_entries_no_delete BEFORE DELETE ON tlog_entries
BEGIN SELECT RAISE(ABORT, 'tlog_entries is append-only'); END;
CREATE TRIGGER tlog_nodes_no_update BEFORE UPDATE ON tlog_nodes
BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
CREATE TRIGGER tlog_nodes_no_delete BEFORE DELETE ON tlog_nodes
BEGIN SELECT RAISE(ABORT, 'tlog_nodes is append-only'); END;
CREATE TRIGGER tlog_tree_heads_no_update BEFORE UPDATE ON tlog_tree_heads
BEGIN SELECT RAISE(ABORT, 'tlog_tree_heads is append-only'); END;
CREATE TRIGGER tlog_tree_heads_no_delete BEFORE DELETE ON tlog_tree_heads
BEGIN SELECT RAISE(ABORT, 'tlog_tree_heads is append-only'); END;
