package offlinekit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/atomicfile"
	"github.com/stellaops/stellaops/internal/signing"
)

// StatusImported is the status of a kit whose advisories are the current snapshot's source.
const StatusImported = "imported"

// Record is one import, as `offline kit status` shows it.
type Record struct {
	// ImportID is derived from the bundle's digest, so importing a kit again finds its record.
	ImportID       string            `json:"importId"`
	Status         string            `json:"status"`
	BundleID       string            `json:"bundleId"`
	Kind           string            `json:"kind"`
	CapturedAt     time.Time         `json:"capturedAt"`
	ImportedAt     time.Time         `json:"importedAt"`
	BundleSHA256   string            `json:"bundleSha256"`
	ManifestSHA256 string            `json:"manifestSha256"`
	SnapshotDigest string            `json:"snapshotDigest"`
	Advisories     int               `json:"advisories"`
	Generator      string            `json:"generator"`
	Components     []RecordComponent `json:"components"`
	// SignedBy are the trusted key ids that verified the bundle and manifest signatures.
	SignedBy []string `json:"signedBy,omitempty"`
}

// RecordComponent is a component's identity in a record.
type RecordComponent struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// Records keeps import records as files in a directory that replicas share: <importId>.json,
// and "current" naming the last import.
type Records struct{ dir string }

// OpenRecords returns the records kept in dir.
func OpenRecords(dir string) (*Records, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("offline kit records: %w", err)
	}
	return &Records{dir: dir}, nil
}

// ErrNoRecord: no import with that id, or no import at all.
var ErrNoRecord = errors.New("no offline kit import")

func validImportID(id string) bool {
	return len(id) == 16 && strings.Trim(id, "0123456789abcdef") == ""
}

// Get returns the record of an import.
func (r *Records) Get(id string) (Record, error) {
	if !validImportID(id) {
		return Record{}, ErrNoRecord
	}
	b, err := os.ReadFile(filepath.Join(r.dir, id+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, ErrNoRecord
	}
	if err != nil {
		return Record{}, fmt.Errorf("offline kit records: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(b, &rec); err != nil {
		return Record{}, fmt.Errorf("offline kit record %s: %w", id, err)
	}
	return rec, nil
}

// Current returns the last import's record.
func (r *Records) Current() (Record, error) {
	b, err := os.ReadFile(filepath.Join(r.dir, "current"))
	if errors.Is(err, fs.ErrNotExist) {
		return Record{}, ErrNoRecord
	}
	if err != nil {
		return Record{}, fmt.Errorf("offline kit records: %w", err)
	}
	return r.Get(strings.TrimSpace(string(b)))
}

// List returns up to limit records, newest import first.
func (r *Records) List(limit int) ([]Record, error) {
	ents, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("offline kit records: %w", err)
	}
	var out []Record
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !validImportID(id) {
			continue
		}
		rec, err := r.Get(id)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	slices.SortFunc(out, func(a, b Record) int {
		return cmp.Or(b.ImportedAt.Compare(a.ImportedAt), cmp.Compare(a.ImportID, b.ImportID))
	})
	return out[:min(limit, len(out))], nil
}

func (r *Records) put(rec Record) error {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(r.dir, rec.ImportID+".json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("offline kit records: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(r.dir, "current"), []byte(rec.ImportID+"\n"), 0o644); err != nil {
		return fmt.Errorf("offline kit records: %w", err)
	}
	return nil
}

// Importer verifies kits and installs their advisories as the current snapshot.
type Importer struct {
	Snapshots *snapshot.Store
	Records   *Records
	// Keys are the keys trusted to sign kits.
	Keys signing.KeyProvider
	// RequireSignatures refuses a kit without a bundle signature. The manifest signature is
	// checked whenever it is given.
	RequireSignatures bool
	Limits            Limits
	Now               func() time.Time
}

// ImportRequest is what `offline kit import` sends.
type ImportRequest struct {
	Bundle io.Reader
	// Manifest, when given, must be the bundle's own manifest, byte for byte.
	Manifest          []byte
	BundleSignature   []byte
	ManifestSignature []byte
}

// Import reads, verifies and installs a kit. Nothing changes unless every check passes: the
// current snapshot moves to the kit's only once the rebuilt snapshot has the digest the signed
// manifest names. Importing a kit already imported returns its record and created false.
func (im *Importer) Import(ctx context.Context, req ImportRequest) (Record, bool, error) {
	kit, err := Open(ctx, req.Bundle, im.Limits)
	if err != nil {
		return Record{}, false, err
	}
	if req.Manifest != nil && !bytes.Equal(req.Manifest, kit.ManifestBytes) {
		return Record{}, false, fmt.Errorf("%w: the manifest sent is not the bundle's own", ErrInvalid)
	}
	if req.BundleSignature == nil && im.RequireSignatures {
		return Record{}, false, fmt.Errorf("%w: no bundle signature, and this server imports only signed kits", ErrInvalid)
	}
	var signedBy []string
	if req.BundleSignature != nil || req.ManifestSignature != nil {
		keys, err := im.Keys.Keyring(ctx)
		if err != nil {
			return Record{}, false, fmt.Errorf("offline kit: trusted keys: %w", err)
		}
		if req.BundleSignature != nil {
			kid, err := VerifyBundleSignature(ctx, req.BundleSignature, keys, kit)
			if err != nil {
				return Record{}, false, err
			}
			signedBy = append(signedBy, kid)
		}
		if req.ManifestSignature != nil {
			kid, err := VerifyManifestSignature(ctx, req.ManifestSignature, keys, kit.ManifestBytes)
			if err != nil {
				return Record{}, false, err
			}
			signedBy = append(signedBy, kid)
		}
	}
	slices.Sort(signedBy)
	signedBy = slices.Compact(signedBy)
	id := kit.BundleSHA256[:16]
	if rec, err := im.Records.Get(id); err == nil && rec.BundleSHA256 == kit.BundleSHA256 {
		if cur, err := im.Snapshots.CurrentPath(); err == nil && filepath.Base(cur) == strings.TrimPrefix(rec.SnapshotDigest, "sha256:")+".db" {
			return rec, false, nil
		}
		// Imported before, but the snapshot moved on since (a later merge or kit): install again.
	}
	m := kit.Manifest
	comp := m.Component(ComponentAdvisories)
	meta, err := im.Snapshots.PublishEncodedIf(ctx, kit.Advisories, kit.Canon, comp.Sources, m.CapturedAt, func(meta snapshot.Meta) error {
		if meta.Digest != comp.Version {
			return fmt.Errorf("%w: the advisories rebuild into snapshot %s, the manifest says %s", ErrInvalid, meta.Digest, comp.Version)
		}
		return nil
	})
	if err != nil {
		return Record{}, false, err
	}
	rec := Record{ImportID: id, Status: StatusImported, BundleID: m.BundleID, Kind: m.Kind, CapturedAt: m.CapturedAt,
		ImportedAt: im.Now().UTC().Truncate(time.Millisecond), BundleSHA256: kit.BundleSHA256, ManifestSHA256: kit.ManifestSHA256,
		SnapshotDigest: meta.Digest, Advisories: len(kit.Advisories), Generator: m.Generator, SignedBy: signedBy}
	for _, c := range m.Components {
		rec.Components = append(rec.Components, RecordComponent{Name: c.Name, Version: c.Version, SHA256: c.SHA256, Size: c.Size})
	}
	if err := im.Records.put(rec); err != nil {
		return Record{}, false, err
	}
	return rec, true, nil
}
