package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/report/reportstore"
	"github.com/stellaops/stellaops/internal/report/reportstore/pgstore"
	"github.com/stellaops/stellaops/internal/report/reportstore/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) reportstore.Store {
		s, err := pgstore.Open(context.Background(), testenv.PostgresSchemaDSN(t, "reportstore_test"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTwoHandles opens one schema twice, concurrently, as two replicas starting together
// would: the migrations run once, and each handle sees the other's writes.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.PostgresSchemaDSN(t, "reportstore_test")
	stores := make(chan *pgstore.Store, 2)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := pgstore.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			stores <- s
		}()
	}
	var ss []*pgstore.Store
	for range 2 {
		select {
		case err := <-errs:
			t.Fatal(err)
		case s := <-stores:
			ss = append(ss, s)
			defer s.Close()
		}
	}
	a := reportstore.Attestation{ID: "1111111111111111111111111111111111111111111111111111111111111111",
		PredicateType: "https://slsa.dev/provenance/v1", Subjects: []string{"sha256:abcd"}, StatementDigest: "sha256:00",
		KeyID: "k", Envelope: []byte("{}"), CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, created, err := ss[0].PutAttestation(ctx, a); err != nil || !created {
		t.Fatalf("put: %v %v", created, err)
	}
	if got, err := ss[1].LatestAttestation(ctx, "sha256:ABCD"); err != nil || got.ID != a.ID {
		t.Fatalf("other handle: %+v %v", got, err)
	}
}
