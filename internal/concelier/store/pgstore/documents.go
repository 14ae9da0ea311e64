package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// PutDocument implements store.Documents.
func (s *Store) PutDocument(ctx context.Context, d store.Document) (store.PutOutcome, error) {
	var out store.PutOutcome
	err := s.tx(ctx, func(tx pgx.Tx) (err error) {
		out, err = putDocument(ctx, tx, d)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("put document %s %s: %w", d.Source, d.URI, err)
	}
	return out, nil
}

// PutDocuments implements store.Documents.
func (s *Store) PutDocuments(ctx context.Context, docs []store.Document) ([]store.PutOutcome, error) {
	outs := make([]store.PutOutcome, len(docs))
	err := s.tx(ctx, func(tx pgx.Tx) error {
		for i, d := range docs {
			out, err := putDocument(ctx, tx, d)
			if err != nil {
				return fmt.Errorf("%s %s: %w", d.Source, d.URI, err)
			}
			outs[i] = out
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put documents: %w", err)
	}
	return outs, nil
}

func putDocument(ctx context.Context, tx pgx.Tx, d store.Document) (store.PutOutcome, error) {
	digest := store.Digest(d.Content)
	content := d.Content
	if content == nil {
		content = []byte{}
	}
	var old string
	var out store.PutOutcome
	switch err := tx.QueryRow(ctx, `SELECT digest FROM documents WHERE source = $1 AND uri = $2 FOR UPDATE`, d.Source, d.URI).Scan(&old); {
	case errors.Is(err, pgx.ErrNoRows):
		out = store.Created
	case err != nil:
		return 0, err
	case old == digest:
		return store.Unchanged, nil
	default:
		out = store.Replaced
	}
	// ON CONFLICT covers a concurrent first insert of the same URI.
	_, err := tx.Exec(ctx, `INSERT INTO documents (source, uri, digest, fetched_at, etag, last_modified, content_type, content, status, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending_parse', '')
		ON CONFLICT (source, uri) DO UPDATE SET digest = excluded.digest, fetched_at = excluded.fetched_at,
			etag = excluded.etag, last_modified = excluded.last_modified, content_type = excluded.content_type,
			content = excluded.content, status = 'pending_parse', error = ''`,
		d.Source, d.URI, digest, ts(d.FetchedAt), d.ETag, d.LastModified, d.ContentType, content)
	return out, err
}

const documentCols = `source, uri, digest, fetched_at, etag, last_modified, content_type, content, status, error`

func scanDocument(row pgx.Row) (store.Document, error) {
	var d store.Document
	err := row.Scan(&d.Source, &d.URI, &d.Digest, &d.FetchedAt, &d.ETag, &d.LastModified, &d.ContentType, &d.Content, &d.Status, &d.Error)
	d.FetchedAt = d.FetchedAt.UTC()
	return d, err
}

// GetDocument implements store.Documents.
func (s *Store) GetDocument(ctx context.Context, source, uri string) (store.Document, error) {
	d, err := scanDocument(s.pool.QueryRow(ctx, `SELECT `+documentCols+` FROM documents WHERE source = $1 AND uri = $2`, source, uri))
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Document{}, fmt.Errorf("get document %s %s: %w", source, uri, err)
	}
	return d, nil
}

// SetDocumentStatus implements store.Documents.
func (s *Store) SetDocumentStatus(ctx context.Context, source, uri, digest string, status store.DocumentStatus, reason string) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return setStatus(ctx, tx, store.StatusUpdate{Source: source, URI: uri, Digest: digest, Status: status, Reason: reason})
	})
	if err != nil {
		return fmt.Errorf("set document status %s %s: %w", source, uri, err)
	}
	return nil
}

// SetDocumentStatuses implements store.Documents.
func (s *Store) SetDocumentStatuses(ctx context.Context, updates []store.StatusUpdate) ([]int, error) {
	var stale []int
	err := s.tx(ctx, func(tx pgx.Tx) error {
		stale = stale[:0]
		for i, u := range updates {
			err := setStatus(ctx, tx, u)
			if errors.Is(err, store.ErrConflict) {
				stale = append(stale, i)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s %s: %w", u.Source, u.URI, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set document statuses: %w", err)
	}
	return stale, nil
}

func setStatus(ctx context.Context, tx pgx.Tx, u store.StatusUpdate) error {
	if !u.Status.Valid() {
		return fmt.Errorf("invalid status %q", u.Status)
	}
	if u.Status != store.StatusFailed {
		u.Reason = ""
	}
	// One statement checks the digest and updates; a miss is told apart afterwards.
	tag, err := tx.Exec(ctx, `UPDATE documents SET status = $1, error = $2 WHERE source = $3 AND uri = $4 AND digest = $5`,
		string(u.Status), u.Reason, u.Source, u.URI, u.Digest)
	if err != nil || tag.RowsAffected() == 1 {
		return err
	}
	var cur string
	switch err := tx.QueryRow(ctx, `SELECT digest FROM documents WHERE source = $1 AND uri = $2`, u.Source, u.URI).Scan(&cur); {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: content is now %s, not %s", store.ErrConflict, cur, u.Digest)
}

// ListDocuments implements store.Documents.
func (s *Store) ListDocuments(ctx context.Context, source string, status store.DocumentStatus) ([]store.Document, error) {
	return s.listDocuments(ctx, `SELECT `+documentCols+` FROM documents WHERE source = $1 AND status = $2 ORDER BY uri`, source, source, string(status))
}

// ListDocumentsAfter implements store.Documents.
func (s *Store) ListDocumentsAfter(ctx context.Context, source string, status store.DocumentStatus, after string, limit int) ([]store.Document, error) {
	return s.listDocuments(ctx, `SELECT `+documentCols+` FROM documents WHERE source = $1 AND status = $2 AND uri > $3 ORDER BY uri LIMIT $4`,
		source, source, string(status), after, limit)
}

func (s *Store) listDocuments(ctx context.Context, q, source string, args ...any) ([]store.Document, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list documents %s: %w", source, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Document, error) { return scanDocument(row) })
	if err != nil {
		return nil, fmt.Errorf("list documents %s: %w", source, err)
	}
	return out, nil
}

// GetCursor implements store.Cursors.
func (s *Store) GetCursor(ctx context.Context, source string) (json.RawMessage, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value::text FROM cursors WHERE source = $1`, source).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	var b []byte
	if err == nil {
		b, err = store.CanonicalJSON([]byte(v)) // JSONB re-spaces its output
	}
	if err != nil {
		return nil, fmt.Errorf("get cursor %s: %w", source, err)
	}
	return b, nil
}

// SetCursor implements store.Cursors.
func (s *Store) SetCursor(ctx context.Context, source string, cursor json.RawMessage) error {
	b, err := store.CanonicalJSON(cursor)
	if err == nil && b == nil {
		err = errors.New("empty cursor")
	}
	if err == nil {
		_, err = s.pool.Exec(ctx, `INSERT INTO cursors (source, value, updated_at) VALUES ($1, $2::text::jsonb, $3)
			ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			source, string(b), s.now())
	}
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", source, err)
	}
	return nil
}
