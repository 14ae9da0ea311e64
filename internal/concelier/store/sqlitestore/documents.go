package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// PutDocument implements store.Documents.
func (s *Store) PutDocument(ctx context.Context, d store.Document) (store.PutOutcome, error) {
	var out store.PutOutcome
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := prepareDocStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		out, err = st.putDocument(ctx, d)
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
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := prepareDocStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		for i, d := range docs {
			out, err := st.putDocument(ctx, d)
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

// docStmts are the statements of document writes, prepared once per transaction: compiling
// the SQL for every row of a 4,096-document batch cost more than running it.
type docStmts struct {
	digest, put, status *sql.Stmt
}

func prepareDocStmts(ctx context.Context, tx *sql.Tx) (*docStmts, error) {
	var st docStmts
	var err error
	for _, p := range []struct {
		dst **sql.Stmt
		q   string
	}{
		{&st.digest, `SELECT digest FROM documents WHERE source = ? AND uri = ?`},
		{&st.put, `INSERT INTO documents (source, uri, digest, fetched_at, etag, last_modified, content_type, content, status, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending_parse', '')
		ON CONFLICT (source, uri) DO UPDATE SET digest = excluded.digest, fetched_at = excluded.fetched_at,
			etag = excluded.etag, last_modified = excluded.last_modified, content_type = excluded.content_type,
			content = excluded.content, status = 'pending_parse', error = ''`},
		{&st.status, `UPDATE documents SET status = ?, error = ? WHERE source = ? AND uri = ? AND digest = ?`},
	} {
		if *p.dst, err = tx.PrepareContext(ctx, p.q); err != nil {
			st.close()
			return nil, err
		}
	}
	return &st, nil
}

func (st *docStmts) close() {
	for _, s := range []*sql.Stmt{st.digest, st.put, st.status} {
		if s != nil {
			s.Close()
		}
	}
}

func (st *docStmts) putDocument(ctx context.Context, d store.Document) (store.PutOutcome, error) {
	digest := store.Digest(d.Content)
	var old string
	var out store.PutOutcome
	switch err := st.digest.QueryRowContext(ctx, d.Source, d.URI).Scan(&old); {
	case errors.Is(err, sql.ErrNoRows):
		out = store.Created
	case err != nil:
		return 0, err
	case old == digest:
		return store.Unchanged, nil
	default:
		out = store.Replaced
	}
	_, err := st.put.ExecContext(ctx, d.Source, d.URI, digest, micros(d.FetchedAt), d.ETag, d.LastModified, d.ContentType, nonNil(d.Content))
	return out, err
}

const documentCols = `source, uri, digest, fetched_at, etag, last_modified, content_type, content, status, error`

func scanDocument(row interface{ Scan(...any) error }) (store.Document, error) {
	var d store.Document
	var at int64
	err := row.Scan(&d.Source, &d.URI, &d.Digest, &at, &d.ETag, &d.LastModified, &d.ContentType, &d.Content, &d.Status, &d.Error)
	d.FetchedAt = fromMicros(at)
	return d, err
}

// GetDocument implements store.Documents.
func (s *Store) GetDocument(ctx context.Context, source, uri string) (store.Document, error) {
	d, err := scanDocument(s.r.QueryRowContext(ctx, `SELECT `+documentCols+` FROM documents WHERE source = ? AND uri = ?`, source, uri))
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Document{}, fmt.Errorf("get document %s %s: %w", source, uri, err)
	}
	return d, nil
}

// SetDocumentStatus implements store.Documents.
func (s *Store) SetDocumentStatus(ctx context.Context, source, uri, digest string, status store.DocumentStatus, reason string) error {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		st, err := prepareDocStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		return st.setStatus(ctx, store.StatusUpdate{Source: source, URI: uri, Digest: digest, Status: status, Reason: reason})
	})
	if err != nil {
		return fmt.Errorf("set document status %s %s: %w", source, uri, err)
	}
	return nil
}

// SetDocumentStatuses implements store.Documents.
func (s *Store) SetDocumentStatuses(ctx context.Context, updates []store.StatusUpdate) ([]int, error) {
	var stale []int
	err := s.tx(ctx, func(tx *sql.Tx) error {
		stale = stale[:0] // a retried transaction starts over
		st, err := prepareDocStmts(ctx, tx)
		if err != nil {
			return err
		}
		defer st.close()
		for i, u := range updates {
			err := st.setStatus(ctx, u)
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

func (st *docStmts) setStatus(ctx context.Context, u store.StatusUpdate) error {
	if !u.Status.Valid() {
		return fmt.Errorf("invalid status %q", u.Status)
	}
	if u.Status != store.StatusFailed {
		u.Reason = ""
	}
	// One statement checks the digest and updates; a miss is told apart afterwards.
	res, err := st.status.ExecContext(ctx, string(u.Status), u.Reason, u.Source, u.URI, u.Digest)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	var cur string
	switch err := st.digest.QueryRowContext(ctx, u.Source, u.URI).Scan(&cur); {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return err
	}
	return fmt.Errorf("%w: content is now %s, not %s", store.ErrConflict, cur, u.Digest)
}

// ListDocuments implements store.Documents.
func (s *Store) ListDocuments(ctx context.Context, source string, status store.DocumentStatus) ([]store.Document, error) {
	return s.listDocuments(ctx, `SELECT `+documentCols+` FROM documents WHERE source = ? AND status = ? ORDER BY uri`, source, source, string(status))
}

// ListDocumentsAfter implements store.Documents.
func (s *Store) ListDocumentsAfter(ctx context.Context, source string, status store.DocumentStatus, after string, limit int) ([]store.Document, error) {
	return s.listDocuments(ctx, `SELECT `+documentCols+` FROM documents WHERE source = ? AND status = ? AND uri > ? ORDER BY uri LIMIT ?`,
		source, source, string(status), after, limit)
}

func (s *Store) listDocuments(ctx context.Context, q, source string, args ...any) ([]store.Document, error) {
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list documents %s: %w", source, err)
	}
	defer rows.Close()
	var out []store.Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, fmt.Errorf("list documents %s: %w", source, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list documents %s: %w", source, err)
	}
	return out, nil
}

// GetCursor implements store.Cursors.
func (s *Store) GetCursor(ctx context.Context, source string) (json.RawMessage, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM cursors WHERE source = ?`, source).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get cursor %s: %w", source, err)
	}
	return json.RawMessage(v), nil
}

// SetCursor implements store.Cursors.
func (s *Store) SetCursor(ctx context.Context, source string, cursor json.RawMessage) error {
	b, err := store.CanonicalJSON(cursor)
	if err == nil && b == nil {
		err = errors.New("empty cursor")
	}
	if err == nil {
		_, err = s.w.ExecContext(ctx, `INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			source, string(b), s.now().UnixMicro())
	}
	if err != nil {
		return fmt.Errorf("set cursor %s: %w", source, err)
	}
	return nil
}

// nonNil keeps an empty document an empty BLOB rather than NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
