package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/pgstore"
	"github.com/stellaops/stellaops/internal/authority/storetest"
	"github.com/stellaops/stellaops/internal/testenv"
)

// schemaDSN is a schema of this test's own, on every pooled connection's search_path.
func schemaDSN(tb testing.TB) string {
	tb.Helper()
	return testenv.PostgresSchemaDSN(tb, "authority_test")
}

func open(tb testing.TB, dsn string) *pgstore.Store {
	tb.Helper()
	s, err := pgstore.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) authority.Store { return open(t, schemaDSN(t)) })
}

// TestReplicas opens the schema twice, each with its own pool, as two Authority replicas would;
// the second opens concurrently with the first's migrations.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (authority.Store, authority.Store) {
		dsn := schemaDSN(t)
		stores := make(chan *pgstore.Store, 2)
		errs := make(chan error, 2)
		for range 2 {
			go func() {
				s, err := pgstore.Open(context.Background(), dsn)
				if err != nil {
					errs <- err
					return
				}
				stores <- s
			}()
		}
		var got []*pgstore.Store
		for range 2 {
			select {
			case s := <-stores:
				got = append(got, s)
			case err := <-errs:
				for _, s := range got {
					s.Close()
				}
				t.Fatal(err)
			}
		}
		return got[0], got[1]
	})
}

// TestNewSharesPool: a store made by New leaves the caller's pool open when it closes.
func TestNewSharesPool(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, schemaDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s, err := pgstore.New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(ctx, authority.Revocation{JTI: "jti-1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM authority_revocations`).Scan(&n); err != nil || n != 1 {
		t.Errorf("pool after Close: %d rows, %v", n, err)
	}
	s2, err := pgstore.New(ctx, pool) // migrations already applied: nothing to do
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s2.IsRevoked(ctx, "jti-1"); err != nil || !ok {
		t.Errorf("IsRevoked through a second store = %v, %v", ok, err)
	}
}

// TestSchemaInvariants: the schema itself refuses a second active key and changes to the audit
// trail, and sorts keys in byte order whatever the database's collation.
func TestSchemaInvariants(t *testing.T) {
	ctx := context.Background()
	dsn := schemaDSN(t)
	s := open(t, dsn)
	defer s.Close()
	if _, err := s.RotateKey(ctx, authority.KeyRecord{KID: "k1", Status: authority.KeyActive, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, authority.AuditEvent{Time: time.Now(), Type: "t", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for stmt, want := range map[string]string{
		`INSERT INTO authority_keys (kid, algorithm, public_jwk, source, provider, location, status, created_at)
			VALUES ('k2', 'EdDSA', '', 'file', '', '', 'active', now())`: "authority_keys_one_active",
		`UPDATE authority_keys SET retired_at = now()`: "check constraint",
		`UPDATE authority_audit SET detail = 'x'`:      "append-only",
		`DELETE FROM authority_audit`:                  "append-only",
		`TRUNCATE authority_audit`:                     "append-only",
	} {
		if _, err := conn.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal mentioning %q", stmt, err, want)
		}
	}
	rows, err := conn.Query(ctx, `SELECT table_name || '.' || column_name, coalesce(collation_name, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND column_name IN ('id', 'username', 'jti', 'kid')`)
	if err != nil {
		t.Fatal(err)
	}
	collations, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Column, Collation string }])
	if err != nil {
		t.Fatal(err)
	}
	if len(collations) != 4 {
		t.Errorf("sort key columns: %v, want 4", collations)
	}
	for _, c := range collations {
		if c.Collation != "C" {
			t.Errorf("%s has collation %q, want C (byte order)", c.Column, c.Collation)
		}
	}
}

// TestIsRevokedPlan: IsRevoked is an index probe. With sequential scans disabled the planner
// must still find an index; on a handful of rows it would otherwise prefer a scan anyway.
func TestIsRevokedPlan(t *testing.T) {
	ctx := context.Background()
	dsn := schemaDSN(t)
	open(t, dsn).Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `EXPLAIN SELECT EXISTS (SELECT 1 FROM authority_revocations WHERE jti = 'x')`)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "Index Only Scan using authority_revocations_pkey") || strings.Contains(text, "Seq Scan") {
		t.Errorf("IsRevoked plan:\n%s", text)
	}
}
