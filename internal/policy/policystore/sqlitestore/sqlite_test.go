package sqlitestore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
	"github.com/stellaops/stellaops/internal/policy/policystore/sqlitestore"
	"github.com/stellaops/stellaops/internal/policy/policystore/storetest"
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
	storetest.Run(t, func(t *testing.T) policystore.Store {
		return open(t, filepath.Join(t.TempDir(), "policy.db"))
	})
}

// TestReplicas opens the file twice, as two processes on one host would.
func TestReplicas(t *testing.T) {
	storetest.Replicas(t, func(t *testing.T) (policystore.Store, policystore.Store) {
		path := filepath.Join(t.TempDir(), "policy.db")
		return open(t, path), open(t, path)
	})
}

var digest = strings.Repeat("ab", 32)

// TestReopen: revisions survive closing and reopening, and migrations are not applied twice.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.db")
	s := open(t, path)
	in := policystore.NewRevision{Digest: digest, Format: policy.FormatYAML, Content: "version: \"1.0\"\nrules: []\n", Actor: "a", CreatedAt: time.Now()}
	if _, created, err := s.Append(ctx, in); err != nil || !created {
		t.Fatalf("Append = %v, %v", created, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	r, err := s.Get(ctx, 1)
	if err != nil || r.Content != in.Content {
		t.Errorf("Get after reopening = %+v, %v", r, err)
	}
	if _, created, err := s.Append(ctx, in); err != nil || created {
		t.Errorf("Append of the same digest after reopening: created %v, %v", created, err)
	}
}

// TestAppendOnly: the schema itself refuses changes to the history, whatever code writes the
// file, and refuses rows the store would not write.
func TestAppendOnly(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.db")
	s := open(t, path)
	if _, _, err := s.Append(ctx, policystore.NewRevision{Digest: digest, Format: policy.FormatRego, Content: "package stella.policy\n", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for stmt, want := range map[string]string{
		`UPDATE policy_revisions SET content = 'x'`: "append-only",
		`DELETE FROM policy_revisions`:              "append-only",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (2, '` + strings.Repeat("AB", 32) + `', 'yaml', '', '', 0, '')`: "CHECK constraint",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (2, '` + digest + `', 'json', '', '', 0, '')`: "CHECK constraint",
		`INSERT INTO policy_revisions (seq, digest, format, actor, description, created_at, content)
			VALUES (1, '` + digest + `', 'yaml', '', '', 0, '')`: "UNIQUE constraint",
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a refusal mentioning %q", stmt, err, want)
		}
	}
}
