-- Scan store, PostgreSQL. JSON documents are TEXT kept byte for byte (jsonb would reorder
-- keys). Text columns use the C collation so ORDER BY is byte order, as in SQLite.

CREATE TABLE scanstore_scans (
	id               TEXT        COLLATE "C" PRIMARY KEY,
	kind             TEXT        NOT NULL CHECK (kind IN ('queued', 'upload')),
	image_reference  TEXT        NOT NULL,
	image_requested  TEXT        NOT NULL,
	request          TEXT        NOT NULL,
	status           TEXT        NOT NULL CHECK (status IN ('Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled')),
	run              INTEGER     NOT NULL,
	attempt          INTEGER     NOT NULL,
	fence            TEXT        NOT NULL,
	lease_until      TIMESTAMPTZ NOT NULL,
	created_at       TIMESTAMPTZ NOT NULL,
	updated_at       TIMESTAMPTZ NOT NULL,
	started_at       TIMESTAMPTZ,
	finished_at      TIMESTAMPTZ,
	failure_reason   TEXT        NOT NULL,
	image_digest     TEXT        COLLATE "C" NOT NULL,
	outcome          TEXT,
	last_seq         BIGINT      NOT NULL
);

CREATE INDEX scanstore_scans_live ON scanstore_scans (kind, lease_until) WHERE status IN ('Pending', 'Running');
CREATE INDEX scanstore_scans_digest ON scanstore_scans (image_digest, finished_at) WHERE status = 'Succeeded';

CREATE TABLE scanstore_results (
	scan_id TEXT  COLLATE "C" PRIMARY KEY REFERENCES scanstore_scans (id),
	result  BYTEA NOT NULL
);

CREATE TABLE scanstore_events (
	scan_id        TEXT        COLLATE "C" NOT NULL,
	seq            BIGINT      NOT NULL,
	state          TEXT        NOT NULL,
	message        TEXT        NOT NULL,
	ts             TIMESTAMPTZ NOT NULL,
	correlation_id TEXT        NOT NULL,
	data           TEXT        NOT NULL,
	PRIMARY KEY (scan_id, seq)
);

CREATE TABLE scanstore_layers (
	fingerprint TEXT        COLLATE "C" NOT NULL,
	diff_id     TEXT        COLLATE "C" NOT NULL,
	value       BYTEA,
	used_at     TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (fingerprint, diff_id)
);
CREATE INDEX scanstore_layers_used ON scanstore_layers (used_at);

CREATE TABLE scanstore_layer_names (
	fingerprint TEXT COLLATE "C" NOT NULL,
	name        TEXT COLLATE "C" NOT NULL,
	diff_id     TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (fingerprint, name)
);
CREATE INDEX scanstore_layer_names_layer ON scanstore_layer_names (fingerprint, diff_id);
