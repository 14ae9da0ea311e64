package layercache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/indexer"
)

const diff = "sha256:531743b7098cb2aaf615641007a129173f63ed86ca32fe7b5a246a1c47286028"

func TestPutGet(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := "0123456789abcdef/" + diff
	if _, err := d.Get(ctx, key); !errors.Is(err, indexer.ErrCacheMiss) {
		t.Fatalf("empty cache: err = %v, want ErrCacheMiss", err)
	}
	if err := d.Put(ctx, key, []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, key, []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Get(ctx, key); err != nil || string(got) != "v2" || !d.Has(ctx, key) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	// No temporary files left beside the entry.
	files, _ := filepath.Glob(filepath.Join(d.root, "0123456789abcdef", "*"))
	if len(files) != 1 || strings.Contains(files[0], ".tmp-") {
		t.Errorf("files = %v", files)
	}
}

func TestKeysCannotEscape(t *testing.T) {
	d, _ := Open(t.TempDir())
	for _, key := range []string{"../../etc/passwd", "abcdef01/../" + diff, "abcdef01/sha256:zz", "/abs/" + diff, ""} {
		if err := d.Put(context.Background(), key, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", key)
		}
	}
}

func TestPrune(t *testing.T) {
	d, _ := Open(t.TempDir())
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	d.now = func() time.Time { return now }
	ctx := context.Background()
	put := func(n int, age time.Duration) string {
		key := "aaaaaaaa/sha256:" + strings.Repeat(string(rune('a'+n)), 64)
		if err := d.Put(ctx, key, make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		p, _ := d.path(key)
		os.Chtimes(p, now.Add(-age), now.Add(-age))
		return key
	}
	old := put(0, 50*24*time.Hour)
	mid := put(1, 2*time.Hour)
	recent := put(2, time.Minute)
	n, err := d.Prune(ctx, 45*24*time.Hour, 0)
	if err != nil || n != 1 || d.Has(ctx, old) {
		t.Fatalf("TTL prune removed %d (err %v); old still there: %v", n, err, d.Has(ctx, old))
	}
	// Over the byte budget: least recently used goes first; a Get refreshes an entry.
	if _, err := d.Get(ctx, mid); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.Prune(ctx, 0, 1500); n != 1 || d.Has(ctx, recent) || !d.Has(ctx, mid) {
		t.Errorf("size prune removed %d; recent %v mid %v (want recent evicted: mid was just used)", n, d.Has(ctx, recent), d.Has(ctx, mid))
	}
}
