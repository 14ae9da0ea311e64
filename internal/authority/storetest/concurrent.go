package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/authority"
)

// The concurrency checks take the handles to use, one for a single store and two for replicas;
// worker w uses stores[w%len(stores)]. They start from empty stores.

// concurrentRotate rotates from many goroutines at once. Every rotation must succeed and
// retire exactly the key that was active when it ran, so the rotations form one chain: one
// started it (previous ""), every other key was retired exactly once, by a rotation whose
// CreatedAt is its RetiredAt, and the last one is the only active key.
func concurrentRotate(t *testing.T, stores []authority.Store) {
	const workers, each = 8, 5
	kid := func(w, i int) string { return fmt.Sprintf("w%d-k%d", w, i) }
	created := map[string]time.Time{}
	for w := range workers {
		for i := range each {
			created[kid(w, i)] = base.Add(time.Duration(w*each+i) * time.Second)
		}
	}
	type result struct{ kid, prev string }
	results := make(chan result, workers*each)
	e := newErrs(workers)
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				k := key(kid(w, i), created[kid(w, i)])
				prev, err := s.RotateKey(ctx(t), k)
				if err != nil {
					e.add(fmt.Errorf("RotateKey %s: %w", k.KID, err))
					return
				}
				results <- result{k.KID, prev}
			}
		})
	}
	wg.Wait()
	close(results)
	e.check(t)

	successor := map[string]string{} // retired key → the key whose rotation retired it
	first := ""
	for r := range results {
		switch {
		case r.prev == "":
			if first != "" {
				t.Errorf("both %s and %s found no active key", first, r.kid)
			}
			first = r.kid
		case successor[r.prev] != "":
			t.Errorf("%s was retired twice, by %s and by %s", r.prev, successor[r.prev], r.kid)
		case created[r.prev].IsZero():
			t.Errorf("RotateKey %s retired %q, which nobody stored", r.kid, r.prev)
		default:
			successor[r.prev] = r.kid
		}
	}
	// Walk the chain from the first key: it must visit every key once and end at the active one.
	var chain []string
	for k := first; k != "" && len(chain) <= len(created); k = successor[k] {
		chain = append(chain, k)
	}
	if len(chain) != len(created) {
		t.Fatalf("the rotations form a chain of %d keys, want %d: %v", len(chain), len(created), chain)
	}
	active := chain[len(chain)-1]

	ks := keys(t, stores[0])
	if len(ks) != len(created) {
		t.Fatalf("%d keys stored, want %d", len(ks), len(created))
	}
	for _, k := range ks {
		want := key(k.KID, created[k.KID])
		if k.KID != active {
			want = retired(want, created[successor[k.KID]])
		}
		if diff := cmp.Diff(want, k, equate); diff != "" {
			t.Errorf("key %s (-want +got):\n%s", k.KID, diff)
		}
	}
}

// concurrentRotateSameKID races several rotations to one new KID: exactly one wins, retiring the
// seed key; the others get ErrConflict and change nothing.
func concurrentRotateSameKID(t *testing.T, stores []authority.Store) {
	const workers = 8
	rotate(t, stores[0], key("seed", base), "")
	type result struct {
		w    int
		prev string
		err  error
	}
	results := make(chan result, workers)
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			k := key("dup", base.Add(time.Hour))
			k.Location = fmt.Sprintf("/worker/%d.pem", w)
			prev, err := s.RotateKey(ctx(t), k)
			results <- result{w, prev, err}
		})
	}
	wg.Wait()
	close(results)
	winner := -1
	for r := range results {
		switch {
		case r.err == nil:
			if winner >= 0 {
				t.Errorf("workers %d and %d both stored key dup", winner, r.w)
			}
			winner = r.w
			if r.prev != "seed" {
				t.Errorf("winner retired %q, want seed", r.prev)
			}
		case !errors.Is(r.err, authority.ErrConflict):
			t.Errorf("worker %d: %v, want nil or ErrConflict", r.w, r.err)
		}
	}
	if winner < 0 {
		t.Fatal("no rotation to dup succeeded")
	}
	dup := key("dup", base.Add(time.Hour))
	dup.Location = fmt.Sprintf("/worker/%d.pem", winner)
	want := []authority.KeyRecord{retired(key("seed", base), dup.CreatedAt), dup}
	if diff := cmp.Diff(want, keys(t, stores[len(stores)-1]), equate); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

// concurrentRevoke revokes one jti from many goroutines: exactly one call reports created, and
// the stored record is that call's.
func concurrentRevoke(t *testing.T, stores []authority.Store) {
	const workers = 16
	rev := func(w int) authority.Revocation {
		return authority.Revocation{JTI: "jti-race", Subject: "alice", Reason: fmt.Sprintf("worker %d", w),
			RevokedAt: base.Add(time.Duration(w) * time.Microsecond), ExpiresAt: base.Add(time.Hour)}
	}
	type result struct {
		w       int
		created bool
	}
	results := make(chan result, workers)
	e := newErrs(workers)
	var wg sync.WaitGroup
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			created, err := s.Revoke(ctx(t), rev(w))
			if err != nil {
				e.add(fmt.Errorf("worker %d: %w", w, err))
				return
			}
			results <- result{w, created}
		})
	}
	wg.Wait()
	close(results)
	e.check(t)
	winner := -1
	for r := range results {
		if r.created {
			if winner >= 0 {
				t.Errorf("workers %d and %d both created the revocation", winner, r.w)
			}
			winner = r.w
		}
	}
	if winner < 0 {
		t.Fatal("no Revoke reported created")
	}
	for _, s := range stores {
		got, err := s.Revocations(ctx(t), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]authority.Revocation{rev(winner)}, got, equate); diff != "" {
			t.Errorf("stored revocation is not the winner's (-want +got):\n%s", diff)
		}
		if ok, err := s.IsRevoked(ctx(t), "jti-race"); err != nil || !ok {
			t.Errorf("IsRevoked = %v, %v", ok, err)
		}
	}
}

// concurrentAudit appends from many goroutines while another tails the log by paging with
// Audit(last seen Seq, limit). Every append gets its own Seq, and the tail sees every event
// exactly once in Seq order: a Seq that became visible after a greater one had been read
// would be skipped for good.
func concurrentAudit(t *testing.T, stores []authority.Store) {
	const workers, each = 8, 25
	type appended struct {
		seq    int64
		detail string
	}
	results := make(chan appended, workers*each)
	e := newErrs(workers + 1)
	var writers, tailer sync.WaitGroup
	var done atomic.Bool
	var tail []authority.AuditEvent
	tailer.Go(func() {
		s := stores[len(stores)-1]
		var after int64
		for {
			finished := done.Load() // before the read: an empty page after it means drained
			page, err := s.Audit(ctx(t), after, 7)
			if err != nil {
				e.add(fmt.Errorf("tail: %w", err))
				return
			}
			if len(page) > 7 {
				e.add(fmt.Errorf("tail: %d events for limit 7", len(page)))
				return
			}
			tail = append(tail, page...)
			if len(tail) > workers*each {
				e.add(fmt.Errorf("tail: %d events read, only %d appended", len(tail), workers*each))
				return
			}
			if len(page) > 0 {
				after = page[len(page)-1].Seq
			} else if finished {
				return
			} else {
				time.Sleep(time.Millisecond)
			}
		}
	})
	for w := range workers {
		s := stores[w%len(stores)]
		writers.Go(func() {
			for i := range each {
				ev := authority.AuditEvent{Time: base.Add(time.Duration(w*each+i) * time.Millisecond), Type: "http.request",
					Outcome: "success", ClientID: fmt.Sprintf("w%d", w), Detail: fmt.Sprintf("w%d-e%d", w, i)}
				seq, err := s.AppendAudit(ctx(t), ev)
				if err != nil {
					e.add(fmt.Errorf("worker %d append %d: %w", w, i, err))
					return
				}
				results <- appended{seq, ev.Detail}
			}
		})
	}
	writers.Wait()
	done.Store(true)
	tailer.Wait()
	close(results)
	e.check(t)

	bySeq := map[int64]string{}
	for r := range results {
		if r.seq < 1 {
			t.Errorf("%s got seq %d", r.detail, r.seq)
		}
		if d, dup := bySeq[r.seq]; dup {
			t.Errorf("%s and %s both got seq %d", d, r.detail, r.seq)
		}
		bySeq[r.seq] = r.detail
	}
	check := func(what string, evs []authority.AuditEvent) {
		t.Helper()
		if len(evs) != workers*each {
			t.Errorf("%s: %d events, want %d", what, len(evs), workers*each)
		}
		for i, ev := range evs {
			if i > 0 && ev.Seq <= evs[i-1].Seq {
				t.Errorf("%s: seq %d after %d", what, ev.Seq, evs[i-1].Seq)
			}
			if bySeq[ev.Seq] != ev.Detail {
				t.Errorf("%s: seq %d holds %q, AppendAudit returned it for %q", what, ev.Seq, ev.Detail, bySeq[ev.Seq])
			}
		}
	}
	check("tail", tail)
	all, err := stores[0].Audit(ctx(t), 0, 2*workers*each)
	if err != nil {
		t.Fatal(err)
	}
	check("Audit(0, all)", all)
}
