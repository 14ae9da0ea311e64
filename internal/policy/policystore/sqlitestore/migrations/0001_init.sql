-- Policy revisions, SQLite. seq is the revision number (rev-<seq>); Append takes the write
-- lock (BEGIN IMMEDIATE) before reading the newest seq, so numbers are dense and never reused.
CREATE TABLE policy_revisions (
	seq         INTEGER PRIMARY KEY CHECK (seq > 0),
	digest      TEXT    NOT NULL CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*'),
	format      TEXT    NOT NULL CHECK (format IN ('yaml', 'rego')),
	actor       TEXT    NOT NULL,
	description TEXT    NOT NULL,
	created_at  INTEGER NOT NULL, -- Unix milliseconds, UTC
	-- content is last: SQLite reads a row's columns in order, and a large source spills to
	-- overflow pages that reading the metadata columns before it never touches.
	content     TEXT    NOT NULL
);

-- The history is an audit trail: no process may rewrite or delete it.
CREATE TRIGGER policy_revisions_no_update BEFORE UPDATE ON policy_revisions
BEGIN SELECT RAISE(ABORT, 'policy_revisions is append-only'); END;
CREATE TRIGGER policy_revisions_no_delete BEFORE DELETE ON policy_revisions
BEGIN SELECT RAISE(ABORT, 'policy_revisions is append-only'); END;
