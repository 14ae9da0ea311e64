package trivydb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	bolt "go.etcd.io/bbolt"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/bundled"
)

var testOpts = Options{UpdatedAt: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}

// loadBundled reads the bundled OSV feeds once per test binary (they take a second to parse);
// Export never modifies its input, which the determinism test relies on as well.
var loadBundled = sync.OnceValues(func() ([]*advisory.Advisory, error) {
	var all []*advisory.Advisory
	for _, src := range bundled.OSVSources {
		res, err := advisory.LoadOSVFS(context.Background(), src.Name, bundled.OSV(), src.Path)
		if err != nil {
			return nil, err
		}
		all = append(all, res.Advisories...)
	}
	return advisory.Dedupe(all), nil
})

func bundledAdvisories(tb testing.TB) []*advisory.Advisory {
	tb.Helper()
	advs, err := loadBundled()
	if err != nil {
		tb.Fatal(err)
	}
	return advs
}

// exportBundled exports the bundled data once per test binary into a shared directory.
var exportBundled = sync.OnceValues(func() (exported, error) {
	advs, err := loadBundled()
	if err != nil {
		return exported{}, err
	}
	dir, err := os.MkdirTemp("", "trivydb-test-")
	if err != nil {
		return exported{}, err
	}
	res, err := Export(context.Background(), advs, dir, testOpts)
	return exported{dir, res}, err
})

type exported struct {
	dir string
	res Result
}

func bundledExport(t *testing.T) exported {
	t.Helper()
	e, err := exportBundled()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestExportBundledSummary(t *testing.T) {
	e := bundledExport(t)
	b, _ := json.MarshalIndent(e.res, "", "  ")
	t.Logf("%s", b)
}

// readAdvisory reads one entry back from trivy.db the way Trivy does: top bucket, package
// bucket, vulnerability key.
func readEntry(t *testing.T, path, bucket, pkg, id string) (dbtypes.Advisory, bool) {
	t.Helper()
	db, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var adv dbtypes.Advisory
	var found bool
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		if b = b.Bucket([]byte(pkg)); b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &adv)
	})
	if err != nil {
		t.Fatal(err)
	}
	return adv, found
}

var _ = bytes.Equal
var _ = filepath.Join
var _ = layout.FromPath
