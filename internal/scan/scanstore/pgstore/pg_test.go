package pgstore_test

import (
	"context"
	"testing"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/pgstore"
	"github.com/stellaops/stellaops/internal/scan/scanstore/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

func open(t *testing.T, dsn string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) scanstore.Store { return open(t, testenv.PostgresSchemaDSN(t, "scanstore_test")) })
}

// TestReplicas opens one schema with two pools, the second concurrently with the first's
// migrations, as two replicas starting together do.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (scanstore.Store, scanstore.Store) {
		dsn := testenv.PostgresSchemaDSN(t, "scanstore_test")
		type res struct {
			s   *pgstore.Store
			err error
		}
		ch := make(chan res, 2)
		for range 2 {
			go func() {
				s, err := pgstore.Open(context.Background(), dsn)
				ch <- res{s, err}
			}()
		}
		var got []scanstore.Store
		for range 2 {
			r := <-ch
			if r.err != nil {
				t.Fatal(r.err)
			}
			got = append(got, r.s)
		}
		return got[0], got[1]
	})
}
