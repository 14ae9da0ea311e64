package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"iter"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// UpsertMapped implements store.Mapped.
func (s *Store) UpsertMapped(ctx context.Context, recs []store.MappedRecord) error {
	recs = store.LastWins(recs)
	now := s.now().UnixMicro()
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO mapped (source, id, document_uri, digest, json, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (source, id) DO UPDATE SET document_uri = excluded.document_uri, digest = excluded.digest,
				json = excluded.json, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer st.Close()
		for i := range recs {
			r := recs[i] // a copy: Check fills in the digest
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := store.Check(&r.Encoded); err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, r.Source, r.ID, r.DocumentURI, r.Digest, r.JSON, now); err != nil {
				return fmt.Errorf("%s %s from %s: %w", r.Source, r.ID, r.DocumentURI, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("upsert mapped: %w", err)
	}
	return nil
}

// MappedBySource implements store.Mapped.
func (s *Store) MappedBySource(ctx context.Context, source string) iter.Seq2[store.MappedRecord, error] {
	return func(yield func(store.MappedRecord, error) bool) {
		rows, err := s.r.QueryContext(ctx, `SELECT source, id, document_uri, digest, json FROM mapped WHERE source = ? ORDER BY id`, source)
		if err != nil {
			yield(store.MappedRecord{}, fmt.Errorf("mapped %s: %w", source, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r store.MappedRecord
			if err := rows.Scan(&r.Source, &r.ID, &r.DocumentURI, &r.Digest, &r.JSON); err != nil {
				yield(r, fmt.Errorf("mapped %s: %w", source, err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.MappedRecord{}, fmt.Errorf("mapped %s: %w", source, err))
		}
	}
}

// DeleteMappedByDocument implements store.Mapped.
func (s *Store) DeleteMappedByDocument(ctx context.Context, source, uri string) (int, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM mapped WHERE source = ? AND document_uri = ?`, source, uri)
	if err != nil {
		return 0, fmt.Errorf("delete mapped %s %s: %w", source, uri, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete mapped %s %s: %w", source, uri, err)
	}
	return int(n), nil
}

// ReplaceMerged implements store.Merged.
func (s *Store) ReplaceMerged(ctx context.Context, runID string, recs []store.Encoded, events []store.MergeEvent) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM merged`); err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO merged (id, run_id, digest, json) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		seen := make(map[string]bool, len(recs))
		for i := range recs {
			r := recs[i] // a copy: Check fills in the digest
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := store.Check(&r); err != nil {
				return err
			}
			if seen[r.ID] {
				return fmt.Errorf("%w: advisory %s twice in the set", store.ErrConflict, r.ID)
			}
			seen[r.ID] = true
			if _, err := st.ExecContext(ctx, r.ID, runID, r.Digest, r.JSON); err != nil {
				return fmt.Errorf("%s: %w", r.ID, err)
			}
		}
		return s.insertEvents(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("replace merged (run %s): %w", runID, err)
	}
	return nil
}

// MergedAll implements store.Merged.
func (s *Store) MergedAll(ctx context.Context) iter.Seq2[store.MergedRecord, error] {
	return func(yield func(store.MergedRecord, error) bool) {
		rows, err := s.r.QueryContext(ctx, `SELECT id, run_id, digest, json FROM merged ORDER BY id`)
		if err != nil {
			yield(store.MergedRecord{}, fmt.Errorf("merged: %w", err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r store.MergedRecord
			if err := rows.Scan(&r.ID, &r.RunID, &r.Digest, &r.JSON); err != nil {
				yield(r, fmt.Errorf("merged: %w", err))
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(store.MergedRecord{}, fmt.Errorf("merged: %w", err))
		}
	}
}

// CountMerged implements store.Merged.
func (s *Store) CountMerged(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM merged`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count merged: %w", err)
	}
	return n, nil
}

// AppendMergeEvents implements store.Merged.
func (s *Store) AppendMergeEvents(ctx context.Context, events []store.MergeEvent) error {
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.insertEvents(ctx, tx, events) }); err != nil {
		return fmt.Errorf("append merge events: %w", err)
	}
	return nil
}

func (s *Store) insertEvents(ctx context.Context, tx *sql.Tx, events []store.MergeEvent) error {
	if len(events) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO merge_events (advisory_id, field, winner_source, loser_source, reason,
		digest_before, digest_after, at, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer st.Close()
	now := s.now()
	for _, e := range events {
		if e.AdvisoryID == "" {
			return fmt.Errorf("merge event: empty advisory id")
		}
		at := now
		if !e.At.IsZero() {
			at = e.At
		}
		if _, err := st.ExecContext(ctx, e.AdvisoryID, e.Field, e.WinnerSource, e.LoserSource, e.Reason,
			e.DigestBefore, e.DigestAfter, micros(at), e.RunID); err != nil {
			return fmt.Errorf("merge event %s: %w", e.AdvisoryID, err)
		}
	}
	return nil
}

// MergeEvents implements store.Merged.
func (s *Store) MergeEvents(ctx context.Context, advisoryID string) ([]store.MergeEvent, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT advisory_id, field, winner_source, loser_source, reason, digest_before,
		digest_after, at, run_id FROM merge_events WHERE advisory_id = ? ORDER BY seq`, advisoryID)
	if err != nil {
		return nil, fmt.Errorf("merge events %s: %w", advisoryID, err)
	}
	defer rows.Close()
	var out []store.MergeEvent
	for rows.Next() {
		var e store.MergeEvent
		var at int64
		if err := rows.Scan(&e.AdvisoryID, &e.Field, &e.WinnerSource, &e.LoserSource, &e.Reason, &e.DigestBefore,
			&e.DigestAfter, &at, &e.RunID); err != nil {
			return nil, fmt.Errorf("merge events %s: %w", advisoryID, err)
		}
		e.At = fromMicros(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("merge events %s: %w", advisoryID, err)
	}
	return out, nil
}
