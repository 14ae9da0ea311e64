-- Reports and attestations, SQLite. Times are Unix milliseconds, UTC. Text keys use SQLite's
-- default BINARY collation. The two record tables keep their rowid: their rows carry envelopes of
-- up to megabytes, which WITHOUT ROWID tables store badly.

-- seq orders a digest's reports by when they were last stored: assembling a report again takes
-- a new seq, so LatestReport is the first row of the (image_digest, seq DESC) index.
CREATE TABLE signed_reports (
	report_id       TEXT    PRIMARY KEY,
	image_digest    TEXT    NOT NULL,
	verdict         TEXT    NOT NULL,
	policy_revision TEXT    NOT NULL,
	policy_digest   TEXT    NOT NULL,
	scan_id         TEXT    NOT NULL,
	key_id          TEXT    NOT NULL,
	envelope        BLOB    NOT NULL,
	log_id          TEXT    NOT NULL,
	log_index       INTEGER NOT NULL CHECK (log_index >= 0),
	created_at      INTEGER NOT NULL,
	assembled_at    INTEGER NOT NULL,
	seq             INTEGER NOT NULL UNIQUE
);

CREATE INDEX signed_reports_latest ON signed_reports (image_digest, seq DESC);

CREATE TABLE attestations (
	id               TEXT    PRIMARY KEY,
	log_index        INTEGER NOT NULL CHECK (log_index >= 0),
	predicate_type   TEXT    NOT NULL,
	subjects         TEXT    NOT NULL CHECK (json_type(subjects) = 'array'),
	statement_digest TEXT    NOT NULL,
	key_id           TEXT    NOT NULL,
	envelope         BLOB    NOT NULL,
	created_at       INTEGER NOT NULL
);

-- One row per subject digest (attestations.subjects keeps the list too, so loading an
-- attestation is one row). log_index and predicate_type are copied here so that the newest
-- attestation of a digest is one index range scan.
CREATE TABLE attestation_subjects (
	digest          TEXT    NOT NULL,
	log_index       INTEGER NOT NULL,
	predicate_type  TEXT    NOT NULL,
	attestation_id  TEXT    NOT NULL REFERENCES attestations (id),
	PRIMARY KEY (digest, log_index, attestation_id)
) WITHOUT ROWID;
