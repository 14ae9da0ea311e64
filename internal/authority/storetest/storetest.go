// Package storetest is the conformance suite of the Authority's stores: every backend runs Run
// on fresh, empty stores and Replicas on two handles of one database, and must pass both
// unchanged.
//
// Fixtures use times truncated to microseconds, the precision the stores keep, and IDs whose
// byte order differs from a natural-language collation's, so a backend that sorts by locale
// fails.
package storetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/authority"
)

// Run runs the suite. open is called once per test and returns a new, empty store; the suite
// closes it when the test ends and fails the test if Close fails.
func Run(t *testing.T, open func(t *testing.T) authority.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s authority.Store)
	}{
		{"Clients", testClients},
		{"Users", testUsers},
		{"Revocations", testRevocations},
		{"RevokeKeepsFirst", testRevokeKeepsFirst},
		{"RotateKey", testRotateKey},
		{"RotateKeyConflict", testRotateKeyConflict},
		{"KeyOrder", testKeyOrder},
		{"Audit", testAudit},
		{"AuditPaging", testAuditPaging},
		{"TimesRoundTripInUTC", testTimes},
		{"CanceledContextWritesNothing", testCanceled},
		{"ConcurrentRotateKey", func(t *testing.T, s authority.Store) { concurrentRotate(t, []authority.Store{s}) }},
		{"ConcurrentRotateSameKID", func(t *testing.T, s authority.Store) { concurrentRotateSameKID(t, []authority.Store{s}) }},
		{"ConcurrentRevoke", func(t *testing.T, s authority.Store) { concurrentRevoke(t, []authority.Store{s}) }},
		{"ConcurrentAudit", func(t *testing.T, s authority.Store) { concurrentAudit(t, []authority.Store{s}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is the fixtures' clock: microsecond precision, with a non-zero microsecond part so a
// store that keeps only milliseconds or seconds fails.
var base = time.Date(2026, 5, 17, 9, 30, 15, 123456000, time.UTC)

// elsewhere is a zone east of UTC with a half-hour offset: a store that drops the offset, or
// reads back local time, moves the instant or the location.
var elsewhere = time.FixedZone("UTC+05:30", 5*3600+1800)

// equate compares fixtures: times by instant (cmp calls time.Time.Equal) and nil slices as
// equal to empty ones, which the interface does not tell apart.
var equate = cmpopts.EquateEmpty()

func ctx(t *testing.T) context.Context { return t.Context() }

// sorted returns a sorted copy of s, leaving s alone.
func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// wantUTC fails unless every time is in UTC. cmp compares instants only, so the location needs
// its own check.
func wantUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if tm.Location() != time.UTC {
			t.Errorf("%s: time %d is %v in %s, want UTC", what, i, tm, tm.Location())
		}
	}
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, authority.ErrNotFound) {
		t.Errorf("%s: %v, want ErrNotFound", what, err)
	}
}

func testClients(t *testing.T, s authority.Store) {
	c := ctx(t)
	if got, err := s.Clients(c); err != nil || len(got) != 0 {
		t.Fatalf("Clients of an empty store = %v, %v", got, err)
	}
	_, err := s.Client(c, "svc-a")
	wantNotFound(t, "Client of an empty store", err)
	wantNotFound(t, "DeleteClient of an empty store", s.DeleteClient(c, "svc-a"))

	// Put in neither byte order nor collation order; slices unsorted.
	clients := []authority.Client{
		{ID: "svc.d", DisplayName: "Pipeline D", Scopes: []string{"scanner.scan"}, Grants: []string{"client_credentials"},
			Tenant: "globex", CreatedAt: base.Add(3 * time.Second)},
		{ID: "Svc-B", SecretHash: "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", DisplayName: "Ünïcode B ✓",
			Scopes: []string{"vex.read", "advisory.read", "jobs.read"}, Grants: []string{"password", "client_credentials"},
			Tenant: "acme", MaxScansPerDay: 5000, CreatedAt: base.Add(time.Second)},
		{ID: "svc-a", SecretHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", DisplayName: "Scanner A",
			Scopes: []string{"scanner.scan", "jobs.read", "advisory.read"}, Grants: []string{"password", "client_credentials"},
			Tenant: "acme", MaxScansPerDay: 1000, CreatedAt: base},
		{ID: "svc_c", DisplayName: "Public CLI", Grants: []string{"password"}, Disabled: true, CreatedAt: base.Add(2 * time.Second)},
	}
	for _, cl := range clients {
		scopes := slices.Clone(cl.Scopes)
		if err := s.PutClient(c, cl); err != nil {
			t.Fatalf("PutClient %s: %v", cl.ID, err)
		}
		if !slices.Equal(cl.Scopes, scopes) {
			t.Errorf("PutClient %s reordered the caller's scopes to %v", cl.ID, cl.Scopes)
		}
	}
	want := map[string]authority.Client{}
	for _, cl := range clients {
		cl.Scopes, cl.Grants = sorted(cl.Scopes), sorted(cl.Grants)
		want[cl.ID] = cl
	}
	for id, w := range want {
		got, err := s.Client(c, id)
		if err != nil {
			t.Fatalf("Client %s: %v", id, err)
		}
		if diff := cmp.Diff(w, got, equate); diff != "" {
			t.Errorf("Client %s (-want +got):\n%s", id, diff)
		}
		wantUTC(t, "Client "+id, got.CreatedAt)
	}
	_, err = s.Client(c, "SVC-A")
	wantNotFound(t, "Client with another case", err)

	// Replace svc-a, clearing what can be cleared: nothing of the old record may survive.
	repl := authority.Client{ID: "svc-a", DisplayName: "Scanner A (rotated)", Scopes: []string{"jobs.read"}, Disabled: true,
		CreatedAt: base.Add(time.Hour)}
	if err := s.PutClient(c, repl); err != nil {
		t.Fatal(err)
	}
	want["svc-a"] = repl
	got, err := s.Clients(c)
	if err != nil {
		t.Fatal(err)
	}
	wantList := []authority.Client{want["Svc-B"], want["svc-a"], want["svc.d"], want["svc_c"]} // byte order
	if diff := cmp.Diff(wantList, got, equate); diff != "" {
		t.Errorf("Clients after replacing svc-a (-want +got):\n%s", diff)
	}

	if err := s.DeleteClient(c, "Svc-B"); err != nil {
		t.Fatalf("DeleteClient Svc-B: %v", err)
	}
	_, err = s.Client(c, "Svc-B")
	wantNotFound(t, "Client after DeleteClient", err)
	wantNotFound(t, "second DeleteClient", s.DeleteClient(c, "Svc-B"))
	wantNotFound(t, "DeleteClient with another case", s.DeleteClient(c, "SVC-A"))
	got, err = s.Clients(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]authority.Client{want["svc-a"], want["svc.d"], want["svc_c"]}, got, equate); diff != "" {
		t.Errorf("Clients after deleting Svc-B (-want +got):\n%s", diff)
	}
}

func testUsers(t *testing.T, s authority.Store) {
	c := ctx(t)
	if got, err := s.Users(c); err != nil || len(got) != 0 {
		t.Fatalf("Users of an empty store = %v, %v", got, err)
	}
	_, err := s.User(c, "alice")
	wantNotFound(t, "User of an empty store", err)
	wantNotFound(t, "DeleteUser of an empty store", s.DeleteUser(c, "alice"))

	users := []authority.User{
		{Username: "carol", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$Y2Fyb2w$Y2Fyb2xoYXNo", Roles: []string{"viewer"},
			Tenant: "globex", CreatedAt: base.Add(2 * time.Second)},
		{Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$YWxpY2U$YWxpY2VoYXNo", Roles: []string{"operator", "admin", "auditor"},
			Tenant: "acme", CreatedAt: base},
		{Username: "Bob", PasswordHash: "$2a$10$abcdefghijklmnopqrstuuKcQ9GmN6b7Hk3s3b9m8pJ0O5aQ1Ww2e", Disabled: true, CreatedAt: base.Add(time.Second)},
		{Username: "bob.smith", PasswordHash: "$2a$10$bbbbbbbbbbbbbbbbbbbbbbKcQ9GmN6b7Hk3s3b9m8pJ0O5aQ1Ww2e", Roles: []string{"viewer", "operator"},
			CreatedAt: base.Add(3 * time.Second)},
	}
	for _, u := range users {
		roles := slices.Clone(u.Roles)
		if err := s.PutUser(c, u); err != nil {
			t.Fatalf("PutUser %s: %v", u.Username, err)
		}
		if !slices.Equal(u.Roles, roles) {
			t.Errorf("PutUser %s reordered the caller's roles to %v", u.Username, u.Roles)
		}
	}
	want := map[string]authority.User{}
	for _, u := range users {
		u.Roles = sorted(u.Roles)
		want[u.Username] = u
	}
	for name, w := range want {
		got, err := s.User(c, name)
		if err != nil {
			t.Fatalf("User %s: %v", name, err)
		}
		if diff := cmp.Diff(w, got, equate); diff != "" {
			t.Errorf("User %s (-want +got):\n%s", name, diff)
		}
		wantUTC(t, "User "+name, got.CreatedAt)
	}

	repl := authority.User{Username: "alice", PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$bmV3$bmV3aGFzaA", Roles: []string{"viewer"},
		CreatedAt: base.Add(time.Hour)}
	if err := s.PutUser(c, repl); err != nil {
		t.Fatal(err)
	}
	want["alice"] = repl
	got, err := s.Users(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]authority.User{want["Bob"], want["alice"], want["bob.smith"], want["carol"]}, got, equate); diff != "" {
		t.Errorf("Users after replacing alice (-want +got):\n%s", diff)
	}

	if err := s.DeleteUser(c, "Bob"); err != nil {
		t.Fatalf("DeleteUser Bob: %v", err)
	}
	_, err = s.User(c, "Bob")
	wantNotFound(t, "User after DeleteUser", err)
	wantNotFound(t, "second DeleteUser", s.DeleteUser(c, "Bob"))
	wantNotFound(t, "DeleteUser of a stranger", s.DeleteUser(c, "mallory"))
	got, err = s.Users(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]authority.User{want["alice"], want["bob.smith"], want["carol"]}, got, equate); diff != "" {
		t.Errorf("Users after deleting Bob (-want +got):\n%s", diff)
	}
}

// revocationFixtures expire around base: just before, exactly at, just after and well after.
func revocationFixtures() []authority.Revocation {
	return []authority.Revocation{
		{JTI: "jti-m", Subject: "alice", ClientID: "svc-a", Reason: "offboarded", RevokedAt: base.Add(-time.Hour), ExpiresAt: base.Add(time.Hour)},
		{JTI: "jti-z", Subject: "bob", ClientID: "svc-a", Reason: "compromised", RevokedAt: base.Add(-2 * time.Hour), ExpiresAt: base.Add(-time.Microsecond)},
		{JTI: "jti-B", ClientID: "Svc-B", RevokedAt: base.Add(-time.Minute), ExpiresAt: base.Add(time.Microsecond)},
		{JTI: "jti-a", Subject: "carol", RevokedAt: base.Add(-time.Minute), ExpiresAt: base},
		{JTI: "jti-c", Subject: "svc_c", ClientID: "svc_c", Reason: "rotated", RevokedAt: base.Add(-time.Second), ExpiresAt: base.Add(365 * 24 * time.Hour)},
	}
}

func testRevocations(t *testing.T, s authority.Store) {
	c := ctx(t)
	if ok, err := s.IsRevoked(c, "jti-m"); err != nil || ok {
		t.Fatalf("IsRevoked on an empty store = %v, %v", ok, err)
	}
	if got, err := s.Revocations(c, time.Time{}); err != nil || len(got) != 0 {
		t.Fatalf("Revocations of an empty store = %v, %v", got, err)
	}
	rs := revocationFixtures()
	byJTI := map[string]authority.Revocation{}
	for _, r := range rs {
		created, err := s.Revoke(c, r)
		if err != nil || !created {
			t.Fatalf("Revoke %s = %v, %v; want created", r.JTI, created, err)
		}
		byJTI[r.JTI] = r
	}
	// Revoked is revoked, expired or not; a jti differing only in case is another token.
	for _, r := range rs {
		if ok, err := s.IsRevoked(c, r.JTI); err != nil || !ok {
			t.Errorf("IsRevoked %s = %v, %v; want true", r.JTI, ok, err)
		}
	}
	for _, jti := range []string{"jti-unknown", "JTI-M", "jti-b", ""} {
		if ok, err := s.IsRevoked(c, jti); err != nil || ok {
			t.Errorf("IsRevoked %q = %v, %v; want false", jti, ok, err)
		}
	}

	all := []authority.Revocation{byJTI["jti-B"], byJTI["jti-a"], byJTI["jti-c"], byJTI["jti-m"], byJTI["jti-z"]}
	live := []authority.Revocation{byJTI["jti-B"], byJTI["jti-c"], byJTI["jti-m"]} // ExpiresAt strictly after base
	for _, tc := range []struct {
		name string
		at   time.Time
		want []authority.Revocation
	}{
		{"zero time", time.Time{}, all},
		{"base", base, live},
		{"base in another zone", base.In(elsewhere), live},
		{"just before jti-z expires", base.Add(-2 * time.Microsecond), all},
		{"when jti-m expires", base.Add(time.Hour), []authority.Revocation{byJTI["jti-c"]}},
		{"after all expired", base.Add(400 * 24 * time.Hour), nil},
	} {
		got, err := s.Revocations(c, tc.at)
		if err != nil {
			t.Fatalf("Revocations at %s: %v", tc.name, err)
		}
		if diff := cmp.Diff(tc.want, got, equate); diff != "" {
			t.Errorf("Revocations at %s (-want +got):\n%s", tc.name, diff)
		}
		for _, r := range got {
			wantUTC(t, "revocation "+r.JTI, r.RevokedAt, r.ExpiresAt)
		}
	}
}

func testRevokeKeepsFirst(t *testing.T, s authority.Store) {
	c := ctx(t)
	first := authority.Revocation{JTI: "jti-1", Subject: "alice", ClientID: "svc-a", Reason: "compromised",
		RevokedAt: base, ExpiresAt: base.Add(time.Hour)}
	if created, err := s.Revoke(c, first); err != nil || !created {
		t.Fatalf("first Revoke = %v, %v", created, err)
	}
	// The second record would expire before base, so a store that overwrote would also drop it
	// from the listing.
	second := authority.Revocation{JTI: "jti-1", Subject: "mallory", ClientID: "svc-x", Reason: "again",
		RevokedAt: base.Add(time.Minute), ExpiresAt: base.Add(-time.Hour)}
	for i := range 2 {
		if created, err := s.Revoke(c, second); err != nil || created {
			t.Fatalf("repeated Revoke %d = %v, %v; want false, nil", i+1, created, err)
		}
	}
	got, err := s.Revocations(c, base)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]authority.Revocation{first}, got, equate); diff != "" {
		t.Errorf("after revoking twice (-want +got):\n%s", diff)
	}
	if ok, err := s.IsRevoked(c, "jti-1"); err != nil || !ok {
		t.Errorf("IsRevoked = %v, %v", ok, err)
	}
}

// jwk is a public key as a JWK, with the spacing, member order and escapes a JSON
// normaliser (a jsonb column) would change: PublicJWK must come back byte for byte.
func jwk(kid string) []byte {
	return []byte("{\"kty\":\"OKP\",  \"crv\":\"Ed25519\",\n \"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\", \"kid\":\"" +
		kid + "\", \"use\":\"sig\", \"note\":\"caf\\u00e9 é\"}")
}

func key(kid string, created time.Time) authority.KeyRecord {
	return authority.KeyRecord{KID: kid, Algorithm: "EdDSA", PublicJWK: jwk(kid), Source: "file", Provider: "default",
		Location: "/etc/stellaops/keys/" + kid + ".pem", Status: authority.KeyActive, CreatedAt: created}
}

func rotate(t *testing.T, s authority.Store, next authority.KeyRecord, wantPrev string) {
	t.Helper()
	prev, err := s.RotateKey(ctx(t), next)
	if err != nil || prev != wantPrev {
		t.Fatalf("RotateKey %s = %q, %v; want %q, nil", next.KID, prev, err, wantPrev)
	}
}

// keys reads the keys and checks the invariant every sequence of rotations keeps: exactly one
// active key, without RetiredAt; every other key retired, with RetiredAt.
func keys(t *testing.T, s authority.Store) []authority.KeyRecord {
	t.Helper()
	ks, err := s.Keys(ctx(t))
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	active := 0
	for _, k := range ks {
		switch k.Status {
		case authority.KeyActive:
			active++
			if !k.RetiredAt.IsZero() {
				t.Errorf("active key %s has RetiredAt %v", k.KID, k.RetiredAt)
			}
		case authority.KeyRetired:
			if k.RetiredAt.IsZero() {
				t.Errorf("retired key %s has no RetiredAt", k.KID)
			}
		default:
			t.Errorf("key %s has status %q", k.KID, k.Status)
		}
		wantUTC(t, "key "+k.KID, k.CreatedAt, k.RetiredAt)
	}
	if len(ks) > 0 && active != 1 {
		t.Errorf("%d active keys among %d, want exactly 1", active, len(ks))
	}
	return ks
}

func retired(k authority.KeyRecord, at time.Time) authority.KeyRecord {
	k.Status, k.RetiredAt = authority.KeyRetired, at
	return k
}

func testRotateKey(t *testing.T, s authority.Store) {
	if ks := keys(t, s); len(ks) != 0 {
		t.Fatalf("Keys of an empty store: %v", ks)
	}
	k1, k2, k3 := key("k1", base), key("k2", base.Add(time.Hour)), key("k3", base.Add(2*time.Hour))
	k2.Algorithm, k2.Source, k2.Provider, k2.Location = "ES256", "kms", "aws", "arn:aws:kms:eu-west-1:111122223333:key/k2"

	rotate(t, s, k1, "")
	if diff := cmp.Diff([]authority.KeyRecord{k1}, keys(t, s), equate); diff != "" {
		t.Fatalf("after the first rotation (-want +got):\n%s", diff)
	}
	rotate(t, s, k2, "k1")
	if diff := cmp.Diff([]authority.KeyRecord{retired(k1, k2.CreatedAt), k2}, keys(t, s), equate); diff != "" {
		t.Fatalf("after the second rotation (-want +got):\n%s", diff)
	}
	rotate(t, s, k3, "k2")
	want := []authority.KeyRecord{retired(k1, k2.CreatedAt), retired(k2, k3.CreatedAt), k3}
	got := keys(t, s)
	if diff := cmp.Diff(want, got, equate); diff != "" {
		t.Fatalf("after the third rotation (-want +got):\n%s", diff)
	}
	for i := range got {
		if string(got[i].PublicJWK) != string(want[i].PublicJWK) {
			t.Errorf("key %s: PublicJWK %q, want %q verbatim", got[i].KID, got[i].PublicJWK, want[i].PublicJWK)
		}
	}
}

func testRotateKeyConflict(t *testing.T, s authority.Store) {
	rotate(t, s, key("k1", base), "")
	rotate(t, s, key("k2", base.Add(time.Hour)), "k1")
	before := keys(t, s)
	for _, kid := range []string{"k1", "k2"} { // a retired key's id, the active key's id
		next := key(kid, base.Add(2*time.Hour))
		next.Location = "/elsewhere/" + kid + ".pem"
		if prev, err := s.RotateKey(ctx(t), next); !errors.Is(err, authority.ErrConflict) {
			t.Errorf("RotateKey reusing %s = %q, %v; want ErrConflict", kid, prev, err)
		}
		if diff := cmp.Diff(before, keys(t, s), equate); diff != "" {
			t.Errorf("a refused rotation to %s changed the keys (-before +after):\n%s", kid, diff)
		}
	}
	// The store is still usable and the chain continues from k2.
	rotate(t, s, key("k3", base.Add(3*time.Hour)), "k2")
}

func testKeyOrder(t *testing.T, s authority.Store) {
	// Insertion order kz, km, ka, kb; KID order ka, kb, km, kz; the contract's order, by
	// CreatedAt and then KID, is neither.
	kz, km, ka, kb := key("kz", base), key("km", base.Add(time.Second)), key("ka", base.Add(time.Second)), key("kb", base.Add(2*time.Second))
	rotate(t, s, kz, "")
	rotate(t, s, km, "kz")
	rotate(t, s, ka, "km")
	rotate(t, s, kb, "ka")
	want := []authority.KeyRecord{retired(kz, km.CreatedAt), retired(ka, kb.CreatedAt), retired(km, ka.CreatedAt), kb}
	if diff := cmp.Diff(want, keys(t, s), equate); diff != "" {
		t.Errorf("Keys order (-want +got):\n%s", diff)
	}
}

func auditFixtures() []authority.AuditEvent {
	return []authority.AuditEvent{
		{Time: base, Type: "authority.token.grant", Outcome: "success", Subject: "alice", ClientID: "svc-a",
			Scopes: []string{"scanner.scan", "jobs.read"}, Status: 200, TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", RemoteIP: "192.0.2.10"},
		{Time: base.Add(time.Millisecond), Type: "authority.auth.failure", Outcome: "failure", ClientID: "svc-x",
			Status: 401, RemoteIP: "2001:db8::1", Detail: "invalid_client"},
		{Time: base.Add(time.Second), Type: "http.request", Outcome: "success", Subject: "svc-a", ClientID: "svc-a",
			Status: 202, Detail: "POST /jobs/merge"},
		{Time: base.Add(2 * time.Second), Type: "authority.token.revoke", Outcome: "success", Subject: "alice", Detail: "scope not allowed: ü ✓"},
		{Time: base.Add(3 * time.Second), Type: "authority.signing.rotate", Outcome: "success", Subject: "admin", Detail: "k2"},
	}
}

func appendAll(t *testing.T, s authority.Store, events []authority.AuditEvent) []authority.AuditEvent {
	t.Helper()
	out := make([]authority.AuditEvent, len(events))
	var last int64
	for i, e := range events {
		e.Seq = 999 - int64(i) // assigned by the store: whatever the caller says is ignored
		seq, err := s.AppendAudit(ctx(t), e)
		if err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
		if (i == 0 && seq != 1) || seq <= last {
			t.Fatalf("AppendAudit %d: seq %d after %d; want 1, then increasing", i, seq, last)
		}
		last = seq
		e.Seq = seq
		out[i] = e
	}
	return out
}

func testAudit(t *testing.T, s authority.Store) {
	c := ctx(t)
	if got, err := s.Audit(c, 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("Audit of an empty store = %v, %v", got, err)
	}
	want := appendAll(t, s, auditFixtures())
	got, err := s.Audit(c, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	// Scopes of an event are stored as given, in the caller's order.
	if diff := cmp.Diff(want, got, equate); diff != "" {
		t.Errorf("Audit (-want +got):\n%s", diff)
	}
	for _, e := range got {
		wantUTC(t, "audit event", e.Time)
	}
}

func testAuditPaging(t *testing.T, s authority.Store) {
	c := ctx(t)
	want := appendAll(t, s, auditFixtures())
	for _, tc := range []struct {
		after int64
		limit int
		want  []authority.AuditEvent
	}{
		{0, 2, want[:2]},
		{want[1].Seq, 2, want[2:4]},
		{want[3].Seq, 2, want[4:]},
		{want[4].Seq, 2, nil},
		{want[4].Seq + 1000, 2, nil},
		{-1, 100, want},
		{want[0].Seq, 1, want[1:2]},
		{want[2].Seq - 1, 3, want[2:5]},
		{0, 0, nil},
	} {
		got, err := s.Audit(c, tc.after, tc.limit)
		if err != nil {
			t.Fatalf("Audit(%d, %d): %v", tc.after, tc.limit, err)
		}
		if diff := cmp.Diff(tc.want, got, equate); diff != "" {
			t.Errorf("Audit(%d, %d) (-want +got):\n%s", tc.after, tc.limit, diff)
		}
	}
	// Paging by the last Seq seen visits every event once. Bounded, so a store that returns
	// the event at after again fails instead of looping.
	var paged []authority.AuditEvent
	for after := int64(0); len(paged) <= len(want); {
		page, err := s.Audit(c, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if diff := cmp.Diff(want, paged, equate); diff != "" {
		t.Errorf("paging by 2 (-want +got):\n%s", diff)
	}
}

// testTimes writes every time field in another zone, plus times before 1970 and the zero time,
// and reads them back as the same instants in UTC.
func testTimes(t *testing.T, s authority.Store) {
	c := ctx(t)
	pre1970 := time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)
	cl := authority.Client{ID: "zoned", CreatedAt: base.In(elsewhere)}
	unset := authority.Client{ID: "unset"}
	old := authority.User{Username: "old", CreatedAt: pre1970.In(elsewhere)}
	r := authority.Revocation{JTI: "zoned", RevokedAt: base.In(elsewhere), ExpiresAt: base.Add(time.Hour).In(elsewhere)}
	k1, k2 := key("k1", pre1970.In(elsewhere)), key("k2", base.In(elsewhere))
	ev := authority.AuditEvent{Time: base.In(elsewhere), Type: "http.request", Outcome: "success"}

	for _, x := range []authority.Client{cl, unset} {
		if err := s.PutClient(c, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutUser(c, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Revoke(c, r); err != nil {
		t.Fatal(err)
	}
	rotate(t, s, k1, "")
	rotate(t, s, k2, "k1")
	if _, err := s.AppendAudit(c, ev); err != nil {
		t.Fatal(err)
	}

	check := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) || got.Location() != time.UTC || got.IsZero() != want.IsZero() {
			t.Errorf("%s: got %v (%s), want %v in UTC", what, got, got.Location(), want.UTC())
		}
	}
	if got, err := s.Client(c, "zoned"); err != nil {
		t.Error(err)
	} else {
		check("client CreatedAt", got.CreatedAt, base)
	}
	if got, err := s.Client(c, "unset"); err != nil {
		t.Error(err)
	} else {
		check("unset client CreatedAt", got.CreatedAt, time.Time{})
	}
	if got, err := s.User(c, "old"); err != nil {
		t.Error(err)
	} else {
		check("user CreatedAt", got.CreatedAt, pre1970)
	}
	if got, err := s.Revocations(c, base.Add(time.Hour-time.Microsecond)); err != nil || len(got) != 1 {
		t.Errorf("Revocations = %v, %v; want the zoned one", got, err)
	} else {
		check("RevokedAt", got[0].RevokedAt, base)
		check("ExpiresAt", got[0].ExpiresAt, base.Add(time.Hour))
	}
	if got, err := s.Revocations(c, base.Add(time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("Revocations at its expiry = %v, %v; want none", got, err)
	}
	if ks, err := s.Keys(c); err != nil || len(ks) != 2 {
		t.Errorf("Keys = %v, %v", ks, err)
	} else {
		check("k1 CreatedAt", ks[0].CreatedAt, pre1970)
		check("k1 RetiredAt", ks[0].RetiredAt, base)
		check("k2 CreatedAt", ks[1].CreatedAt, base)
		check("k2 RetiredAt", ks[1].RetiredAt, time.Time{})
	}
	if evs, err := s.Audit(c, 0, 10); err != nil || len(evs) != 1 {
		t.Errorf("Audit = %v, %v", evs, err)
	} else {
		check("audit Time", evs[0].Time, base)
	}
}

// testCanceled: a write with a cancelled context fails and leaves no trace; every method is
// atomic, so nothing may be half-done either.
func testCanceled(t *testing.T, s authority.Store) {
	c := ctx(t)
	if err := s.PutUser(c, authority.User{Username: "keep", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutClient(c, authority.Client{ID: "keep", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	rotate(t, s, key("k1", base), "")
	keysBefore := keys(t, s)

	dead, cancel := context.WithCancel(c)
	cancel()
	writes := map[string]func() error{
		"PutClient":    func() error { return s.PutClient(dead, authority.Client{ID: "ghost", CreatedAt: base}) },
		"PutUser":      func() error { return s.PutUser(dead, authority.User{Username: "ghost", CreatedAt: base}) },
		"DeleteUser":   func() error { return s.DeleteUser(dead, "keep") },
		"DeleteClient": func() error { return s.DeleteClient(dead, "keep") },
		"Revoke": func() error {
			_, err := s.Revoke(dead, authority.Revocation{JTI: "ghost", RevokedAt: base, ExpiresAt: base.Add(time.Hour)})
			return err
		},
		"RotateKey": func() error { _, err := s.RotateKey(dead, key("ghost", base.Add(time.Hour))); return err },
		"AppendAudit": func() error {
			_, err := s.AppendAudit(dead, authority.AuditEvent{Time: base, Type: "ghost"})
			return err
		},
	}
	for name, fn := range writes {
		if err := fn(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want context.Canceled", name, err)
		}
	}

	if cs, err := s.Clients(c); err != nil || len(cs) != 1 || cs[0].ID != "keep" {
		t.Errorf("Clients = %v, %v; want only keep", cs, err)
	}
	if us, err := s.Users(c); err != nil || len(us) != 1 || us[0].Username != "keep" {
		t.Errorf("Users = %v, %v; want only keep", us, err)
	}
	if ok, err := s.IsRevoked(c, "ghost"); err != nil || ok {
		t.Errorf("IsRevoked ghost = %v, %v", ok, err)
	}
	if diff := cmp.Diff(keysBefore, keys(t, s), equate); diff != "" {
		t.Errorf("keys changed (-before +after):\n%s", diff)
	}
	if evs, err := s.Audit(c, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("Audit = %v, %v; want none", evs, err)
	}
	// Reads with a cancelled context fail too, rather than answering "not revoked".
	if ok, err := s.IsRevoked(dead, "ghost"); err == nil {
		t.Errorf("IsRevoked with a cancelled context = %v, nil; want an error", ok)
	}
	// The store still works.
	seq, err := s.AppendAudit(c, authority.AuditEvent{Time: base, Type: "after"})
	if err != nil {
		t.Fatalf("AppendAudit after the cancelled ones: %v", err)
	}
	if evs, err := s.Audit(c, 0, 10); err != nil || len(evs) != 1 || evs[0].Seq != seq || evs[0].Type != "after" {
		t.Errorf("Audit = %+v, %v; want only the event of seq %d", evs, err, seq)
	}
}

// errs collects errors from goroutines, which must not call t.Fatal.
type errs struct {
	ch chan error
}

func newErrs(n int) *errs { return &errs{ch: make(chan error, n)} }

func (e *errs) add(err error) { e.ch <- err }

func (e *errs) check(t *testing.T) {
	t.Helper()
	close(e.ch)
	var msgs []string
	for err := range e.ch {
		msgs = append(msgs, err.Error())
	}
	if len(msgs) > 0 {
		t.Fatalf("%d goroutines failed:\n%s", len(msgs), strings.Join(msgs, "\n"))
	}
}
