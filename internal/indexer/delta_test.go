package indexer_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/layercache"
)

// TestDeltaComposeMatchesFullIndex: a server that has analysed the base image, given a delta
// with the results of the two upper layers only, stacks the same inventory as indexing the
// whole image, and says which layers came from where.
func TestDeltaComposeMatchesFullIndex(t *testing.T) {
	ctx := context.Background()
	file, diffs := stackedImage(t)
	full, err := newIndexer(t, nil, image.Limits{}).IndexImage(ctx, openImage(t, file, image.Options{}))
	if err != nil {
		t.Fatal(err)
	}

	// The server's cache knows the base layer from an earlier scan of the base image.
	cache, err := layercache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server := newIndexer(t, cache, image.Limits{})
	base, _ := alpineBase(t)
	baseFile := filepath.Join(t.TempDir(), "base.tar")
	tag, _ := name.NewTag("base:1")
	if err := tarball.WriteToFile(baseFile, tag, base); err != nil {
		t.Fatal(err)
	}
	if _, err := server.IndexImage(ctx, openImage(t, baseFile, image.Options{})); err != nil {
		t.Fatal(err)
	}

	// The client analyses only what the server lacks.
	client := newIndexer(t, nil, image.Limits{})
	img := openImage(t, file, image.Options{})
	missing := map[string]bool{diffs[1]: true, diffs[2]: true}
	supplied, err := client.AnalyzeLayers(ctx, img, func(d string) bool { return missing[d] })
	if err != nil {
		t.Fatal(err)
	}
	if len(supplied) != 2 || supplied[0].DiffID != diffs[1] || supplied[1].DiffID != diffs[2] {
		t.Fatalf("supplied %d results", len(supplied))
	}
	b, err := json.Marshal(client.Delta(img, supplied))
	if err != nil {
		t.Fatal(err)
	}
	var d indexer.Delta
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	got, err := server.Compose(ctx, &d)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(full.Inventory, got.Inventory); diff != "" {
		t.Errorf("composed inventory differs (-full +delta):\n%s", diff)
	}
	if diff := cmp.Diff(full.Presence, got.Presence); diff != "" {
		t.Errorf("presence differs:\n%s", diff)
	}
	want := []struct{ cached, supplied bool }{{true, false}, {false, true}, {false, true}}
	for i, st := range got.Layers {
		if st.Cached != want[i].cached || st.Supplied != want[i].supplied || st.DiffID != diffs[i] {
			t.Errorf("layer %d status %+v", i, st)
		}
	}
	// Supplied results are not cached: a delta naming only the layers gets the upper two
	// reported missing.
	d.Supplied = nil
	var me *indexer.MissingLayersError
	if _, err := server.Compose(ctx, &d); !errors.As(err, &me) || !cmp.Equal(me.DiffIDs, diffs[1:]) {
		t.Fatalf("without the supplied layers: %v", err)
	}
}

func TestDeltaRefused(t *testing.T) {
	ctx := context.Background()
	file, diffs := stackedImage(t)
	x := newIndexer(t, nil, image.Limits{})
	img := openImage(t, file, image.Options{})
	supplied, err := x.AnalyzeLayers(ctx, img, func(d string) bool { return d == diffs[2] })
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(d *indexer.Delta){
		"schema":        func(d *indexer.Delta) { d.SchemaVersion = "v0" },
		"fingerprint":   func(d *indexer.Delta) { d.Fingerprint = "other" },
		"no layers":     func(d *indexer.Delta) { d.Layers = nil },
		"bad diff id":   func(d *indexer.Delta) { d.Layers[0].DiffID = "sha256:ABC" },
		"foreign layer": func(d *indexer.Delta) { d.Supplied[0].DiffID = "sha256:" + strings.Repeat("0", 64) },
		"twice":         func(d *indexer.Delta) { d.Supplied = append(d.Supplied, d.Supplied[0]) },
		"null":          func(d *indexer.Delta) { d.Supplied = append(d.Supplied, nil) },
		"result format": func(d *indexer.Delta) { d.Supplied[0].Format = 1 },
	} {
		d := x.Delta(img, supplied)
		cp := *d.Supplied[0]
		d.Supplied = []*indexer.LayerResult{&cp}
		d.Layers = append(d.Layers[:0:0], d.Layers...)
		edit(d)
		if _, err := x.Compose(ctx, d); !errors.Is(err, indexer.ErrDeltaInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
