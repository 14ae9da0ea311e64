// Package sqlitestore is the embedded default backend of reportstore: one SQLite file (pure Go
// modernc.org/sqlite) in WAL mode, with one writer connection whose transactions take the write
// lock at BEGIN and a small pool of read-only connections.
//
// It owns its schema (embedded, numbered migrations tracked in reportstore_schema_migrations,
// so it can share a database file with other components) and nothing else; callers use
// reportstore.Store.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/report/reportstore"
	"github.com/stellaops/stellaops/internal/sqlitedb"
	"github.com/stellaops/stellaops/internal/sqlmigrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for another process's write lock.
const busyTimeout = 30 * time.Second

// Store implements reportstore.Store on SQLite.
type Store struct {
	w *sql.DB // one connection: SQLite has one writer, and BEGIN IMMEDIATE serialises it
	r *sql.DB // read-only pool
}

var _ reportstore.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies pending migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	ms, err := sqlmigrate.List(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("reportstore: %w", err)
	}
	// synchronous FULL: a report's id and log entry were handed out when the call returned.
	db, err := sqlitedb.Open(ctx, path, sqlitedb.Options{BusyTimeout: busyTimeout, Synchronous: "FULL", ForeignKeys: true,
		Migrations: sqlmigrate.Set{Table: "reportstore_schema_migrations", Lock: "stellaops.reportstore", Migrations: ms}, Now: time.Now})
	if err != nil {
		return nil, fmt.Errorf("reportstore: %w", err)
	}
	return &Store{w: db.W, r: db.R}, nil
}

// Close closes both pools.
func (s *Store) Close() error { return errors.Join(s.r.Close(), s.w.Close()) }

func millis(t time.Time) int64 { return reportstore.Timestamp(t).UnixMilli() }

func fromMillis(v int64) time.Time { return time.UnixMilli(v).UTC() }

const reportColumns = `report_id, image_digest, verdict, policy_revision, policy_digest, scan_id, key_id, envelope,
	log_id, log_index, created_at, assembled_at`

// PutReport implements reportstore.Store.
func (s *Store) PutReport(ctx context.Context, r reportstore.Report) (reportstore.Report, error) {
	if err := reportstore.CheckReport(r); err != nil {
		return reportstore.Report{}, err
	}
	var out reportstore.Report
	err := sqlitedb.Tx(ctx, s.w, func(tx *sql.Tx) error {
		at := millis(r.AssembledAt)
		// The new seq is read under the write lock that BEGIN IMMEDIATE took, so it is unique
		// and follows every earlier write.
		_, err := tx.ExecContext(ctx, `INSERT INTO signed_reports (`+reportColumns+`, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM signed_reports))
			ON CONFLICT (report_id) DO UPDATE SET
				key_id = excluded.key_id, envelope = excluded.envelope, log_id = excluded.log_id,
				log_index = excluded.log_index, assembled_at = excluded.assembled_at,
				scan_id = CASE WHEN excluded.scan_id <> '' THEN excluded.scan_id ELSE signed_reports.scan_id END,
				seq = excluded.seq`,
			r.ReportID, r.ImageDigest, r.Verdict, r.PolicyRevision, r.PolicyDigest, r.ScanID, r.KeyID, r.Envelope,
			r.LogID, int64(r.LogIndex), at, at)
		if err != nil {
			return err
		}
		out, err = scanReport(tx.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM signed_reports WHERE report_id = ?`, r.ReportID))
		return err
	})
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: put report %s: %w", r.ReportID, err)
	}
	return out, nil
}

// Report implements reportstore.Store.
func (s *Store) Report(ctx context.Context, reportID string) (reportstore.Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM signed_reports WHERE report_id = ?`, reportID))
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: report %.80q: %w", reportID, err)
	}
	return r, nil
}

// LatestReport implements reportstore.Store.
func (s *Store) LatestReport(ctx context.Context, imageDigest string) (reportstore.Report, error) {
	r, err := scanReport(s.r.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM signed_reports
		WHERE image_digest = ? ORDER BY seq DESC LIMIT 1`, imageDigest))
	if err != nil {
		return reportstore.Report{}, fmt.Errorf("reportstore: latest report of %.80q: %w", imageDigest, err)
	}
	return r, nil
}

func scanReport(row *sql.Row) (reportstore.Report, error) {
	var r reportstore.Report
	var idx, created, assembled int64
	err := row.Scan(&r.ReportID, &r.ImageDigest, &r.Verdict, &r.PolicyRevision, &r.PolicyDigest, &r.ScanID, &r.KeyID,
		&r.Envelope, &r.LogID, &idx, &created, &assembled)
	if errors.Is(err, sql.ErrNoRows) {
		return r, reportstore.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.LogIndex, r.CreatedAt, r.AssembledAt = uint64(idx), fromMillis(created), fromMillis(assembled)
	return r, nil
}

const attestationColumns = `id, log_index, predicate_type, subjects, statement_digest, key_id, envelope, created_at`

// PutAttestation implements reportstore.Store.
func (s *Store) PutAttestation(ctx context.Context, a reportstore.Attestation) (reportstore.Attestation, bool, error) {
	a, err := reportstore.CheckAttestation(a)
	if err != nil {
		return reportstore.Attestation{}, false, err
	}
	subjects, err := json.Marshal(a.Subjects)
	if err != nil {
		return reportstore.Attestation{}, false, fmt.Errorf("reportstore: %w", err)
	}
	var out reportstore.Attestation
	created := false
	err = sqlitedb.Tx(ctx, s.w, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO attestations (`+attestationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			a.ID, int64(a.LogIndex), a.PredicateType, string(subjects), a.StatementDigest, a.KeyID, a.Envelope, millis(a.CreatedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if created = n == 1; created {
			for _, d := range a.Subjects {
				if _, err := tx.ExecContext(ctx, `INSERT INTO attestation_subjects (digest, log_index, predicate_type, attestation_id)
					VALUES (?, ?, ?, ?)`, d, int64(a.LogIndex), a.PredicateType, a.ID); err != nil {
					return err
				}
			}
		}
		out, err = scanAttestation(tx.QueryRowContext(ctx, `SELECT `+attestationColumns+` FROM attestations WHERE id = ?`, a.ID))
		return err
	})
	if err != nil {
		return reportstore.Attestation{}, false, fmt.Errorf("reportstore: put attestation %s: %w", a.ID, err)
	}
	return out, created, nil
}

// Attestation implements reportstore.Store.
func (s *Store) Attestation(ctx context.Context, id string) (reportstore.Attestation, error) {
	a, err := scanAttestation(s.r.QueryRowContext(ctx, `SELECT `+attestationColumns+` FROM attestations WHERE id = ?`, id))
	if err != nil {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: attestation %.80q: %w", id, err)
	}
	return a, nil
}

// maxPredicateTypes bounds the filter of LatestAttestation (one bound parameter each).
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
	q := `SELECT a.id, a.log_index, a.predicate_type, a.subjects, a.statement_digest, a.key_id, a.envelope, a.created_at
		FROM attestation_subjects s JOIN attestations a ON a.id = s.attestation_id WHERE s.digest = ?`
	args := []any{d}
	if len(predicateTypes) > 0 {
		q += ` AND s.predicate_type IN (?` + strings.Repeat(", ?", len(predicateTypes)-1) + `)`
		for _, t := range predicateTypes {
			args = append(args, t)
		}
	}
	q += ` ORDER BY s.log_index DESC, s.attestation_id DESC LIMIT 1`
	a, err := scanAttestation(s.r.QueryRowContext(ctx, q, args...))
	if err != nil {
		return reportstore.Attestation{}, fmt.Errorf("reportstore: latest attestation of %s: %w", d, err)
	}
	return a, nil
}

func scanAttestation(row *sql.Row) (reportstore.Attestation, error) {
	var a reportstore.Attestation
	var idx, created int64
	var subjects string
	err := row.Scan(&a.ID, &idx, &a.PredicateType, &subjects, &a.StatementDigest, &a.KeyID, &a.Envelope, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return a, reportstore.ErrNotFound
	}
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(subjects), &a.Subjects); err != nil {
		return a, fmt.Errorf("subjects of %s: %w", a.ID, err)
	}
	a.LogIndex, a.CreatedAt = uint64(idx), fromMillis(created)
	return a, nil
}
