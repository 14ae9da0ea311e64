-- Scan store, SQLite. Times are Unix microseconds, UTC; NULL where the interface has a zero
-- time. JSON documents are TEXT kept byte for byte.

CREATE TABLE scanstore_scans (
	id               TEXT    PRIMARY KEY,
	kind             TEXT    NOT NULL CHECK (kind IN ('queued', 'upload')),
	image_reference  TEXT    NOT NULL,
	image_requested  TEXT    NOT NULL,
	request          TEXT    NOT NULL,
	status           TEXT    NOT NULL CHECK (status IN ('Pending', 'Running', 'Succeeded', 'Failed', 'Cancelled')),
	run              INTEGER NOT NULL,
	attempt          INTEGER NOT NULL,
	fence            TEXT    NOT NULL,
	lease_until      INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	started_at       INTEGER,
	finished_at      INTEGER,
	failure_reason   TEXT    NOT NULL,
	image_digest     TEXT    NOT NULL,
	outcome          TEXT,
	last_seq         INTEGER NOT NULL
);

-- The sweeper's question: which live scans of a kind stopped beating.
CREATE INDEX scanstore_scans_live ON scanstore_scans (kind, lease_until) WHERE status IN ('Pending', 'Running');
-- The latest successful scan of an image digest.
CREATE INDEX scanstore_scans_digest ON scanstore_scans (image_digest, finished_at) WHERE status = 'Succeeded';

-- Results are apart from the scan rows, which are read and rewritten often and stay small.
CREATE TABLE scanstore_results (
	scan_id TEXT PRIMARY KEY REFERENCES scanstore_scans (id),
	result  BLOB NOT NULL
);

CREATE TABLE scanstore_events (
	scan_id        TEXT    NOT NULL,
	seq            INTEGER NOT NULL,
	state          TEXT    NOT NULL,
	message        TEXT    NOT NULL,
	ts             INTEGER NOT NULL,
	correlation_id TEXT    NOT NULL,
	data           TEXT    NOT NULL,
	PRIMARY KEY (scan_id, seq)
) WITHOUT ROWID;

-- A layer whose inventory is cached: value is the indexer's encoded result when shared here,
-- NULL when only known (held in some replica's directory cache).
CREATE TABLE scanstore_layers (
	fingerprint TEXT    NOT NULL,
	diff_id     TEXT    NOT NULL,
	value       BLOB,
	used_at     INTEGER NOT NULL,
	PRIMARY KEY (fingerprint, diff_id)
);
CREATE INDEX scanstore_layers_used ON scanstore_layers (used_at);

-- Every name a client may ask /layers/missing about: the diff ID and the blob digest.
CREATE TABLE scanstore_layer_names (
	fingerprint TEXT NOT NULL,
	name        TEXT NOT NULL,
	diff_id     TEXT NOT NULL,
	PRIMARY KEY (fingerprint, name)
) WITHOUT ROWID;
CREATE INDEX scanstore_layer_names_layer ON scanstore_layer_names (fingerprint, diff_id);
