// Package storetest is the conformance suite of the policy revision stores: every backend
// runs Run on fresh, empty stores and Replicas on two handles of one database, and must pass
// both unchanged.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
)

// Run runs the suite. open is called once per test and returns a new, empty store; the suite
// closes it when the test ends and fails the test if Close fails.
func Run(t *testing.T, open func(t *testing.T) policystore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s policystore.Store)
	}{
		{"Empty", testEmpty},
		{"AppendAndRead", testAppendAndRead},
		{"SameDigestIsIdempotent", testIdempotent},
		{"OlderDigestIsANewRevision", testOlderDigest},
		{"ListPages", testListPages},
		{"ContentRoundTripsByteForByte", testContent},
		{"TimesKeptToTheMillisecondInUTC", testTimes},
		{"InvalidWritesNothing", testInvalid},
		{"CanceledContextWritesNothing", testCanceled},
		{"ConcurrentAppend", func(t *testing.T, s policystore.Store) { concurrentAppend(t, []policystore.Store{s}) }},
		{"ConcurrentSameDigest", func(t *testing.T, s policystore.Store) { concurrentSameDigest(t, []policystore.Store{s}) }},
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

// Replicas runs the checks that need two handles on one database, as two replicas hold:
// each sees the other's appends at once, and appends stay serialised across them. fresh
// returns two stores opened on the same new, empty location; the suite closes both.
func Replicas(t *testing.T, fresh func(t *testing.T) (a, b policystore.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a, b policystore.Store)
	}{
		{"SeeEachOthersAppends", testReplicaAppends},
		{"ConcurrentAppend", func(t *testing.T, a, b policystore.Store) { concurrentAppend(t, []policystore.Store{a, b}) }},
		{"ConcurrentSameDigest", func(t *testing.T, a, b policystore.Store) { concurrentSameDigest(t, []policystore.Store{a, b}) }},
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

// base is the fixtures' clock, with a sub-millisecond part the stores must drop.
var base = time.Date(2026, 5, 17, 9, 30, 15, 123456789, time.UTC)

func digestOf(content string) string {
	sum := sha256.Sum256([]byte(content))
	return hex.EncodeToString(sum[:])
}

// rev is a new revision whose digest is its content's hash, so distinct contents never
// share a digest by accident.
func rev(content string, at time.Time) policystore.NewRevision {
	return policystore.NewRevision{Digest: digestOf(content), Format: policy.FormatYAML, Content: content,
		Actor: "alice", Description: "change " + content, CreatedAt: at}
}

// stored is what a store must return for in appended as seq.
func stored(seq int64, in policystore.NewRevision) policystore.Revision {
	return policystore.Revision{Seq: seq, Digest: in.Digest, Format: in.Format, Content: in.Content, Actor: in.Actor,
		Description: in.Description, CreatedAt: in.CreatedAt.UTC().Truncate(time.Millisecond)}
}

func meta(r policystore.Revision) policystore.Revision {
	r.Content = ""
	return r
}

func appendOK(t *testing.T, s policystore.Store, in policystore.NewRevision, wantSeq int64, wantCreated bool) policystore.Revision {
	t.Helper()
	got, created, err := s.Append(t.Context(), in)
	if err != nil {
		t.Fatalf("Append %s: %v", in.Description, err)
	}
	if created != wantCreated || got.Seq != wantSeq {
		t.Fatalf("Append %s = %s created %v, want rev-%d created %v", in.Description, got.ID(), created, wantSeq, wantCreated)
	}
	return got
}

func checkActive(t *testing.T, s policystore.Store, want policystore.Revision) {
	t.Helper()
	got, err := s.Active(t.Context())
	if err != nil {
		t.Fatalf("Active: %v", err)
	}
	if diff := cmp.Diff(meta(want), got); diff != "" {
		t.Errorf("Active (-want +got):\n%s", diff)
	}
}

func checkList(t *testing.T, s policystore.Store, before int64, limit int, want ...int64) {
	t.Helper()
	got, err := s.List(t.Context(), before, limit)
	if err != nil {
		t.Fatalf("List(%d, %d): %v", before, limit, err)
	}
	var seqs []int64
	for _, r := range got {
		if r.Content != "" {
			t.Errorf("List returned the content of %s", r.ID())
		}
		seqs = append(seqs, r.Seq)
	}
	if !slices.Equal(want, seqs) {
		t.Errorf("List(%d, %d) = %v, want %v", before, limit, seqs, want)
	}
}

func testEmpty(t *testing.T, s policystore.Store) {
	if _, err := s.Active(t.Context()); !errors.Is(err, policystore.ErrNotFound) {
		t.Errorf("Active on an empty store: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(t.Context(), 1); !errors.Is(err, policystore.ErrNotFound) {
		t.Errorf("Get(1) on an empty store: %v, want ErrNotFound", err)
	}
	checkList(t, s, 0, 10)
}

func testAppendAndRead(t *testing.T, s policystore.Store) {
	in := rev("version: \"1.0\"\nrules: []\n", base)
	in.Format = policy.FormatRego
	got := appendOK(t, s, in, 1, true)
	want := stored(1, in)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Append (-want +got):\n%s", diff)
	}
	if got.ID() != "rev-1" {
		t.Errorf("ID = %q", got.ID())
	}
	checkActive(t, s, want)
	g, err := s.Get(t.Context(), 1)
	if err != nil || !cmp.Equal(want, g) {
		t.Errorf("Get(1) = %+v, %v; want %+v", g, err, want)
	}
	if _, err := s.Get(t.Context(), 2); !errors.Is(err, policystore.ErrNotFound) {
		t.Errorf("Get(2): %v, want ErrNotFound", err)
	}
	in2 := rev("second", base.Add(time.Minute))
	want2 := stored(2, in2)
	appendOK(t, s, in2, 2, true)
	checkActive(t, s, want2)
	// The first revision is unchanged by the second.
	if g, err := s.Get(t.Context(), 1); err != nil || !cmp.Equal(want, g) {
		t.Errorf("Get(1) after a second append = %+v, %v", g, err)
	}
}

// testIdempotent: appending the newest digest again, however it is described, by whomever,
// writes nothing and returns the newest revision as it was stored.
func testIdempotent(t *testing.T, s policystore.Store) {
	first := rev("same", base)
	want := stored(1, first)
	appendOK(t, s, first, 1, true)
	again := first
	again.Actor, again.Description, again.CreatedAt = "bob", "reformatted", base.Add(time.Hour)
	again.Content = "same # reformatted, same digest"
	got := appendOK(t, s, again, 1, false)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("idempotent Append returned (-want +got):\n%s", diff)
	}
	checkActive(t, s, want)
	checkList(t, s, 0, 10, 1)
}

// testOlderDigest: going back to an older policy is a new revision (a rollback is a change
// the audit trail must show), not a reuse of the old one.
func testOlderDigest(t *testing.T, s policystore.Store) {
	a, b := rev("A", base), rev("B", base.Add(time.Second))
	appendOK(t, s, a, 1, true)
	appendOK(t, s, b, 2, true)
	a2 := a
	a2.CreatedAt = base.Add(2 * time.Second)
	appendOK(t, s, a2, 3, true)
	checkActive(t, s, stored(3, a2))
	checkList(t, s, 0, 10, 3, 2, 1)
}

func testListPages(t *testing.T, s policystore.Store) {
	for i := range 7 {
		appendOK(t, s, rev(fmt.Sprintf("policy %d", i+1), base.Add(time.Duration(i)*time.Second)), int64(i+1), true)
	}
	checkList(t, s, 0, 3, 7, 6, 5)
	checkList(t, s, 5, 3, 4, 3, 2)
	checkList(t, s, 2, 3, 1)
	checkList(t, s, 1, 3)
	checkList(t, s, 100, 2, 7, 6)
	checkList(t, s, 0, 0)
	checkList(t, s, 0, -1)
	checkList(t, s, -5, 1, 7)
	got, err := s.List(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		seq := int64(7 - i)
		if diff := cmp.Diff(meta(stored(seq, rev(fmt.Sprintf("policy %d", seq), base.Add(time.Duration(seq-1)*time.Second)))), r); diff != "" {
			t.Errorf("List entry %d (-want +got):\n%s", i, diff)
		}
	}
}

// testContent: sources come back exactly as submitted: line endings, trailing blanks, tabs,
// non-ASCII text, and a source of a mebibyte.
func testContent(t *testing.T, s policystore.Store) {
	contents := []string{
		"version: \"1.0\"\r\nrules:\r\n  - name: Ünïcødé ✓ 中文\r\n    action: block\r\n\r\n",
		"\tpackage stella.policy\n\ndeny contains msg if { false }   \n\n\n",
		"# " + strings.Repeat("x", 1<<20) + "\n",
		"",
	}
	for i, c := range contents {
		in := rev(c, base)
		appendOK(t, s, in, int64(i+1), true)
		got, err := s.Get(t.Context(), int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if got.Content != c {
			t.Errorf("content %d: got %d bytes, want %d, equal prefix %q", i, len(got.Content), len(c), commonPrefix(got.Content, c))
		}
	}
}

func commonPrefix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return a[:min(n, 40)]
}

// testTimes: created times come back as the same millisecond, in UTC, whatever zone they were
// given in.
func testTimes(t *testing.T, s policystore.Store) {
	zone := time.FixedZone("UTC+05:30", 5*3600+1800)
	at := base.In(zone)
	got := appendOK(t, s, rev("t", at), 1, true)
	want := time.Date(2026, 5, 17, 9, 30, 15, 123000000, time.UTC)
	if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("Append CreatedAt = %v, want %v in UTC", got.CreatedAt, want)
	}
	a, err := s.Active(t.Context())
	if err != nil || !a.CreatedAt.Equal(want) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("Active CreatedAt = %v (%v), want %v in UTC", a.CreatedAt, err, want)
	}
	g, err := s.Get(t.Context(), 1)
	if err != nil || !g.CreatedAt.Equal(want) || g.CreatedAt.Location() != time.UTC {
		t.Errorf("Get CreatedAt = %v (%v), want %v in UTC", g.CreatedAt, err, want)
	}
	if g.Policy().CreatedAt.String() != "2026-05-17T09:30:15.123Z" {
		t.Errorf("Policy().CreatedAt = %s", g.Policy().CreatedAt)
	}
}

// testInvalid: the stores refuse what the other backend could not hold, before writing.
func testInvalid(t *testing.T, s policystore.Store) {
	ok := rev("ok", base)
	for name, mutate := range map[string]func(*policystore.NewRevision){
		"format":          func(r *policystore.NewRevision) { r.Format = "json" },
		"empty format":    func(r *policystore.NewRevision) { r.Format = "" },
		"short digest":    func(r *policystore.NewRevision) { r.Digest = r.Digest[:63] },
		"upper digest":    func(r *policystore.NewRevision) { r.Digest = strings.ToUpper(r.Digest) },
		"prefixed digest": func(r *policystore.NewRevision) { r.Digest = "sha256:" + r.Digest[7:] },
		"NUL content":     func(r *policystore.NewRevision) { r.Content = "version: \"1.0\"\x00" },
		"invalid UTF-8":   func(r *policystore.NewRevision) { r.Content = "\xff\xfe" },
		"NUL actor":       func(r *policystore.NewRevision) { r.Actor = "a\x00b" },
		"bad description": func(r *policystore.NewRevision) { r.Description = "\xc3" },
		"no time":         func(r *policystore.NewRevision) { r.CreatedAt = time.Time{} },
	} {
		in := ok
		mutate(&in)
		if _, _, err := s.Append(t.Context(), in); !errors.Is(err, policystore.ErrInvalid) {
			t.Errorf("%s: Append = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := s.Active(t.Context()); !errors.Is(err, policystore.ErrNotFound) {
		t.Errorf("after refused appends, Active = %v, want ErrNotFound", err)
	}
}

func testCanceled(t *testing.T, s policystore.Store) {
	appendOK(t, s, rev("kept", base), 1, true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := s.Append(ctx, rev("lost", base)); err == nil {
		t.Fatal("Append with a cancelled context succeeded")
	}
	checkActive(t, s, stored(1, rev("kept", base)))
	// The store still works afterwards: the cancelled call left no lock or transaction behind.
	appendOK(t, s, rev("next", base), 2, true)
}

func testReplicaAppends(t *testing.T, a, b policystore.Store) {
	r1 := rev("from a", base)
	appendOK(t, a, r1, 1, true)
	checkActive(t, b, stored(1, r1))
	appendOK(t, b, r1, 1, false) // b sees a's newest digest
	r2 := rev("from b", base.Add(time.Second))
	appendOK(t, b, r2, 2, true)
	checkActive(t, a, stored(2, r2))
	if g, err := a.Get(t.Context(), 2); err != nil || g.Content != "from b" {
		t.Errorf("a.Get(2) = %+v, %v", g, err)
	}
	checkList(t, a, 0, 10, 2, 1)
}

// concurrentAppend appends distinct policies from many goroutines (over the given handles):
// every append creates a revision, numbers are exactly 1..n, and each policy is stored once,
// under the number its Append returned.
func concurrentAppend(t *testing.T, stores []policystore.Store) {
	const workers, each = 6, 5
	var (
		mu  sync.Mutex
		got = map[int64]string{}
		wg  sync.WaitGroup
	)
	errs := make(chan error, workers*each)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				c := fmt.Sprintf("worker %d policy %d", w, i)
				r, created, err := s.Append(t.Context(), rev(c, base))
				if err != nil || !created {
					errs <- fmt.Errorf("append %q: created %v, %v", c, created, err)
					return
				}
				mu.Lock()
				if prev, dup := got[r.Seq]; dup {
					errs <- fmt.Errorf("%s handed out twice: %q and %q", r.ID(), prev, c)
				}
				got[r.Seq] = c
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	all, err := stores[0].List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != workers*each {
		t.Fatalf("%d revisions stored, want %d", len(all), workers*each)
	}
	for i, r := range all {
		if want := int64(workers*each - i); r.Seq != want {
			t.Errorf("List[%d] is %s, want rev-%d", i, r.ID(), want)
		}
		if r.Digest != digestOf(got[r.Seq]) {
			t.Errorf("%s has the digest of another policy than its Append stored", r.ID())
		}
	}
}

// concurrentSameDigest imports one policy from many goroutines at once: exactly one creates
// the revision and every other call returns it.
func concurrentSameDigest(t *testing.T, stores []policystore.Store) {
	const workers = 8
	in := rev("everyone imports this", base)
	var (
		wg      sync.WaitGroup
		created = make(chan bool, workers)
		errs    = make(chan error, workers)
	)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			r, c, err := s.Append(t.Context(), in)
			if err != nil || r.Seq != 1 || r.Digest != in.Digest {
				errs <- fmt.Errorf("append = %s %v, %v; want rev-1", r.ID(), c, err)
				return
			}
			created <- c
		})
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Error(err)
	}
	n := 0
	for c := range created {
		if c {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d appends created the revision, want exactly 1", n)
	}
	checkList(t, stores[0], 0, 10, 1)
}
