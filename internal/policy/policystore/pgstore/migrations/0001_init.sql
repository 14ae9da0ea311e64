-- Policy revisions, PostgreSQL. seq is the revision number (rev-<seq>): Append holds an
-- advisory lock from reading the newest seq to commit, so numbers are dense, commit order is
-- seq order, and the primary key refuses a duplicate should anything write without the lock.
CREATE TABLE policy_revisions (
	seq         BIGINT      PRIMARY KEY CHECK (seq > 0),
	digest      TEXT        NOT NULL CHECK (digest ~ '^[0-9a-f]{64}$'),
	format      TEXT        NOT NULL CHECK (format IN ('yaml', 'rego')),
	actor       TEXT        NOT NULL,
	description TEXT        NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	content     TEXT        NOT NULL
);

-- The history is an audit trail: triggers refuse UPDATE, DELETE and TRUNCATE, so not even a
-- bug elsewhere can rewrite it. Dropping the schema still works.
CREATE FUNCTION policy_revisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END
$$;

CREATE TRIGGER policy_revisions_append_only BEFORE UPDATE OR DELETE ON policy_revisions
	FOR EACH ROW EXECUTE FUNCTION policy_revisions_append_only();
CREATE TRIGGER policy_revisions_no_truncate BEFORE TRUNCATE ON policy_revisions
	FOR EACH STATEMENT EXECUTE FUNCTION policy_revisions_append_only();
