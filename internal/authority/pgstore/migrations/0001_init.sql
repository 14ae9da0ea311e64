-- Authority, PostgreSQL. Keys that are listed in order are COLLATE "C": the interface's
-- "sorted" is byte order, which a database's natural-language collation is not.

CREATE TABLE authority_clients (
	id                TEXT COLLATE "C" PRIMARY KEY,
	secret_hash       TEXT        NOT NULL,
	display_name      TEXT        NOT NULL,
	scopes            TEXT[]      NOT NULL, -- sorted by the store
	grants            TEXT[]      NOT NULL, -- sorted by the store
	tenant            TEXT        NOT NULL,
	max_scans_per_day BIGINT      NOT NULL,
	disabled          BOOLEAN     NOT NULL,
	created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE authority_users (
	username      TEXT COLLATE "C" PRIMARY KEY,
	password_hash TEXT        NOT NULL,
	roles         TEXT[]      NOT NULL, -- sorted by the store
	tenant        TEXT        NOT NULL,
	disabled      BOOLEAN     NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);

-- IsRevoked, on every authenticated request, is one probe of the primary key's index.
CREATE TABLE authority_revocations (
	jti        TEXT COLLATE "C" PRIMARY KEY,
	subject    TEXT        NOT NULL,
	client_id  TEXT        NOT NULL,
	reason     TEXT        NOT NULL,
	revoked_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL
);

-- Bundles list the unexpired revocations; most rows are expired once the table is old.
CREATE INDEX authority_revocations_expires_at ON authority_revocations (expires_at);

-- retired_at is NULL exactly while the key is active.
CREATE TABLE authority_keys (
	kid        TEXT COLLATE "C" PRIMARY KEY,
	algorithm  TEXT        NOT NULL,
	public_jwk BYTEA       NOT NULL, -- verbatim, not jsonb: the JWKS serves the bytes as stored
	source     TEXT        NOT NULL,
	provider   TEXT        NOT NULL,
	location   TEXT        NOT NULL,
	status     TEXT        NOT NULL CHECK (status IN ('active', 'retired')),
	created_at TIMESTAMPTZ NOT NULL,
	retired_at TIMESTAMPTZ,
	CHECK ((status = 'active') = (retired_at IS NULL))
);

-- At most one active key, whatever writes the table and however replicas interleave.
CREATE UNIQUE INDEX authority_keys_one_active ON authority_keys (status) WHERE status = 'active';

-- seq comes from an identity sequence; AppendAudit takes an advisory lock around the insert
-- so that seq order is commit order and a reader paging by seq skips nothing.
CREATE TABLE authority_audit (
	seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time      TIMESTAMPTZ NOT NULL,
	type      TEXT        NOT NULL,
	outcome   TEXT        NOT NULL,
	subject   TEXT        NOT NULL,
	client_id TEXT        NOT NULL,
	scopes    TEXT[]      NOT NULL, -- in the caller's order
	status    BIGINT      NOT NULL,
	trace_id  TEXT        NOT NULL,
	remote_ip TEXT        NOT NULL,
	detail    TEXT        NOT NULL
);

-- The audit trail is append-only: triggers refuse UPDATE, DELETE and TRUNCATE, so not even a
-- bug elsewhere can rewrite it. Dropping the schema still works.
CREATE FUNCTION authority_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER authority_audit_append_only BEFORE UPDATE OR DELETE ON authority_audit
	FOR EACH ROW EXECUTE FUNCTION authority_append_only();
CREATE TRIGGER authority_audit_no_truncate BEFORE TRUNCATE ON authority_audit
	FOR EACH STATEMENT EXECUTE FUNCTION authority_append_only();
