package pgstore

import (
	"context"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// UpsertMapped implements store.Mapped: COPY into a temporary table, then one INSERT … ON
// CONFLICT, which is what makes 14k records a sub-second write.
func (s *Store) UpsertMapped(ctx context.Context, recs []store.MappedRecord) error {
	recs = store.LastWins(recs)
	now := s.now()
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE mapped_in (LIKE mapped) ON COMMIT DROP`); err != nil {
			return err
		}
		i := 0
		var srcErr error // CopyFrom reports the source's error as text only; keep it for errors.Is
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(recs) {
				return nil, nil
			}
			r := recs[i] // a copy: Check fills in the digest
			i++
			if srcErr = ctx.Err(); srcErr != nil {
				return nil, srcErr
			}
			if srcErr = store.Check(&r.Encoded); srcErr != nil {
				return nil, srcErr
			}
			return []any{r.Source, r.ID, r.DocumentURI, r.Digest, r.JSON, now}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"mapped_in"},
			[]string{"source", "id", "document_uri", "digest", "json", "updated_at"}, src); err != nil {
			return cmpOr(srcErr, err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO mapped (source, id, document_uri, digest, json, updated_at)
			SELECT source, id, document_uri, digest, json, updated_at FROM mapped_in
			ON CONFLICT (source, id) DO UPDATE SET document_uri = excluded.document_uri, digest = excluded.digest,
				json = excluded.json, updated_at = excluded.updated_at`)
		return err
	})
	if err != nil {
		return fmt.Errorf("upsert mapped: %w", err)
	}
	return nil
}

// MappedBySource implements store.Mapped.
func (s *Store) MappedBySource(ctx context.Context, source string) iter.Seq2[store.MappedRecord, error] {
	return func(yield func(store.MappedRecord, error) bool) {
		rows, err := s.pool.Query(ctx, `SELECT source, id, document_uri, digest, json FROM mapped WHERE source = $1 ORDER BY id`, source)
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM mapped WHERE source = $1 AND document_uri = $2`, source, uri)
	if err != nil {
		return 0, fmt.Errorf("delete mapped %s %s: %w", source, uri, err)
	}
	return int(tag.RowsAffected()), nil
}

// ReplaceMerged implements store.Merged: DELETE and COPY in one transaction.
func (s *Store) ReplaceMerged(ctx context.Context, runID string, recs []store.Encoded, events []store.MergeEvent) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM merged`); err != nil {
			return err
		}
		seen := make(map[string]bool, len(recs))
		i := 0
		var srcErr error // CopyFrom reports the source's error as text only; keep it for errors.Is
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(recs) {
				return nil, nil
			}
			r := recs[i]
			i++
			if srcErr = ctx.Err(); srcErr != nil {
				return nil, srcErr
			}
			if srcErr = store.Check(&r); srcErr != nil {
				return nil, srcErr
			}
			if seen[r.ID] {
				srcErr = fmt.Errorf("%w: advisory %s twice in the set", store.ErrConflict, r.ID)
				return nil, srcErr
			}
			seen[r.ID] = true
			return []any{r.ID, runID, r.Digest, r.JSON}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"merged"}, []string{"id", "run_id", "digest", "json"}, src); err != nil {
			return cmpOr(srcErr, err)
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
		rows, err := s.pool.Query(ctx, `SELECT id, run_id, digest, json FROM merged ORDER BY id`)
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
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM merged`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count merged: %w", err)
	}
	return n, nil
}

// AppendMergeEvents implements store.Merged.
func (s *Store) AppendMergeEvents(ctx context.Context, events []store.MergeEvent) error {
	if err := s.tx(ctx, func(tx pgx.Tx) error { return s.insertEvents(ctx, tx, events) }); err != nil {
		return fmt.Errorf("append merge events: %w", err)
	}
	return nil
}

// insertEvents sends the events as one batch; identity order is batch order.
func (s *Store) insertEvents(ctx context.Context, tx pgx.Tx, events []store.MergeEvent) error {
	if len(events) == 0 {
		return nil
	}
	now := s.now()
	b := &pgx.Batch{}
	for _, e := range events {
		if e.AdvisoryID == "" {
			return fmt.Errorf("merge event: empty advisory id")
		}
		at := now
		if !e.At.IsZero() {
			at = ts(e.At)
		}
		b.Queue(`INSERT INTO merge_events (advisory_id, field, winner_source, loser_source, reason, digest_before,
			digest_after, at, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.AdvisoryID, e.Field, e.WinnerSource, e.LoserSource, e.Reason, e.DigestBefore, e.DigestAfter, at, e.RunID)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("merge events: %w", err)
	}
	return nil
}

// MergeEvents implements store.Merged.
func (s *Store) MergeEvents(ctx context.Context, advisoryID string) ([]store.MergeEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT advisory_id, field, winner_source, loser_source, reason, digest_before,
		digest_after, at, run_id FROM merge_events WHERE advisory_id = $1 ORDER BY seq`, advisoryID)
	if err != nil {
		return nil, fmt.Errorf("merge events %s: %w", advisoryID, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.MergeEvent, error) {
		var e store.MergeEvent
		err := row.Scan(&e.AdvisoryID, &e.Field, &e.WinnerSource, &e.LoserSource, &e.Reason, &e.DigestBefore,
			&e.DigestAfter, &e.At, &e.RunID)
		e.At = e.At.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("merge events %s: %w", advisoryID, err)
	}
	return out, nil
}

func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
