-- Reports and attestations, PostgreSQL. Times are timestamptz with millisecond values. Text
-- keys are compared with COLLATE "C" where they are ordered or matched, so byte order holds
-- whatever the database's collation.

CREATE SEQUENCE signed_reports_seq;

-- seq orders a digest's reports by when they were last stored: assembling a report again takes
-- a new seq, so LatestReport is the first row of the (image_digest, seq DESC) index.
CREATE TABLE signed_reports (
	report_id       TEXT COLLATE "C" PRIMARY KEY,
	image_digest    TEXT COLLATE "C" NOT NULL,
	verdict         TEXT        NOT NULL,
	policy_revision TEXT        NOT NULL,
	policy_digest   TEXT        NOT NULL,
	scan_id         TEXT        NOT NULL,
	key_id          TEXT        NOT NULL,
	envelope        BYTEA       NOT NULL,
	log_id          TEXT        NOT NULL,
	log_index       BIGINT      NOT NULL CHECK (log_index >= 0),
	created_at      TIMESTAMPTZ NOT NULL,
	assembled_at    TIMESTAMPTZ NOT NULL,
	seq             BIGINT      NOT NULL UNIQUE DEFAULT nextval('signed_reports_seq')
);

CREATE INDEX signed_reports_latest ON signed_reports (image_digest, seq DESC);

CREATE TABLE attestations (
	id               TEXT COLLATE "C" PRIMARY KEY,
	log_index        BIGINT      NOT NULL CHECK (log_index >= 0),
	predicate_type   TEXT        NOT NULL,
	subjects         TEXT[]      NOT NULL,
	statement_digest TEXT        NOT NULL,
	key_id           TEXT        NOT NULL,
	envelope         BYTEA       NOT NULL,
	created_at       TIMESTAMPTZ NOT NULL
);

-- One row per subject digest (attestations.subjects keeps the list too, so loading an
-- attestation is one row). log_index and predicate_type are copied here so that the newest
-- attestation of a digest is one index range scan.
CREATE TABLE attestation_subjects (
	digest          TEXT COLLATE "C" NOT NULL,
	log_index       BIGINT NOT NULL,
	predicate_type  TEXT   NOT NULL,
	attestation_id  TEXT COLLATE "C" NOT NULL REFERENCES attestations (id),
	PRIMARY KEY (digest, log_index, attestation_id)
);
