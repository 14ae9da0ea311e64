package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/report/reportstore"
	"github.com/stellaops/stellaops/internal/report/reportstore/sqlitestore"
	"github.com/stellaops/stellaops/internal/report/reportstore/storetest"
)

func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) reportstore.Store {
		return open(t, filepath.Join(t.TempDir(), "reports.db"))
	})
}

// TestReopen: what was written is there after the store is closed and opened again (the
// migrations are not applied twice), and a second handle on the file sees the first's writes.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "reports.db")
	s := open(t, path)
	r := reportstore.Report{ReportID: "report-0123456789abcdef0123", ImageDigest: "sha256:deadbeef", Verdict: "blocked",
		PolicyDigest: "27d2ec2b", KeyID: "k", Envelope: []byte("{}"), LogID: "0000000000000000000000000000000000000000000000000000000000000000",
		AssembledAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := s.PutReport(ctx, r); err != nil {
		t.Fatal(err)
	}
	other := open(t, path)
	defer other.Close()
	if got, err := other.LatestReport(ctx, "sha256:deadbeef"); err != nil || got.ReportID != r.ReportID {
		t.Fatalf("second handle: %+v %v", got, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	if got, err := s.Report(ctx, r.ReportID); err != nil || got.Verdict != "blocked" {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
}
