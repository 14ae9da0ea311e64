package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/authority"
)

// Replicas runs the checks that need two handles on one database, as two replicas of the
// Authority would hold: each sees the other's writes at once, and the concurrency checks hold
// across them. fresh is called once per test and returns two stores opened on the same new,
// empty location (a temporary file, a new PostgreSQL schema); the suite closes both.
func Replicas(t *testing.T, fresh func(t *testing.T) (a, b authority.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b authority.Store)
	}{
		{"SeeEachOthersWrites", testReplicaWrites},
		{"ConcurrentRotateKey", func(t *testing.T, a, b authority.Store) { concurrentRotate(t, []authority.Store{a, b}) }},
		{"ConcurrentRotateSameKID", func(t *testing.T, a, b authority.Store) { concurrentRotateSameKID(t, []authority.Store{a, b}) }},
		{"ConcurrentRevoke", func(t *testing.T, a, b authority.Store) { concurrentRevoke(t, []authority.Store{a, b}) }},
		{"ConcurrentAudit", func(t *testing.T, a, b authority.Store) { concurrentAudit(t, []authority.Store{a, b}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := fresh(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, a, b)
		})
	}
}

func testReplicaWrites(t *testing.T, a, b authority.Store) {
	c := ctx(t)

	cl := authority.Client{ID: "svc-a", SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", Scopes: []string{"jobs.read"},
		Grants: []string{"client_credentials"}, CreatedAt: base}
	if err := a.PutClient(c, cl); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Client(c, "svc-a"); err != nil || !cmp.Equal(cl, got, equate) {
		t.Errorf("b.Client after a.PutClient = %+v, %v", got, err)
	}
	cl.Disabled = true
	if err := b.PutClient(c, cl); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Clients(c); err != nil || !cmp.Equal([]authority.Client{cl}, got, equate) {
		t.Errorf("a.Clients after b replaced svc-a = %+v, %v", got, err)
	}
	if err := a.DeleteClient(c, "svc-a"); err != nil {
		t.Fatalf("a.DeleteClient: %v", err)
	}
	_, err := b.Client(c, "svc-a")
	wantNotFound(t, "b.Client after a.DeleteClient", err)
	wantNotFound(t, "b.DeleteClient after a.DeleteClient", b.DeleteClient(c, "svc-a"))

	u := authority.User{Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$YQ$YQ", Roles: []string{"admin"}, CreatedAt: base}
	if err := a.PutUser(c, u); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Users(c); err != nil || !cmp.Equal([]authority.User{u}, got, equate) {
		t.Errorf("b.Users after a.PutUser = %+v, %v", got, err)
	}
	if err := b.DeleteUser(c, "alice"); err != nil {
		t.Fatalf("b.DeleteUser: %v", err)
	}
	_, err = a.User(c, "alice")
	wantNotFound(t, "a.User after b.DeleteUser", err)
	wantNotFound(t, "a.DeleteUser after b.DeleteUser", a.DeleteUser(c, "alice"))

	r := authority.Revocation{JTI: "jti-1", Subject: "alice", Reason: "offboarded", RevokedAt: base, ExpiresAt: base.Add(time.Hour)}
	if created, err := a.Revoke(c, r); err != nil || !created {
		t.Fatalf("a.Revoke = %v, %v", created, err)
	}
	if ok, err := b.IsRevoked(c, "jti-1"); err != nil || !ok {
		t.Errorf("b.IsRevoked after a.Revoke = %v, %v", ok, err)
	}
	again := r
	again.Reason = "again"
	if created, err := b.Revoke(c, again); err != nil || created {
		t.Errorf("b.Revoke of a's jti = %v, %v; want false", created, err)
	}
	if got, err := b.Revocations(c, base); err != nil || !cmp.Equal([]authority.Revocation{r}, got, equate) {
		t.Errorf("b.Revocations = %+v, %v", got, err)
	}

	k1, k2 := key("k1", base), key("k2", base.Add(time.Hour))
	rotate(t, a, k1, "")
	rotate(t, b, k2, "k1")
	if diff := cmp.Diff([]authority.KeyRecord{retired(k1, k2.CreatedAt), k2}, keys(t, a), equate); diff != "" {
		t.Errorf("a.Keys after b rotated (-want +got):\n%s", diff)
	}
	if _, err := a.RotateKey(c, key("k2", base.Add(2*time.Hour))); !errors.Is(err, authority.ErrConflict) {
		t.Errorf("a.RotateKey reusing b's KID: %v, want ErrConflict", err)
	}

	e1 := authority.AuditEvent{Time: base, Type: "authority.token.grant", Outcome: "success", Detail: "from a"}
	e2 := authority.AuditEvent{Time: base, Type: "authority.token.grant", Outcome: "success", Detail: "from b"}
	var err1, err2 error
	e1.Seq, err1 = a.AppendAudit(c, e1)
	e2.Seq, err2 = b.AppendAudit(c, e2)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if e1.Seq != 1 || e2.Seq <= e1.Seq {
		t.Errorf("seqs %d (a), %d (b); want 1, then greater", e1.Seq, e2.Seq)
	}
	if got, err := a.Audit(c, 0, 10); err != nil || !cmp.Equal([]authority.AuditEvent{e1, e2}, got, equate) {
		t.Errorf("a.Audit = %+v, %v", got, err)
	}
	if got, err := b.Audit(c, e1.Seq, 10); err != nil || !cmp.Equal([]authority.AuditEvent{e2}, got, equate) {
		t.Errorf("b.Audit after a's event = %+v, %v", got, err)
	}
}
