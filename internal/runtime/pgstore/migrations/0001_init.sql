-- Runtime events, PostgreSQL. Names that are listed in order are COLLATE "C": "sorted" means
-- byte order, which a database's natural-language collation is not.

CREATE TABLE runtime_events (
	tenant        TEXT COLLATE "C" NOT NULL,
	event_id      TEXT COLLATE "C" NOT NULL,
	node          TEXT COLLATE "C" NOT NULL,
	kind          TEXT        NOT NULL,
	observed_at   TIMESTAMPTZ NOT NULL,
	image_digest  TEXT        NOT NULL,
	namespace     TEXT COLLATE "C" NOT NULL,
	pod           TEXT        NOT NULL,
	container     TEXT        NOT NULL,
	image_signed  BOOLEAN,    -- NULL: the observer did not say
	sbom_referrer TEXT        NOT NULL,
	batch_id      TEXT        NOT NULL,
	received_at   TIMESTAMPTZ NOT NULL,
	expires_at    TIMESTAMPTZ NOT NULL,
	payload       BYTEA       NOT NULL, -- the canonical (RFC 8785) envelope, byte for byte
	-- Ingestion is idempotent through this key (INSERT … ON CONFLICT DO NOTHING), across replicas.
	PRIMARY KEY (tenant, event_id)
);

-- Verdicts summarise one digest (of one tenant or all); the sweeper walks expiry order.
CREATE INDEX runtime_events_image ON runtime_events (image_digest, tenant, observed_at);
CREATE INDEX runtime_events_expiry ON runtime_events (expires_at);
