package storetest

import (
	"context"
	"encoding/json"
	"io/fs"
	"slices"
	"testing"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Bundled is one bundled OSV feed as a fetched document and its advisories.
type Bundled struct {
	Source     string
	Document   store.Document // the all.zip, as a connector would store it
	Advisories []*advisory.Advisory
}

// LoadBundled reads every bundled OSV feed (13,970 records).
func LoadBundled(tb testing.TB) []Bundled {
	tb.Helper()
	var out []Bundled
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			tb.Fatal(err)
		}
		if len(res.Advisories) == 0 {
			tb.Fatalf("%s: no advisories", src.Name)
		}
		zip, err := bundledFile(src.Path)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, Bundled{
			Source: src.Name,
			Document: store.Document{Source: src.Name, URI: "https://osv-vulnerabilities.storage.googleapis.com/" + src.Path,
				ContentType: "application/zip", Content: zip},
			Advisories: res.Advisories,
		})
	}
	return out
}

// MappedRecords encodes every advisory of feeds as mapped records of their all.zip document.
func MappedRecords(tb testing.TB, feeds []Bundled) []store.MappedRecord {
	tb.Helper()
	var out []store.MappedRecord
	for _, f := range feeds {
		enc, err := store.EncodeAll(context.Background(), f.Advisories)
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range enc {
			out = append(out, store.MappedRecord{Source: f.Source, DocumentURI: f.Document.URI, Encoded: e})
		}
	}
	return out
}

// fixtures are the suite's real data, loaded once per Run.
type fixtures struct {
	feeds []Bundled
	small []store.Encoded // a few hundred distinct records, encoded
	bulk  []store.MappedRecord
}

func loadFixtures(t *testing.T) *fixtures {
	fx := &fixtures{feeds: LoadBundled(t)}
	// crates.io and PSF-CPython: 1,338 records of very different sizes; 300 of them.
	var advs []*advisory.Advisory
	for _, f := range fx.feeds {
		if f.Source == "osv:crates.io" || f.Source == "osv:PSF-CPython" {
			advs = append(advs, f.Advisories...)
		}
	}
	enc, err := store.EncodeAll(context.Background(), advs)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < len(enc) && len(fx.small) < 300; i += 4 {
		if !seen[enc[i].ID] {
			seen[enc[i].ID] = true
			fx.small = append(fx.small, enc[i])
		}
	}
	if len(fx.small) < 300 {
		t.Fatalf("only %d distinct fixture records", len(fx.small))
	}
	return fx
}

// bulkRecords encodes all bundled feeds on first use (the costly part: about 14k canonical
// encodings).
func (fx *fixtures) bulkRecords(t *testing.T) []store.MappedRecord {
	if fx.bulk == nil {
		fx.bulk = MappedRecords(t, fx.feeds)
	}
	return fx.bulk
}

// sortedIDs returns the distinct IDs of recs, sorted.
func sortedIDs(recs []store.Encoded) []string {
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func bundledFile(p string) ([]byte, error) { return fs.ReadFile(bundled.OSV(), p) }

func slicesSort(s []string)          { slices.Sort(s) }
func slicesIsSorted(s []string) bool { return slices.IsSorted(s) }
