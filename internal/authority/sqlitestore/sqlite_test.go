package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/sqlitestore"
	"github.com/stellaops/stellaops/internal/authority/storetest"
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
	storetest.Run(t, func(t *testing.T) authority.Store {
		return open(t, filepath.Join(t.TempDir(), "authority.db"))
	})
}

// TestReplicas opens the file twice, as two Authority processes on one host would.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (authority.Store, authority.Store) {
		path := filepath.Join(t.TempDir(), "authority.db")
		return open(t, path), open(t, path)
	})
}

// TestReopen: what was written is there after the store is closed and opened again, and the
// migrations are not applied twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authority.db")
	s := open(t, path)
	if created, err := s.Revoke(ctx, authority.Revocation{JTI: "jti-1", ExpiresAt: time.Now().Add(time.Hour)}); err != nil || !created {
		t.Fatalf("Revoke = %v, %v", created, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	if ok, err := s.IsRevoked(ctx, "jti-1"); err != nil || !ok {
		t.Errorf("IsRevoked after reopening = %v, %v", ok, err)
	}
}

// TestSchemaInvariants: the schema itself refuses a second active key and changes to the audit
// trail, whatever code writes the file.
func TestSchemaInvariants(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "authority.db")
	s := open(t, path)
	defer s.Close()
	if _, err := s.RotateKey(ctx, authority.KeyRecord{KID: "k1", Status: authority.KeyActive, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, authority.AuditEvent{Time: time.Now(), Type: "t", Outcome: "success"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for stmt, want := range map[string]string{
		`INSERT INTO authority_keys (kid, algorithm, public_jwk, source, provider, location, status, created_at)
			VALUES ('k2', 'EdDSA', x'', 'file', '', '', 'active', 0)`: "UNIQUE",
		`UPDATE authority_keys SET retired_at = 5`: "CHECK",
		`UPDATE authority_audit SET detail = 'x'`:  "append-only",
		`DELETE FROM authority_audit`:              "append-only",
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal mentioning %q", stmt, err, want)
		}
	}
}
