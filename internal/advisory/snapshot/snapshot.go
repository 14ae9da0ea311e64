// Package snapshot freezes a set of canonical advisories into an immutable, content-addressed file
// that scans read: a read-only bbolt database holding every advisory (canonical JSON), an index
// from (ecosystem, distro release, normalised package name) to the entries that name it, and an
// alias index. Its digest — sha256 over the advisories' RFC 8785 JSON in ID order — names the file
// and goes into every scan result, so a report can be replayed against the same data.
//
// Withdrawn advisories stay readable by ID but are not indexed, so they never match.
//
// Opening is a memory map and a metadata read; lookups decode only the entries of one package.
// The package never changes a published snapshot; publishing a new one swaps a pointer file.
package snapshot

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/inventory"
)

// FormatVersion is the snapshot file format; files of another format are refused.
const FormatVersion = 2

var (
	bucketMeta     = []byte("meta")
	bucketAdvisory = []byte("advisory")
	bucketPackage  = []byte("package")
	bucketAlias    = []byte("alias")
	bucketSummary  = []byte("summary")
	keyMeta        = []byte("meta")
)

// ErrNotFound is returned for unknown advisory IDs.
var ErrNotFound = errors.New("not in snapshot")

// SourceInfo summarises one feed in a snapshot.
type SourceInfo struct {
	Name       string `json:"name"`
	Documents  int    `json:"documents"`
	Advisories int    `json:"advisories"`
	Errors     int    `json:"errors,omitempty"`
}

// Meta describes a snapshot.
type Meta struct {
	Format     int          `json:"format"`
	Digest     string       `json:"digest"`
	CreatedAt  time.Time    `json:"createdAt"`
	Advisories int          `json:"advisories"`
	Packages   int          `json:"packages"`
	Sources    []SourceInfo `json:"sources"`
	// Coverage lists what the snapshot has data for, sorted: language ecosystems ("pypi") and
	// distro releases ("deb/debian:12"), as CoverageKey writes them. A scan says which of its packages nothing here covers,
	// rather than letting silence pass for "not vulnerable". Absent in snapshots built before it
	// existed (then nothing is said).
	Coverage []string `json:"coverage,omitempty"`
}

// CoverageKey is the Coverage entry for packages of eco on distro ("" for language ecosystems):
// "pypi", "deb/debian:12".
func CoverageKey(eco inventory.Ecosystem, distro string) string {
	if distro == "" {
		return string(eco)
	}
	return string(eco) + "/" + distro
}

// Snapshot is an open, read-only snapshot. It is safe for concurrent use.
type Snapshot struct {
	db       *bolt.DB
	meta     Meta
	coverage map[string]bool
}

// Open opens the snapshot file at path read-only.
func Open(path string) (*Snapshot, error) {
	db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open snapshot %s: %w", path, err)
	}
	s := &Snapshot{db: db}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return errors.New("no metadata")
		}
		return json.Unmarshal(b.Get(keyMeta), &s.meta)
	})
	if err == nil && s.meta.Format != FormatVersion {
		err = fmt.Errorf("format %d, this build reads %d", s.meta.Format, FormatVersion)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open snapshot %s: %w", path, err)
	}
	if s.meta.Coverage != nil {
		s.coverage = make(map[string]bool, len(s.meta.Coverage))
		for _, k := range s.meta.Coverage {
			s.coverage[k] = true
		}
	}
	return s, nil
}

// Covers reports whether the snapshot has any data for packages of eco on distro; known is
// false when the snapshot does not record its coverage.
func (s *Snapshot) Covers(eco inventory.Ecosystem, distro string) (covered, known bool) {
	if s.coverage == nil {
		return false, false
	}
	return s.coverage[CoverageKey(eco, distro)], true
}

// Close releases the file.
func (s *Snapshot) Close() error { return s.db.Close() }

// Meta returns the snapshot's metadata.
func (s *Snapshot) Meta() Meta { return s.meta }

// Digest is the snapshot's content digest ("sha256:…").
func (s *Snapshot) Digest() string { return s.meta.Digest }

// indexKey is the package index key.
func indexKey(eco inventory.Ecosystem, distro, name string) []byte {
	k := make([]byte, 0, len(eco)+len(distro)+len(name)+2)
	k = append(k, eco...)
	k = append(k, 0)
	k = append(k, distro...)
	k = append(k, 0)
	return append(k, advisory.NormalizeName(eco, name)...)
}

// Reader reads a snapshot inside one read transaction: a scan opens one, makes its thousands of
// lookups, and closes it. It is not safe for concurrent use.
type Reader struct {
	tx                 *bolt.Tx
	pkg, sum, advs, al *bolt.Bucket
	digest             string
	snap               *Snapshot
	sc                 scratch
}

// Reader starts a read transaction; Close ends it.
func (s *Snapshot) Reader() (*Reader, error) {
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	return &Reader{tx: tx, pkg: tx.Bucket(bucketPackage), sum: tx.Bucket(bucketSummary),
		advs: tx.Bucket(bucketAdvisory), al: tx.Bucket(bucketAlias), digest: s.meta.Digest, snap: s}, nil
}

// Covers is Snapshot.Covers.
func (r *Reader) Covers(eco inventory.Ecosystem, distro string) (covered, known bool) {
	return r.snap.Covers(eco, distro)
}

// Close ends the transaction.
func (r *Reader) Close() error { return r.tx.Rollback() }

// Digest is the snapshot's content digest.
func (r *Reader) Digest() string { return r.digest }

// Lookup is Snapshot.Lookup within the reader's transaction. The entries share buffers with the
// next Lookup on this reader: use them before calling it again. (Their strings stay valid.)
func (r *Reader) Lookup(eco inventory.Ecosystem, distro, name string) ([]Entry, error) {
	v := r.pkg.Get(indexKey(eco, distro, name))
	if v == nil {
		return nil, nil
	}
	es, err := decodeInto(v, &r.sc)
	if err != nil {
		return nil, fmt.Errorf("snapshot lookup %s/%s/%s: %w", eco, distro, name, err)
	}
	return es, nil
}

// Summary is Snapshot.Summary within the reader's transaction.
func (r *Reader) Summary(id string) (*Summary, error) {
	v := r.sum.Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("advisory %s: %w", id, ErrNotFound)
	}
	var sum Summary
	if err := json.Unmarshal(v, &sum); err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	return &sum, nil
}

// Lookup returns the entries filed under a package: for OS packages pass the distro release key
// (advisory.DistroKey) and the name the distro tracks, for language packages an empty distro.
func (s *Snapshot) Lookup(eco inventory.Ecosystem, distro, name string) ([]Entry, error) {
	var es []Entry
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPackage).Get(indexKey(eco, distro, name))
		if v == nil {
			return nil
		}
		var err error
		es, err = decodeEntries(v)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("snapshot lookup %s/%s/%s: %w", eco, distro, name, err)
	}
	return es, nil
}

// Advisory returns an advisory by its ID or any alias.
func (s *Snapshot) Advisory(id string) (*advisory.Advisory, error) {
	var a advisory.Advisory
	err := s.db.View(func(tx *bolt.Tx) error {
		if canon := tx.Bucket(bucketAlias).Get([]byte(id)); canon != nil {
			id = string(canon)
		}
		v := tx.Bucket(bucketAdvisory).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &a)
	})
	if err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	return &a, nil
}

// Summary is the part of an advisory a finding carries, stored apart from the full record so
// that a scan with thousands of findings decodes a few hundred bytes per advisory, not the
// details and version lists.
type Summary struct {
	ID             string              `json:"id"`
	Aliases        []string            `json:"aliases,omitempty"`
	Title          string              `json:"title,omitempty"`
	Severities     []advisory.Severity `json:"severities,omitempty"`
	CWEs           []string            `json:"cwes,omitempty"`
	PrimaryURL     string              `json:"primaryUrl,omitempty"`
	KnownExploited bool                `json:"knownExploited,omitempty"`
}

func summaryOf(a *advisory.Advisory) Summary {
	return Summary{ID: a.ID, Aliases: a.Aliases, Title: a.Summary, Severities: a.Severities, CWEs: a.CWEs,
		PrimaryURL: a.PrimaryURL(), KnownExploited: a.KnownExploited}
}

// Summary returns the summary of an advisory by its ID (not by alias: index entries carry IDs).
func (s *Snapshot) Summary(id string) (*Summary, error) {
	var sum Summary
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSummary).Get([]byte(id))
		if v == nil {
			return ErrNotFound
		}
		return json.Unmarshal(v, &sum)
	})
	if err != nil {
		return nil, fmt.Errorf("advisory %s: %w", id, err)
	}
	return &sum, nil
}

// ForEach calls fn for every advisory in ID order.
func (s *Snapshot) ForEach(fn func(*advisory.Advisory) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAdvisory).ForEach(func(_, v []byte) error {
			var a advisory.Advisory
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			return fn(&a)
		})
	})
}

// ForEachRaw calls fn with each advisory's stored canonical JSON, in ID order: the bytes the
// content digest is computed over. fn must not keep raw past its return.
func (s *Snapshot) ForEachRaw(fn func(raw []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketAdvisory).ForEach(func(_, v []byte) error { return fn(v) })
	})
}

// ContentDigest is the snapshot digest of advisories: sha256 over each advisory's canonical JSON
// followed by a newline, in ID order.
func ContentDigest(advs []*advisory.Advisory, canonical func(*advisory.Advisory) ([]byte, error)) (string, error) {
	h := sha256.New()
	prev := ""
	for _, a := range advs {
		if cmp.Compare(a.ID, prev) <= 0 && prev != "" {
			return "", fmt.Errorf("advisories not sorted by ID at %s", a.ID)
		}
		prev = a.ID
		b, err := canonical(a)
		if err != nil {
			return "", err
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
