// Package pgstore is the PostgreSQL backend of reportstore (pgx/v5, pgxpool), for several
// server replicas sharing one database. Report order comes from a sequence, so replicas whose
// clocks disagree still agree on which report of an image is the latest.
//
// It owns its schema (embedded, numbered migrations tracked in reportstore_schema_migrations
// and serialised across processes by an advisory lock) and nothing else; callers use
// reportstore.Store. The tables live in the connection's search_path.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/report/reportstore"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Store implements reportstore.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

var _ reportstore.Store = (*Store)(nil)

// Open connects to dsn (a postgres:// URL or key=value string; search_path may be set in it)
// and applies pending migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("reportstore: open postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("reportstore: open postgres: %w", err)
	}
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err == nil {
		err = sqlmigrate.Set{Table: "reportstore_schema_migrations", Lock: "stellaops.reportstore", Migrations: ms}.ApplyPostgres(ctx, pool, time.Now)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("reportstore: open postgres: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// tx runs fn in a transaction, committing when it returns nil.
func (s *Store) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		// The rollback gets its own context: a cancelled ctx must not leave the connection mid-transaction.
		rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rbErr := tx.Rollback(rbCtx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			return errors.Join(err, rbErr)
		}
		return err
	}
	return tx.Commit(ctx)
}

const reportColumns = `report_id, image_digest, verdict, policy_revision, policy_digest, scan_id, key_id, envelope,
	log_id, log_index, created_at, assembled_at`

// PutReport implements reportstore.Store.
func (s *Store) PutReport(ctx context.Context, r reportstore.Report) (reportstore.Report, error) {
	if err := reportstore.CheckReport(r); err != nil {
		return reportstore.Report{}, err
	}
	at := reportstore.Timestamp(r.AssembledAt)
	// One statement: the upsert takes a fresh seq from the sequence on insert and on update.
	row := s.pool.QueryRow(ctx, `INSERT INTO signed_reports (`+reportColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
		ON CONFLICT (report_id) DO UPDATE SET
			key_id = excluded.key_id, envelope = excluded.envelope, log_id = excluded.log_id,
			log_index = excluded.log_index, assembled_at = excluded.assembled_at,
			scan_id = CASE WHEN excluded.scan_id <> '' THEN excluded.scan_id ELSE signed_reports.scan_id END,
			seq = nextval('signed_reports_seq')
		RETURNING `+reportColumns,
		r.ReportID, r.ImageDigest, r.Verdict, r.PolicyRevision, r.PolicyDigest, r.ScanID, r.KeyID, r.Envelope,
		r.LogID, int64(r.LogIndex), at)
	out, err := scanReport(row)
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: put report %s: %w", r.ReportID, err)
	}
	return out, nil
}

// Report implements reportstore.Store.
func (s *Store) Report(ctx context.Context, reportID string) (reportstore.Report, error) {
	r, err := scanReport(s.pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM signed_reports WHERE report_id = $1`, reportID))
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: report %.80q: %w", reportID, err)
	}
	return r, nil
}

// LatestReport implements reportstore.Store.
func (s *Store) LatestReport(ctx context.Context, imageDigest string) (reportstore.Report, error) {
	r, err := scanReport(s.pool.QueryRow(ctx, `SELECT `+reportColumns+` FROM signed_reports
		WHERE image_digest = $1 ORDER BY seq DESC LIMIT 1`, imageDigest))
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: latest report of %.80q: %w", imageDigest, err)
	}
	return r, nil
}

func scanReport(row pgx.Row) (reportstore.Report, error) {
	var r reportstore.Report
	var idx int64
	err := row.Scan(&r.ReportID, &r.ImageDigest, &r.Verdict, &r.PolicyRevision, &r.PolicyDigest, &r.ScanID, &r.KeyID,
		&r.Envelope, &r.LogID, &idx, &r.CreatedAt, &r.AssembledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, reportstore.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.LogIndex, r.CreatedAt, r.AssembledAt = uint64(idx), r.CreatedAt.UTC(), r.AssembledAt.UTC()
	return r, nil
}

const attestationColumns = `id, log_index, predicate_type, subjects, statement_digest, key_id, envelope, created_at`

// PutAttestation implements reportstore.Store.
func (s *Store) PutAttestation(ctx context.Context, a reportstore.Attestation) (reportstore.Attestation, bool, error) {
	a, err := reportstore.CheckAttestation(a)
	if err != nil {
		return reportstore.Attestation{}, false, err
	}
	var out reportstore.Attestation
	created := false
	err = s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO attestations (`+attestationColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING`,
			a.ID, int64(a.LogIndex), a.PredicateType, a.Subjects, a.StatementDigest, a.KeyID, a.Envelope, reportstore.Timestamp(a.CreatedAt))
		if err != nil {
			return err
		}
		if created = tag.RowsAffected() == 1; created {
			if _, err := tx.Exec(ctx, `INSERT INTO attestation_subjects (digest, log_index, predicate_type, attestation_id)
				SELECT d, $2, $3, $4 FROM unnest($1::text[]) AS d`, a.Subjects, int64(a.LogIndex), a.PredicateType, a.ID); err != nil {
				return err
			}
		}
		out, err = scanAttestation(tx.QueryRow(ctx, `SELECT `+attestationColumns+` FROM attestations WHERE id = $1`, a.ID))
		return err
	})
	if err != nil {
		return reportstore.Attestation{}, false, fmt.Errorf("reportstore: put attestation %s: %w", a.ID, err)
	}
	return out, created, nil
}

// Attestation implements reportstore.Store.
func (s *Store) Attestation(ctx context.Context, id string) (reportstore.Attestation, error) {
	a, err := scanAttestation(s.pool.QueryRow(ctx, `SELECT `+attestationColumns+` FROM attestations WHERE id = $1`, id))
	if err != nil {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: attestation %.80q: %w", id, err)
	}
	return a, nil
}

// maxPredicateTypes bounds the filter of LatestAttestation.
const maxPredicateTypes = 32

// LatestAttestation implements reportstore.Store.
func (s *Store) LatestAttestation(ctx context.Context, subject string, predicateTypes ...string) (reportstore.Attestation, error) {
	d, err := reportstore.NormaliseDigest(subject)
	if err != nil {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: latest attestation: %w: %w", reportstore.ErrInvalid, err)
	}
	if len(predicateTypes) > maxPredicateTypes {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: latest attestation: %w: %d predicate types (at most %d)",
			reportstore.ErrInvalid, len(predicateTypes), maxPredicateTypes)
	}
	// An empty filter is NULL: every predicate type.
	var types []string
	if len(predicateTypes) > 0 {
		types = predicateTypes
	}
	row := s.pool.QueryRow(ctx, `SELECT a.id, a.log_index, a.predicate_type, a.subjects, a.statement_digest, a.key_id, a.envelope, a.created_at
		FROM attestation_subjects s JOIN attestations a ON a.id = s.attestation_id
		WHERE s.digest = $1 AND ($2::text[] IS NULL OR s.predicate_type = ANY ($2::text[]))
		ORDER BY s.log_index DESC, s.attestation_id DESC LIMIT 1`, d, types)
	a, err := scanAttestation(row)
	if err != nil {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: latest attestation of %s: %w", d, err)
	}
	return a, nil
}

func scanAttestation(row pgx.Row) (reportstore.Attestation, error) {
	var a reportstore.Attestation
	var idx int64
	err := row.Scan(&a.ID, &idx, &a.PredicateType, &a.Subjects, &a.StatementDigest, &a.KeyID, &a.Envelope, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, reportstore.ErrNotFound
	}
	if err != nil {
		return a, err
	}
	a.LogIndex, a.CreatedAt = uint64(idx), a.CreatedAt.UTC()
	return a, nil
}
