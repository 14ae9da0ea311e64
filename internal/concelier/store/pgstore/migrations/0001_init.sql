-- Concelier store, PostgreSQL. Keys sort in byte order (COLLATE "C"), as on SQLite.
CREATE TABLE documents (
	source        TEXT    NOT NULL,
	uri           TEXT    COLLATE "C" NOT NULL,
	digest        TEXT    NOT NULL,
	fetched_at    TIMESTAMPTZ NOT NULL,
	etag          TEXT    NOT NULL DEFAULT '',
	last_modified TEXT    NOT NULL DEFAULT '',
	content_type  TEXT    NOT NULL DEFAULT '',
	content       BYTEA    NOT NULL,
	status        TEXT    NOT NULL CHECK (status IN ('pending_parse', 'parsed', 'mapped', 'failed')),
	error         TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (source, uri)
);
CREATE INDEX documents_by_status ON documents (source, status, uri);

CREATE TABLE cursors (
	source     TEXT    PRIMARY KEY,
	value      JSONB   NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE mapped (
	source       TEXT    NOT NULL,
	id           TEXT    COLLATE "C" NOT NULL,
	document_uri TEXT    COLLATE "C" NOT NULL,
	digest       TEXT    NOT NULL,
	json         BYTEA    NOT NULL,
	updated_at   TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (source, id),
	FOREIGN KEY (source, document_uri) REFERENCES documents (source, uri) ON DELETE CASCADE
);
CREATE INDEX mapped_by_document ON mapped (source, document_uri);

CREATE TABLE merged (
	id     TEXT COLLATE "C" PRIMARY KEY,
	run_id TEXT NOT NULL,
	digest TEXT NOT NULL,
	json   BYTEA NOT NULL
);

CREATE TABLE merge_events (
	seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	advisory_id   TEXT    NOT NULL,
	field         TEXT    NOT NULL,
	winner_source TEXT    NOT NULL,
	loser_source  TEXT    NOT NULL,
	reason        TEXT    NOT NULL,
	digest_before TEXT    NOT NULL,
	digest_after  TEXT    NOT NULL,
	at            TIMESTAMPTZ NOT NULL,
	run_id        TEXT    NOT NULL
);
CREATE INDEX merge_events_by_advisory ON merge_events (advisory_id, seq);

CREATE TABLE jobs (
	id          TEXT    COLLATE "C" PRIMARY KEY,
	kind        TEXT    NOT NULL,
	trigger     TEXT    NOT NULL,
	params      JSONB,
	started_at  TIMESTAMPTZ NOT NULL,
	finished_at TIMESTAMPTZ,
	outcome     TEXT CHECK (outcome IN ('succeeded', 'failed', 'cancelled')),
	counts      JSONB,
	error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX jobs_by_kind ON jobs (kind, started_at DESC, id DESC);
CREATE INDEX jobs_by_start ON jobs (started_at DESC, id DESC);

CREATE TABLE job_locks (
	kind        TEXT    PRIMARY KEY,
	holder      TEXT    NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL
);
