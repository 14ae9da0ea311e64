-- Concelier store, SQLite. Times are INTEGER Unix microseconds (UTC).
CREATE TABLE documents (
	source        TEXT    NOT NULL,
	uri           TEXT    NOT NULL,
	digest        TEXT    NOT NULL,
	fetched_at    INTEGER NOT NULL,
	etag          TEXT    NOT NULL DEFAULT '',
	last_modified TEXT    NOT NULL DEFAULT '',
	content_type  TEXT    NOT NULL DEFAULT '',
	content       BLOB    NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('pending_parse', 'parsed', 'mapped', 'failed')),
	error         TEXT    NOT NULL DEFAULT '',
	UNIQUE (source, uri)
);
CREATE INDEX documents_by_status ON documents (source, status, uri);

CREATE TABLE cursors (
	source     TEXT    PRIMARY KEY,
	value      TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE mapped (
	source       TEXT    NOT NULL,
	id           TEXT    NOT NULL,
	document_uri TEXT    NOT NULL,
	digest       TEXT    NOT NULL,
	json         BLOB    NOT NULL,
	updated_at   INTEGER NOT NULL,
	PRIMARY KEY (source, id),
	FOREIGN KEY (source, document_uri) REFERENCES documents (source, uri) ON DELETE CASCADE
);
CREATE INDEX mapped_by_document ON mapped (source, document_uri);

CREATE TABLE merged (
	id     TEXT PRIMARY KEY,
	run_id TEXT NOT NULL,
	digest TEXT NOT NULL,
	json   BLOB NOT NULL
);

CREATE TABLE merge_events (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	advisory_id   TEXT    NOT NULL,
	field         TEXT    NOT NULL,
	winner_source TEXT    NOT NULL,
	loser_source  TEXT    NOT NULL,
	reason        TEXT    NOT NULL,
	digest_before TEXT    NOT NULL,
	digest_after  TEXT    NOT NULL,
	at            INTEGER NOT NULL,
	run_id        TEXT    NOT NULL
);
CREATE INDEX merge_events_by_advisory ON merge_events (advisory_id, seq);

CREATE TABLE jobs (
	id          TEXT    PRIMARY KEY,
	kind        TEXT    NOT NULL,
	trigger     TEXT    NOT NULL,
	params      TEXT,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	outcome     TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
	counts      TEXT,
	error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX jobs_by_kind ON jobs (kind, started_at DESC, id DESC);
CREATE INDEX jobs_by_start ON jobs (started_at DESC, id DESC);

CREATE TABLE job_locks (
	kind        TEXT    PRIMARY KEY,
	holder      TEXT    NOT NULL,
	acquired_at INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);
