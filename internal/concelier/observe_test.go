package concelier_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/concelier"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// TestObserveCounts runs the chain on the real crates.io feed through an observed store and
// checks the progress counts against the jobs' own records.
func TestObserveCounts(t *testing.T) {
	ctx := context.Background()
	data, mirror := t.TempDir(), t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "bundled", "osv", "crates.io", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(mirror, "crates.io"), 0o755)
	if err := os.WriteFile(filepath.Join(mirror, "crates.io", "all.zip"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := concelier.OpenStore(ctx, data, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	got := map[string]int{}
	svc := &concelier.Service{Store: concelier.Observe(st, func(what string, n int) {
		mu.Lock()
		got[what] += n
		mu.Unlock()
	}), DataDir: data, Now: time.Now, Runner: jobs.New(st, "test")}

	counts := map[string]map[string]any{}
	for _, job := range []string{"source:osv:fetch", "source:osv:parse", "source:osv:map", "merge:reconcile", "export:json"} {
		j, err := svc.Run(ctx, job, concelier.Options{Mirror: mirror})
		if err != nil {
			t.Fatalf("%s: %v", job, err)
		}
		var c map[string]any
		json.Unmarshal(j.Counts, &c)
		counts[job] = c
	}
	n := int(counts["merge:reconcile"]["inputs"].(float64))
	adv := int(counts["merge:reconcile"]["advisories"].(float64))
	if n < 1000 {
		t.Fatalf("merge inputs %d", n)
	}
	want := map[string]int{
		"documents stored": n, "documents checked": 2 * n, // parsed, then mapped
		"records mapped": n, "records read": n, "advisories written": adv, "advisories read": adv,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
