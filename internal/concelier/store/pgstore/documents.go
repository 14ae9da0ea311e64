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
	digest := store.Digest(d.Content)
	content := d.Content
	if content == nil {
		content = []byte{}
	}
	var out store.PutOutcome
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var old string
		switch err := tx.QueryRow(ctx, `SELECT digest FROM documents WHERE source = $1 AND uri = $2 FOR UPDATE`, d.Source, d.URI).Scan(&old); {
		case errors.Is(err, pgx.ErrNoRows):
			out = store.Created
		case err != nil:
			return err
		case old == digest:
			out = store.Unchanged
			return nil
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
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("put document %s %s: %w", d.Source, d.URI, err)
	}
	return out, nil
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
	if !status.Valid() {
		return fmt.Errorf("set document status %s %s: invalid status %q", source, uri, status)
	}
	if status != store.StatusFailed {
		reason = ""
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var cur string
		switch err := tx.QueryRow(ctx, `SELECT digest FROM documents WHERE source = $1 AND uri = $2 FOR UPDATE`, source, uri).Scan(&cur); {
		case errors.Is(err, pgx.ErrNoRows):
			return store.ErrNotFound
		case err != nil:
			return err
		case cur != digest:
			return fmt.Errorf("%w: content is now %s, not %s", store.ErrConflict, cur, digest)
		}
		_, err := tx.Exec(ctx, `UPDATE documents SET status = $1, error = $2 WHERE source = $3 AND uri = $4`, string(status), reason, source, uri)
		return err
	})
	if err != nil {
		return fmt.Errorf("set document status %s %s: %w", source, uri, err)
	}
	return nil
}

// ListDocuments implements store.Documents.
func (s *Store) ListDocuments(ctx context.Context, source string, status store.DocumentStatus) ([]store.Document, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+documentCols+` FROM documents WHERE source = $1 AND status = $2 ORDER BY uri`, source, string(status))
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
