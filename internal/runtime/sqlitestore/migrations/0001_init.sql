-- Runtime events, SQLite. Times are Unix milliseconds, UTC. Text columns use SQLite's default
-- BINARY collation, so ORDER BY is byte order.

-- A rowid table: payloads run to kilobytes, which WITHOUT ROWID b-trees store poorly. The
-- unique (tenant, event_id) index is what makes ingestion idempotent.
CREATE TABLE runtime_events (
	tenant        TEXT    NOT NULL,
	event_id      TEXT    NOT NULL,
	node          TEXT    NOT NULL,
	kind          TEXT    NOT NULL,
	observed_at   INTEGER NOT NULL,
	image_digest  TEXT    NOT NULL,
	namespace     TEXT    NOT NULL,
	pod           TEXT    NOT NULL,
	container     TEXT    NOT NULL,
	image_signed  INTEGER CHECK (image_signed IN (0, 1)), -- NULL: the observer did not say
	sbom_referrer TEXT    NOT NULL,
	batch_id      TEXT    NOT NULL,
	received_at   INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	payload       BLOB    NOT NULL, -- the canonical (RFC 8785) envelope
	UNIQUE (tenant, event_id)
);

-- Verdicts summarise one digest (of one tenant or all); the sweeper walks expiry order.
CREATE INDEX runtime_events_image ON runtime_events (image_digest, tenant, observed_at);
CREATE INDEX runtime_events_expiry ON runtime_events (expires_at);
