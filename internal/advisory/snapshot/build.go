package snapshot

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/canonjson"
)

// Build writes a snapshot of advs (which it normalises, de-duplicates by ID and sorts) to path,
// atomically: a temporary file in the same directory is renamed into place. It returns the
// snapshot's metadata, digest included.
func Build(ctx context.Context, path string, advs []*advisory.Advisory, sources []SourceInfo, created time.Time) (Meta, error) {
	for _, a := range advs {
		a.Normalize()
	}
	advs = advisory.Dedupe(advs)
	// Canonical JSON is most of a build's work: encode on every CPU, then hash in order.
	enc := make([][]byte, len(advs))
	g, gctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < len(advs); i += workers {
				if err := gctx.Err(); err != nil {
					return err
				}
				b, err := canonjson.Marshal(advs[i])
				if err != nil {
					return fmt.Errorf("advisory %s: %w", advs[i].ID, err)
				}
				enc[i] = b
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Meta{}, fmt.Errorf("build snapshot: %w", err)
	}
	return BuildEncoded(ctx, path, advs, enc, sources, created)
}

// BuildEncoded is Build for advisories that are already normalised, unique and sorted by ID, with
// canon[i] the RFC 8785 JSON of advs[i] (a merge has both at hand, and encoding is the costly
// part). Unsorted or duplicate IDs are an error.
func BuildEncoded(ctx context.Context, path string, advs []*advisory.Advisory, canon [][]byte, sources []SourceInfo, created time.Time) (Meta, error) {
	if len(canon) != len(advs) {
		return Meta{}, fmt.Errorf("build snapshot: %d encodings for %d advisories", len(canon), len(advs))
	}
	byID := make(map[string][]byte, len(advs))
	for i, a := range advs {
		byID[a.ID] = canon[i]
	}
	canonical := func(a *advisory.Advisory) ([]byte, error) { return byID[a.ID], nil }
	digest, err := ContentDigest(advs, canonical)
	if err != nil {
		return Meta{}, fmt.Errorf("build snapshot: %w", err)
	}
	index := map[string][]Entry{}
	aliases := map[string]string{}
	coverage := map[string]bool{}
	for _, a := range advs {
		if err := ctx.Err(); err != nil {
			return Meta{}, err
		}
		for _, al := range a.Aliases {
			aliases[al] = a.ID
		}
		if !a.Withdrawn.IsZero() {
			continue // kept for lookups by ID, never matched: the source retracted it
		}
		for _, af := range a.Affected {
			e := Entry{Advisory: a.ID, Package: af.Package, Ranges: af.Ranges, Versions: af.Versions,
				Status: af.Status, Source: af.Source}
			if af.Severity != nil {
				e.Level, e.LevelSource = af.Severity.Level, af.Severity.Source
			}
			k := string(indexKey(af.Ecosystem, af.Distro, af.Package))
			index[k] = append(index[k], e)
			coverage[CoverageKey(af.Ecosystem, af.Distro)] = true
		}
	}
	meta := Meta{Format: FormatVersion, Digest: digest, CreatedAt: created.UTC(), Advisories: len(advs),
		Packages: len(index), Sources: slices.Clone(sources), Coverage: slices.Sorted(maps.Keys(coverage))}
	slices.SortFunc(meta.Sources, func(a, b SourceInfo) int { return cmp.Compare(a.Name, b.Name) })

	tmp, err := os.CreateTemp(filepath.Dir(path), ".snapshot-*")
	if err != nil {
		return Meta{}, fmt.Errorf("build snapshot: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // a no-op once renamed
	// Map enough address space up front for the whole file: each time bbolt outgrows its map it
	// remaps and copies every node it holds off the old map, which cost a quarter of a 14k-record
	// build. Address space only: the file still grows as pages are written.
	var size int
	for _, b := range canon {
		size += len(b)
	}
	db, err := bolt.Open(tmpName, 0o644, &bolt.Options{NoSync: true, InitialMmapSize: 3*size + 64<<20})
	if err != nil {
		return Meta{}, fmt.Errorf("build snapshot: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		put := func(bucket []byte, keys []string, value func(string) []byte) error {
			b, err := tx.CreateBucket(bucket)
			if err != nil {
				return err
			}
			b.FillPercent = 1.0 // keys go in sorted order: pack pages full
			slices.Sort(keys)
			for _, k := range keys {
				if err := b.Put([]byte(k), value(k)); err != nil {
					return err
				}
			}
			return nil
		}
		ids := make([]string, 0, len(advs))
		for _, a := range advs {
			ids = append(ids, a.ID)
		}
		if err := put(bucketAdvisory, ids, func(id string) []byte { return byID[id] }); err != nil {
			return err
		}
		keys := make([]string, 0, len(index))
		for k, es := range index {
			slices.SortStableFunc(es, func(a, b Entry) int { return cmp.Compare(a.Advisory, b.Advisory) })
			keys = append(keys, k)
		}
		if err := put(bucketPackage, keys, func(k string) []byte { return encodeEntries(index[k]) }); err != nil {
			return err
		}
		sums := make(map[string][]byte, len(advs))
		for _, a := range advs {
			b, err := json.Marshal(summaryOf(a))
			if err != nil {
				return err
			}
			sums[a.ID] = b
		}
		if err := put(bucketSummary, slices.Clone(ids), func(id string) []byte { return sums[id] }); err != nil {
			return err
		}
		akeys := make([]string, 0, len(aliases))
		for k := range aliases {
			akeys = append(akeys, k)
		}
		if err := put(bucketAlias, akeys, func(k string) []byte { return []byte(aliases[k]) }); err != nil {
			return err
		}
		mb, err := json.Marshal(meta)
		if err != nil {
			return err
		}
		return put(bucketMeta, []string{string(keyMeta)}, func(string) []byte { return mb })
	})
	if err == nil {
		err = db.Sync()
	}
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpName, path)
	}
	if err != nil {
		return Meta{}, fmt.Errorf("build snapshot: %w", err)
	}
	return meta, nil
}
