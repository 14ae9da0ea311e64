package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Validators are what a fetch remembers of one file for conditional requests and change
// detection.
type Validators struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	Digest       string    `json:"digest"`
	FetchedAt    time.Time `json:"fetchedAt"`
}

// FilesCursor is the cursor of a source published as a set of files: per file URI, its
// validators when last stored.
type FilesCursor struct {
	Files map[string]Validators `json:"files"`
}

// FileStats counts what a fetch of files did.
type FileStats struct {
	Files       int `json:"files"`
	NotModified int `json:"notModified"`
	Stored
}

// FileStore is what FetchFiles needs of the store.
type FileStore interface {
	store.Documents
	store.Cursors
}

// FetchFiles reads each file a source publishes and stores it as a raw document. read gets the
// URI and the file's validators from the cursor (zero in ModeInit) and returns nil when the file
// is not modified. The cursor moves after each file, so an interrupted run resumes where it
// stopped.
func FetchFiles(ctx context.Context, st FileStore, source string, mode Mode, uris []string,
	read func(ctx context.Context, i int, prev Validators) (*store.Document, error)) (FileStats, error) {
	var stats FileStats
	var cur FilesCursor
	if err := LoadCursor(ctx, st, source, &cur); err != nil {
		return stats, err
	}
	if cur.Files == nil {
		cur.Files = map[string]Validators{}
	}
	for i, uri := range uris {
		if err := ctx.Err(); err != nil {
			return stats, err
		}
		prev := cur.Files[uri]
		if mode == ModeInit {
			prev = Validators{}
		}
		doc, err := read(ctx, i, prev)
		if err != nil {
			return stats, fmt.Errorf("%s %s: %w", source, uri, err)
		}
		stats.Files++
		if doc == nil {
			stats.NotModified++
			continue
		}
		out, err := st.PutDocument(ctx, *doc)
		if err != nil {
			return stats, fmt.Errorf("%s %s: %w", source, uri, err)
		}
		stats.Count(out)
		cur.Files[uri] = Validators{ETag: doc.ETag, LastModified: doc.LastModified, Digest: store.Digest(doc.Content), FetchedAt: doc.FetchedAt}
		if err := SaveCursor(ctx, st, source, cur); err != nil {
			return stats, err
		}
	}
	return stats, nil
}
