-- Authority, SQLite. Times are Unix microseconds, UTC. Text keys use SQLite's default BINARY
-- collation, so ORDER BY is the byte order the interface's "sorted" means.

-- Lists (scopes, grants, roles) are JSON arrays of strings, sorted by the store.
CREATE TABLE authority_clients (
	id                TEXT    PRIMARY KEY,
	secret_hash       TEXT    NOT NULL,
	display_name      TEXT    NOT NULL,
	scopes            TEXT    NOT NULL CHECK (json_type(scopes) = 'array'),
	grants            TEXT    NOT NULL CHECK (json_type(grants) = 'array'),
	tenant            TEXT    NOT NULL,
	max_scans_per_day INTEGER NOT NULL,
	disabled          INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created_at        INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE authority_users (
	username      TEXT    PRIMARY KEY,
	password_hash TEXT    NOT NULL,
	roles         TEXT    NOT NULL CHECK (json_type(roles) = 'array'),
	tenant        TEXT    NOT NULL,
	disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL
) WITHOUT ROWID;

-- WITHOUT ROWID: the jti primary key is the table's own b-tree, so IsRevoked, which runs on
-- every authenticated request, is one index seek with no second lookup.
CREATE TABLE authority_revocations (
	jti        TEXT    PRIMARY KEY,
	subject    TEXT    NOT NULL,
	client_id  TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	revoked_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Bundles list the unexpired revocations; most rows are expired once the table is old.
CREATE INDEX authority_revocations_expires_at ON authority_revocations (expires_at);

-- retired_at is NULL exactly while the key is active.
CREATE TABLE authority_keys (
	kid        TEXT    PRIMARY KEY,
	algorithm  TEXT    NOT NULL,
	public_jwk BLOB    NOT NULL,
	source     TEXT    NOT NULL,
	provider   TEXT    NOT NULL,
	location   TEXT    NOT NULL,
	status     TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
	created_at INTEGER NOT NULL,
	retired_at INTEGER,
	CHECK ((status = 'active') = (retired_at IS NULL))
) WITHOUT ROWID;

-- At most one active key, whatever writes the table.
CREATE UNIQUE INDEX authority_keys_one_active ON authority_keys (status) WHERE status = 'active';

-- AUTOINCREMENT: a seq is never handed out twice, even if rows were ever removed. The single
-- writer makes seq order commit order, so a reader paging by seq skips nothing.
CREATE TABLE authority_audit (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	time      INTEGER NOT NULL,
	type      TEXT    NOT NULL,
	outcome   TEXT    NOT NULL,
	subject   TEXT    NOT NULL,
	client_id TEXT    NOT NULL,
	scopes    TEXT    NOT NULL CHECK (json_type(scopes) = 'array'), -- in the caller's order
	status    INTEGER NOT NULL,
	trace_id  TEXT    NOT NULL,
	remote_ip TEXT    NOT NULL,
	detail    TEXT    NOT NULL
);

-- The audit trail is append-only: not even a bug elsewhere in the process can rewrite it.
CREATE TRIGGER authority_audit_no_update BEFORE UPDATE ON authority_audit
BEGIN SELECT RAISE(ABORT, 'authority_audit is append-only'); END;
CREATE TRIGGER authority_audit_no_delete BEFORE DELETE ON authority_audit
BEGIN SELECT RAISE(ABORT, 'authority_audit is append-only'); END;
