package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/concelier/store/pgstore"
	"github.com/stellaops/stellaops/internal/concelier/store/storetest"
)

const dsnEnv = "STELLAOPS_TEST_POSTGRES_DSN"

// schemaDSN creates a schema of its own for one test, dropped when the test ends, and returns
// the DSN that puts it on every pooled connection's search_path.
func schemaDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: the PostgreSQL suite must run in CI", dsnEnv)
		}
		tb.Skipf("%s not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", dsnEnv)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var b [8]byte
	rand.Read(b[:])
	schema := "concelier_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Error(err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(tb testing.TB, dsn string, opts store.Options) store.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Opener {
		dsn := schemaDSN(t)
		return func(t *testing.T, opts store.Options) store.Store { return open(t, dsn, opts) }
	})
}

func BenchmarkUpsert14k(b *testing.B) {
	storetest.BenchmarkUpsert(b, func(b *testing.B) store.Store { return open(b, schemaDSN(b), store.Options{}) })
}

func BenchmarkReplaceMerged14k(b *testing.B) {
	storetest.BenchmarkReplaceMerged(b, func(b *testing.B) store.Store { return open(b, schemaDSN(b), store.Options{}) })
}
