// Package storetest is the conformance suite of the scan stores: every backend runs Run on
// fresh, empty stores and Replicas on two handles of one database, and must pass both
// unchanged.
//
// Fixtures use times with a non-zero microsecond part (the precision the stores keep) in a
// zone other than UTC, so a backend that drops precision or the offset fails.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/scan/scanstore"
)

// Run runs the suite. open returns a new, empty store per test; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) scanstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s scanstore.Store)
	}{
		{"CreateGet", testCreateGet},
		{"ClaimFences", testClaimFences},
		{"HeartbeatAndCancel", testHeartbeatCancel},
		{"ReleaseAndRetry", testRelease},
		{"Rerun", testRerun},
		{"AbandonExpired", testAbandon},
		{"LatestByImageDigest", testLatest},
		{"EventPaging", testEventPaging},
		{"Layers", testLayers},
		{"CanceledContextWritesNothing", testCanceled},
		{"ConcurrentDeliveriesFinishOnce", func(t *testing.T, s scanstore.Store) { concurrentDeliveries(t, []scanstore.Store{s}) }},
		{"ConcurrentAppendNumbersContiguously", func(t *testing.T, s scanstore.Store) { concurrentAppend(t, []scanstore.Store{s}) }},
		{"ConcurrentCreateSameID", func(t *testing.T, s scanstore.Store) { concurrentCreate(t, []scanstore.Store{s}) }},
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

// Replicas runs the concurrency tests with each goroutine on one of two handles of the same
// database, as two replicas would.
func Replicas(t *testing.T, open func(t *testing.T) (scanstore.Store, scanstore.Store)) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, ss []scanstore.Store)
	}{
		{"DeliveriesFinishOnce", concurrentDeliveries},
		{"AppendNumbersContiguously", concurrentAppend},
		{"CreateSameID", concurrentCreate},
		{"SeeEachOther", seeEachOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := open(t)
			t.Cleanup(func() {
				if err := errors.Join(a.Close(), b.Close()); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, []scanstore.Store{a, b})
		})
	}
}

var (
	elsewhere = time.FixedZone("UTC+05:30", 5*3600+1800)
	base      = time.Date(2026, 5, 17, 9, 30, 15, 123456000, elsewhere)
)

func ctx(t *testing.T) context.Context { return t.Context() }

func newScan(id string, kind scanstore.Kind, at time.Time) scanstore.Scan {
	return scanstore.Scan{ID: id, Kind: kind, Image: scanstore.Image{Reference: "registry.example.com/acme/app:1.2.3"},
		Request: []byte(`{"image":{"reference":"registry.example.com/acme/app:1.2.3"},"metadata":{"pipeline":"github"}}`),
		Status:  scanstore.StatusPending, Run: 1, LeaseUntil: at.Add(time.Minute), CreatedAt: at, UpdatedAt: at}
}

func ev(state scanstore.Status, msg string, at time.Time) scanstore.Event {
	return scanstore.Event{State: state, Message: msg, Time: at, Data: []byte(`{"force":false,"meta.pipeline":"github"}`)}
}

func mustCreate(t *testing.T, s scanstore.Store, sc scanstore.Scan) scanstore.Scan {
	t.Helper()
	got, created, err := s.Create(ctx(t), sc, ev(scanstore.StatusPending, "queued", sc.CreatedAt))
	if err != nil || !created {
		t.Fatalf("Create %s: created=%v %v", sc.ID, created, err)
	}
	return got
}

func mustClaim(t *testing.T, s scanstore.Store, id string, run, attempt int, fence string, at time.Time) scanstore.Scan {
	t.Helper()
	sc, err := s.Claim(ctx(t), scanstore.Claim{ID: id, Run: run, Fence: fence, Attempt: attempt, LeaseUntil: at.Add(time.Minute), Now: at},
		ev(scanstore.StatusRunning, fmt.Sprintf("attempt %d", attempt), at))
	if err != nil {
		t.Fatalf("Claim %s run %d attempt %d: %v", id, run, attempt, err)
	}
	return sc
}

func events(t *testing.T, s scanstore.Store, id string) []scanstore.Event {
	t.Helper()
	evs, err := s.Events(ctx(t), id, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// wantSequences checks events are numbered 1..n in order, each of the scan.
func wantSequences(t *testing.T, id string, evs []scanstore.Event) {
	t.Helper()
	for i, e := range evs {
		if e.Sequence != int64(i+1) || e.ScanID != id {
			t.Fatalf("event %d: scan %q sequence %d, want %q %d", i, e.ScanID, e.Sequence, id, i+1)
		}
	}
}

func states(evs []scanstore.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, string(e.State)+":"+e.Message)
	}
	return out
}

func wantUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, tm := range times {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Errorf("%s: time %d is in %s, want UTC", what, i, tm.Location())
		}
	}
}

func testCreateGet(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	if _, err := s.Get(c, "nope"); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("Get of an empty store: %v", err)
	}
	want := newScan("2f6c17f9b3f548e2a28b9c412f4d63f8", scanstore.KindQueued, base)
	got, created, err := s.Create(c, want, ev(scanstore.StatusPending, "queued", base))
	if err != nil || !created {
		t.Fatalf("Create: %v %v", created, err)
	}
	want.LastSequence = 1
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Create returned (-want +got):\n%s", diff)
	}
	got, err = s.Get(c, want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	wantUTC(t, "Get", got.CreatedAt, got.UpdatedAt, got.LeaseUntil)

	// The same id again: nothing is written, the stored scan comes back.
	other := newScan(want.ID, scanstore.KindUpload, base.Add(time.Hour))
	again, created, err := s.Create(c, other, ev(scanstore.StatusPending, "queued again", base.Add(time.Hour)))
	if err != nil || created {
		t.Fatalf("second Create: created=%v %v", created, err)
	}
	if diff := cmp.Diff(want, again, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("second Create returned (-want +got):\n%s", diff)
	}
	evs := events(t, s, want.ID)
	if len(evs) != 1 {
		t.Fatalf("events after two creates: %v", states(evs))
	}
	wantEv := ev(scanstore.StatusPending, "queued", base)
	wantEv.ScanID, wantEv.Sequence = want.ID, 1
	if diff := cmp.Diff(wantEv, evs[0]); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	wantUTC(t, "event", evs[0].Time)
	// nil data is stored as an empty object; a correlation id is kept.
	sc2 := newScan("b", scanstore.KindUpload, base)
	sc2.Request = nil
	e := scanstore.Event{State: scanstore.StatusPending, Message: "queued", Time: base, CorrelationID: "custom-1"}
	if _, _, err := s.Create(c, sc2, e); err != nil {
		t.Fatal(err)
	}
	evs = events(t, s, "b")
	if string(evs[0].Data) != "{}" || evs[0].CorrelationID != "custom-1" {
		t.Errorf("event data %q correlation %q", evs[0].Data, evs[0].CorrelationID)
	}
	if _, err := s.Result(c, want.ID); !errors.Is(err, scanstore.ErrNotFound) {
		t.Errorf("Result of a pending scan: %v", err)
	}
}

func testClaimFences(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	id := "scan-fences"
	mustCreate(t, s, newScan(id, scanstore.KindQueued, base))
	t1 := base.Add(time.Second)
	sc := mustClaim(t, s, id, 1, 1, "fence-a", t1)
	if sc.Status != scanstore.StatusRunning || sc.Fence != "fence-a" || sc.Attempt != 1 || !sc.StartedAt.Equal(t1) ||
		!sc.UpdatedAt.Equal(t1) || !sc.LeaseUntil.Equal(t1.Add(time.Minute)) {
		t.Fatalf("claimed %+v", sc)
	}
	if err := s.Append(c, id, "fence-a", []scanstore.Event{ev(scanstore.StatusRunning, "layer 1/2", t1), ev(scanstore.StatusRunning, "layer 2/2", t1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(c, id, "fence-x", []scanstore.Event{ev(scanstore.StatusRunning, "intruder", t1)}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Append with another fence: %v", err)
	}
	if err := s.Append(c, id, "", []scanstore.Event{ev(scanstore.StatusRunning, "intruder", t1)}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Append with no fence: %v", err)
	}
	// The same attempt again, or an older one, cannot claim.
	for _, attempt := range []int{1, 0} {
		_, err := s.Claim(c, scanstore.Claim{ID: id, Run: 1, Fence: "fence-old", Attempt: attempt, LeaseUntil: t1, Now: t1}, ev(scanstore.StatusRunning, "x", t1))
		if !errors.Is(err, scanstore.ErrNotClaimable) {
			t.Fatalf("Claim attempt %d after attempt 1: %v", attempt, err)
		}
	}
	if _, err := s.Claim(c, scanstore.Claim{ID: "unknown", Run: 1, Fence: "f", Attempt: 1, Now: t1}, ev(scanstore.StatusRunning, "x", t1)); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("Claim of an unknown scan: %v", err)
	}
	// Attempt 2 takes over (attempt 1's lease ran out): attempt 1 can no longer write.
	t2 := base.Add(2 * time.Minute)
	sc = mustClaim(t, s, id, 1, 2, "fence-b", t2)
	if !sc.StartedAt.Equal(t1) || !sc.UpdatedAt.Equal(t1) || sc.Fence != "fence-b" {
		t.Fatalf("re-claim kept StartedAt %v UpdatedAt %v fence %q", sc.StartedAt, sc.UpdatedAt, sc.Fence)
	}
	if err := s.Append(c, id, "fence-a", []scanstore.Event{ev(scanstore.StatusRunning, "late", t2)}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Append by the lost attempt: %v", err)
	}
	lost := scanstore.Finish{ID: id, Fence: "fence-a", Status: scanstore.StatusSucceeded, Now: t2, ImageDigest: "sha256:aaaa",
		Outcome: []byte(`{"by":"a"}`), Result: []byte("result-a")}
	if err := s.Finish(c, lost, ev(scanstore.StatusSucceeded, "done by a", t2)); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Finish by the lost attempt: %v", err)
	}
	if _, err := s.Result(c, id); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("the lost attempt's result was stored: %v", err)
	}
	t3 := t2.Add(time.Second)
	won := scanstore.Finish{ID: id, Fence: "fence-b", Status: scanstore.StatusSucceeded, Now: t3, ImageDigest: "sha256:bbbb",
		Outcome: []byte(`{"by":"b"}`), Result: []byte("result-b\x00binary")}
	if err := s.Finish(c, won, ev(scanstore.StatusSucceeded, "done by b", t3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(c, won, ev(scanstore.StatusSucceeded, "twice", t3)); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("second Finish: %v", err)
	}
	sc, err := s.Get(c, id)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Status != scanstore.StatusSucceeded || sc.Fence != "" || sc.ImageDigest != "sha256:bbbb" || string(sc.Outcome) != `{"by":"b"}` ||
		!sc.FinishedAt.Equal(t3) || !sc.UpdatedAt.Equal(t3) || !sc.StartedAt.Equal(t1) {
		t.Fatalf("finished scan %+v", sc)
	}
	if r, err := s.Result(c, id); err != nil || string(r) != "result-b\x00binary" {
		t.Fatalf("Result %q %v", r, err)
	}
	// A finished scan cannot be claimed again, whatever the attempt.
	if _, err := s.Claim(c, scanstore.Claim{ID: id, Run: 1, Fence: "fence-c", Attempt: 3, Now: t3}, ev(scanstore.StatusRunning, "x", t3)); !errors.Is(err, scanstore.ErrNotClaimable) {
		t.Fatalf("Claim of a finished scan: %v", err)
	}
	evs := events(t, s, id)
	wantSequences(t, id, evs)
	want := []string{"Pending:queued", "Running:attempt 1", "Running:layer 1/2", "Running:layer 2/2", "Running:attempt 2", "Succeeded:done by b"}
	if diff := cmp.Diff(want, states(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if sc.LastSequence != int64(len(want)) {
		t.Errorf("LastSequence %d, want %d", sc.LastSequence, len(want))
	}
	// Failed keeps its reason and stores no result.
	mustCreate(t, s, newScan("scan-failed", scanstore.KindQueued, base))
	mustClaim(t, s, "scan-failed", 1, 1, "f1", t1)
	if err := s.Finish(c, scanstore.Finish{ID: "scan-failed", Fence: "f1", Status: scanstore.StatusFailed, Now: t2, FailureReason: "pull: 404"},
		ev(scanstore.StatusFailed, "pull: 404", t2)); err != nil {
		t.Fatal(err)
	}
	if sc, _ := s.Get(c, "scan-failed"); sc.Status != scanstore.StatusFailed || sc.FailureReason != "pull: 404" || sc.Outcome != nil {
		t.Fatalf("failed scan %+v", sc)
	}
	if err := s.Finish(c, scanstore.Finish{ID: "scan-failed", Fence: "f1", Status: scanstore.StatusRunning, Now: t2}, ev(scanstore.StatusRunning, "x", t2)); err == nil {
		t.Fatal("Finish with status Running accepted")
	}
}

func testHeartbeatCancel(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	id := "scan-hb"
	mustCreate(t, s, newScan(id, scanstore.KindUpload, base))
	mustClaim(t, s, id, 1, 1, "f", base)
	until := base.Add(10 * time.Minute)
	sc, err := s.Heartbeat(c, id, "f", until)
	if err != nil || !sc.LeaseUntil.Equal(until) || sc.Status != scanstore.StatusRunning {
		t.Fatalf("Heartbeat: %+v %v", sc, err)
	}
	sc, err = s.Heartbeat(c, id, "g", base.Add(time.Hour))
	if !errors.Is(err, scanstore.ErrFenceLost) || !sc.LeaseUntil.Equal(until) {
		t.Fatalf("Heartbeat with another fence: %+v %v", sc, err)
	}
	at := base.Add(time.Minute)
	sc, cancelled, err := s.Cancel(c, id, at, ev(scanstore.StatusCancelled, "cancelled by ci-bot", at))
	if err != nil || !cancelled || sc.Status != scanstore.StatusCancelled || sc.Fence != "" || !sc.FinishedAt.Equal(at) {
		t.Fatalf("Cancel: %+v %v %v", sc, cancelled, err)
	}
	// The holder learns of it at its next heartbeat, and can write nothing more.
	sc, err = s.Heartbeat(c, id, "f", base.Add(time.Hour))
	if !errors.Is(err, scanstore.ErrFenceLost) || sc.Status != scanstore.StatusCancelled {
		t.Fatalf("Heartbeat after cancel: %+v %v", sc, err)
	}
	if err := s.Finish(c, scanstore.Finish{ID: id, Fence: "f", Status: scanstore.StatusSucceeded, Now: at}, ev(scanstore.StatusSucceeded, "x", at)); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Finish after cancel: %v", err)
	}
	if _, cancelled, err := s.Cancel(c, id, at, ev(scanstore.StatusCancelled, "again", at)); err != nil || cancelled {
		t.Fatalf("second Cancel: %v %v", cancelled, err)
	}
	if _, _, err := s.Cancel(c, "unknown", at, ev(scanstore.StatusCancelled, "x", at)); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("Cancel unknown: %v", err)
	}
	if _, err := s.Heartbeat(c, "unknown", "f", at); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("Heartbeat unknown: %v", err)
	}
	// A pending scan cancels too.
	mustCreate(t, s, newScan("scan-pending", scanstore.KindQueued, base))
	if sc, cancelled, err := s.Cancel(c, "scan-pending", at, ev(scanstore.StatusCancelled, "cancelled", at)); err != nil || !cancelled || sc.Status != scanstore.StatusCancelled {
		t.Fatalf("Cancel pending: %+v %v %v", sc, cancelled, err)
	}
	if _, err := s.Claim(c, scanstore.Claim{ID: "scan-pending", Run: 1, Fence: "f", Attempt: 1, Now: at}, ev(scanstore.StatusRunning, "x", at)); !errors.Is(err, scanstore.ErrNotClaimable) {
		t.Fatalf("Claim of a cancelled scan: %v", err)
	}
	wantSequences(t, id, events(t, s, id))
}

func testRelease(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	id := "scan-release"
	mustCreate(t, s, newScan(id, scanstore.KindQueued, base))
	t1 := base.Add(time.Second)
	mustClaim(t, s, id, 1, 1, "f1", t1)
	t2 := t1.Add(time.Second)
	if err := s.Release(c, id, "other", t2, ev(scanstore.StatusPending, "x", t2)); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Release with another fence: %v", err)
	}
	if err := s.Release(c, id, "f1", t2, ev(scanstore.StatusPending, "retrying in 5s", t2)); err != nil {
		t.Fatal(err)
	}
	sc, _ := s.Get(c, id)
	if sc.Status != scanstore.StatusPending || sc.Fence != "" || !sc.UpdatedAt.Equal(t2) || !sc.StartedAt.Equal(t1) {
		t.Fatalf("released %+v", sc)
	}
	if err := s.Append(c, id, "f1", []scanstore.Event{ev(scanstore.StatusRunning, "late", t2)}); !errors.Is(err, scanstore.ErrFenceLost) {
		t.Fatalf("Append after release: %v", err)
	}
	t3 := t2.Add(5 * time.Second)
	sc = mustClaim(t, s, id, 1, 2, "f2", t3)
	if sc.Attempt != 2 || !sc.UpdatedAt.Equal(t3) {
		t.Fatalf("second claim %+v", sc)
	}
}

func testRerun(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	id := "scan-rerun"
	mustCreate(t, s, newScan(id, scanstore.KindQueued, base))
	at := base.Add(time.Second)
	if _, started, err := s.Rerun(c, id, at, at.Add(time.Minute), ev(scanstore.StatusPending, "forced", at)); err != nil || started {
		t.Fatalf("Rerun of a pending scan: %v %v", started, err)
	}
	mustClaim(t, s, id, 1, 1, "f", at)
	if err := s.Finish(c, scanstore.Finish{ID: id, Fence: "f", Status: scanstore.StatusSucceeded, Now: at, ImageDigest: "sha256:1",
		Outcome: []byte(`{}`), Result: []byte("r1")}, ev(scanstore.StatusSucceeded, "done", at)); err != nil {
		t.Fatal(err)
	}
	t2 := at.Add(time.Hour)
	sc, started, err := s.Rerun(c, id, t2, t2.Add(time.Minute), ev(scanstore.StatusPending, "queued (forced re-run)", t2))
	if err != nil || !started {
		t.Fatalf("Rerun: %v %v", started, err)
	}
	if sc.Run != 2 || sc.Status != scanstore.StatusPending || sc.Attempt != 0 || !sc.StartedAt.IsZero() || !sc.FinishedAt.IsZero() ||
		sc.ImageDigest != "" || sc.Outcome != nil || !sc.UpdatedAt.Equal(t2) || !sc.LeaseUntil.Equal(t2.Add(time.Minute)) {
		t.Fatalf("rerun scan %+v", sc)
	}
	if _, err := s.Result(c, id); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("previous result kept: %v", err)
	}
	// A delivery of the previous run cannot claim the new one.
	if _, err := s.Claim(c, scanstore.Claim{ID: id, Run: 1, Fence: "old", Attempt: 5, Now: t2}, ev(scanstore.StatusRunning, "x", t2)); !errors.Is(err, scanstore.ErrNotClaimable) {
		t.Fatalf("Claim with the previous run: %v", err)
	}
	mustClaim(t, s, id, 2, 1, "g", t2)
	evs := events(t, s, id)
	wantSequences(t, id, evs)
	want := []string{"Pending:queued", "Running:attempt 1", "Succeeded:done", "Pending:queued (forced re-run)", "Running:attempt 1"}
	if diff := cmp.Diff(want, states(evs)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if _, _, err := s.Rerun(c, "unknown", t2, t2, ev(scanstore.StatusPending, "x", t2)); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("Rerun unknown: %v", err)
	}
}

func testAbandon(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	for i, id := range []string{"up-old", "up-new", "up-older"} {
		sc := newScan(id, scanstore.KindUpload, base)
		sc.LeaseUntil = base.Add([]time.Duration{time.Minute, time.Hour, 30 * time.Second}[i])
		mustCreate(t, s, sc)
	}
	q := newScan("queued-1", scanstore.KindQueued, base)
	mustCreate(t, s, q)
	now := base.Add(2 * time.Minute)
	exp, err := s.Expired(c, scanstore.KindUpload, now, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range exp {
		ids = append(ids, e.ID)
	}
	if diff := cmp.Diff([]string{"up-older", "up-old"}, ids); diff != "" {
		t.Errorf("Expired (-want +got):\n%s", diff)
	}
	if exp, _ := s.Expired(c, scanstore.KindUpload, now, 1); len(exp) != 1 || exp[0].ID != "up-older" {
		t.Errorf("Expired limit 1: %v", exp)
	}
	// Still beating: not abandoned. Wrong run: not abandoned.
	if ok, err := s.Abandon(c, scanstore.Abandon{ID: "up-new", Run: 1, Reason: "x", Now: now, Expired: true}, ev(scanstore.StatusFailed, "x", now)); err != nil || ok {
		t.Fatalf("Abandon of a beating scan: %v %v", ok, err)
	}
	if ok, err := s.Abandon(c, scanstore.Abandon{ID: "up-old", Run: 2, Reason: "x", Now: now, Expired: true}, ev(scanstore.StatusFailed, "x", now)); err != nil || ok {
		t.Fatalf("Abandon of another run: %v %v", ok, err)
	}
	reason := "interrupted: the replica running it stopped"
	if ok, err := s.Abandon(c, scanstore.Abandon{ID: "up-old", Run: 1, Reason: reason, Now: now, Expired: true}, ev(scanstore.StatusFailed, reason, now)); err != nil || !ok {
		t.Fatalf("Abandon: %v %v", ok, err)
	}
	sc, _ := s.Get(c, "up-old")
	if sc.Status != scanstore.StatusFailed || sc.FailureReason != reason || !sc.FinishedAt.Equal(now) {
		t.Fatalf("abandoned %+v", sc)
	}
	if ok, _ := s.Abandon(c, scanstore.Abandon{ID: "up-old", Run: 1, Reason: reason, Now: now, Expired: true}, ev(scanstore.StatusFailed, reason, now)); ok {
		t.Fatal("abandoned twice")
	}
	// Without Expired the lease does not matter (the queue said the job is dead).
	if ok, err := s.Abandon(c, scanstore.Abandon{ID: "queued-1", Run: 1, Reason: "dead", Now: base}, ev(scanstore.StatusFailed, "dead", base)); err != nil || !ok {
		t.Fatalf("Abandon without expiry: %v %v", ok, err)
	}
	if got := states(events(t, s, "up-old")); len(got) != 2 || got[1] != "Failed:"+reason {
		t.Errorf("events %v", got)
	}
}

func testLatest(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	if _, err := s.LatestByImageDigest(c, "sha256:d"); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	for i, id := range []string{"l1", "l2", "l3"} {
		mustCreate(t, s, newScan(id, scanstore.KindQueued, base))
		mustClaim(t, s, id, 1, 1, "f", base)
		at := base.Add(time.Duration(i) * time.Minute)
		st, digest := scanstore.StatusSucceeded, "sha256:d"
		if id == "l3" {
			st = scanstore.StatusFailed // newest, but failed
		}
		if id == "l1" {
			at = base.Add(time.Hour) // newest success, created first
		}
		if err := s.Finish(c, scanstore.Finish{ID: id, Fence: "f", Status: st, Now: at, ImageDigest: digest}, ev(st, "done", at)); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := s.LatestByImageDigest(c, "sha256:d")
	if err != nil || sc.ID != "l1" {
		t.Fatalf("latest %+v %v", sc.ID, err)
	}
}

func testEventPaging(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	id := "scan-paging"
	mustCreate(t, s, newScan(id, scanstore.KindQueued, base))
	mustClaim(t, s, id, 1, 1, "f", base)
	var batch []scanstore.Event
	for i := range 25 {
		batch = append(batch, ev(scanstore.StatusRunning, fmt.Sprintf("step %02d", i), base.Add(time.Duration(i)*time.Millisecond)))
	}
	if err := s.Append(c, id, "f", batch); err != nil {
		t.Fatal(err)
	}
	var all []scanstore.Event
	after := int64(0)
	for {
		page, err := s.Events(c, id, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		all = append(all, page...)
		after = page[len(page)-1].Sequence
	}
	wantSequences(t, id, all)
	if len(all) != 27 || all[26].Message != "step 24" || !all[26].Time.Equal(base.Add(24*time.Millisecond)) {
		t.Fatalf("paged %d events, last %+v", len(all), all[len(all)-1])
	}
	if evs, err := s.Events(c, "unknown", 0, 10); err != nil || len(evs) != 0 {
		t.Fatalf("Events of an unknown scan: %v %v", evs, err)
	}
	if err := s.Append(c, id, "f", nil); err != nil {
		t.Fatalf("empty Append: %v", err)
	}
}

func testLayers(t *testing.T, s scanstore.Store) {
	c := ctx(t)
	const fp = "0123abcd"
	d1, d2, d3 := "sha256:"+hex64('1'), "sha256:"+hex64('2'), "sha256:"+hex64('3')
	blob2 := "sha256:" + hex64('b')
	if _, err := s.GetLayer(c, fp, d1, base); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("GetLayer of an empty store: %v", err)
	}
	if known, err := s.KnownLayers(c, fp, []string{d1}); err != nil || len(known) != 0 {
		t.Fatalf("KnownLayers of an empty store: %v %v", known, err)
	}
	if err := s.PutLayer(c, fp, d1, []byte("value-1\x00"), base); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetLayer(c, fp, d1, base); err != nil || string(v) != "value-1\x00" {
		t.Fatalf("GetLayer %q %v", v, err)
	}
	// Another fingerprint is another cache.
	if _, err := s.GetLayer(c, "ffff0000", d1, base); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("GetLayer with another fingerprint: %v", err)
	}
	// Known by name, value held elsewhere.
	if err := s.NameLayers(c, fp, []scanstore.LayerName{{DiffID: d2, Digest: blob2}, {DiffID: d1}}, base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetLayer(c, fp, d2, base); !errors.Is(err, scanstore.ErrNotFound) {
		t.Fatalf("GetLayer of a named layer without value: %v", err)
	}
	known, err := s.KnownLayers(c, fp, []string{d3, blob2, d1, d2, d1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{d1, d2, blob2}
	slices.Sort(want)
	if diff := cmp.Diff(want, known); diff != "" {
		t.Errorf("KnownLayers (-want +got):\n%s", diff)
	}
	// A nil put does not erase a value; a value fills a named one.
	if err := s.PutLayer(c, fp, d1, nil, base); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetLayer(c, fp, d1, base); string(v) != "value-1\x00" {
		t.Fatalf("nil PutLayer erased the value: %q", v)
	}
	if err := s.PutLayer(c, fp, d2, []byte("value-2"), base); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetLayer(c, fp, d2, base); string(v) != "value-2" {
		t.Fatalf("value of d2: %q", v)
	}
	// Prune: d1 was used at base+1h (NameLayers), d2 at base+1h too; d3 put at base only.
	if err := s.PutLayer(c, fp, d3, []byte("3"), base); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneLayers(c, base.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("PruneLayers: %d %v", n, err)
	}
	if known, _ := s.KnownLayers(c, fp, []string{d3, d1}); !slices.Equal(known, []string{d1}) {
		t.Fatalf("after prune, known %v", known)
	}
	n, err = s.PruneLayers(c, base.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PruneLayers all: %d %v", n, err)
	}
	if known, _ := s.KnownLayers(c, fp, []string{d1, d2, blob2}); len(known) != 0 {
		t.Fatalf("names outlived their layers: %v", known)
	}
}

func hex64(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func testCanceled(t *testing.T, s scanstore.Store) {
	mustCreate(t, s, newScan("scan-c", scanstore.KindQueued, base))
	mustClaim(t, s, "scan-c", 1, 1, "f", base)
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Create(cctx, newScan("scan-d", scanstore.KindQueued, base), ev(scanstore.StatusPending, "x", base)); err == nil {
		t.Error("Create with a cancelled context succeeded")
	}
	if err := s.Finish(cctx, scanstore.Finish{ID: "scan-c", Fence: "f", Status: scanstore.StatusSucceeded, Now: base}, ev(scanstore.StatusSucceeded, "x", base)); err == nil {
		t.Error("Finish with a cancelled context succeeded")
	}
	if _, err := s.Get(ctx(t), "scan-d"); !errors.Is(err, scanstore.ErrNotFound) {
		t.Errorf("cancelled Create wrote: %v", err)
	}
	sc, _ := s.Get(ctx(t), "scan-c")
	if sc.Status != scanstore.StatusRunning || len(events(t, s, "scan-c")) != 2 {
		t.Errorf("cancelled Finish wrote: %+v", sc)
	}
}

// concurrentDeliveries plays the queue's redeliveries: many deliveries of one run claim in
// turn (each with a higher attempt) while earlier ones try to finish. Exactly one Finish may
// succeed, and it must be by the fence current at that moment.
func concurrentDeliveries(t *testing.T, ss []scanstore.Store) {
	c := ctx(t)
	const scans, deliveries = 4, 8
	for i := range scans {
		id := fmt.Sprintf("race-%d", i)
		mustCreate(t, ss[0], newScan(id, scanstore.KindQueued, base))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won []string
		for a := 1; a <= deliveries; a++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := ss[a%len(ss)]
				fence := fmt.Sprintf("fence-%d", a)
				_, err := s.Claim(c, scanstore.Claim{ID: id, Run: 1, Fence: fence, Attempt: a, LeaseUntil: base, Now: base},
					ev(scanstore.StatusRunning, fence, base))
				if errors.Is(err, scanstore.ErrNotClaimable) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				_ = s.Append(c, id, fence, []scanstore.Event{ev(scanstore.StatusRunning, "work "+fence, base)})
				err = s.Finish(c, scanstore.Finish{ID: id, Fence: fence, Status: scanstore.StatusSucceeded, Now: base, Result: []byte(fence)},
					ev(scanstore.StatusSucceeded, "done "+fence, base))
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, fence)
					mu.Unlock()
				case !errors.Is(err, scanstore.ErrFenceLost):
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%s: %d finishes succeeded (%v), want exactly 1", id, len(won), won)
		}
		r, err := ss[0].Result(c, id)
		if err != nil || string(r) != won[0] {
			t.Fatalf("%s: result %q %v, want the winner's %q", id, r, err, won[0])
		}
		evs := events(t, ss[0], id)
		wantSequences(t, id, evs)
		if last := evs[len(evs)-1]; last.Message != "done "+won[0] {
			t.Fatalf("%s: last event %q", id, last.Message)
		}
		// No event of a delivery after the winner's finish.
		n := 0
		for _, e := range evs {
			if e.State == scanstore.StatusSucceeded {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d terminal events", id, n)
		}
	}
}

func concurrentAppend(t *testing.T, ss []scanstore.Store) {
	c := ctx(t)
	id := "append-race"
	mustCreate(t, ss[0], newScan(id, scanstore.KindQueued, base))
	mustClaim(t, ss[0], id, 1, 1, "f", base)
	const writers, each = 6, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ss[w%len(ss)]
			for i := range each {
				if err := s.Append(c, id, "f", []scanstore.Event{ev(scanstore.StatusRunning, fmt.Sprintf("w%d-%d", w, i), base)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	evs := events(t, ss[len(ss)-1], id)
	wantSequences(t, id, evs)
	if len(evs) != 2+writers*each {
		t.Fatalf("%d events, want %d", len(evs), 2+writers*each)
	}
	// Each writer's events are in its own order.
	last := map[byte]int{}
	for _, e := range evs[2:] {
		var w byte
		var i int
		if _, err := fmt.Sscanf(e.Message, "w%c-%d", &w, &i); err != nil {
			t.Fatal(err)
		}
		if p, ok := last[w]; ok && i != p+1 {
			t.Fatalf("writer %c: event %d after %d", w, i, p)
		}
		last[w] = i
	}
}

func concurrentCreate(t *testing.T, ss []scanstore.Store) {
	c := ctx(t)
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok, err := ss[i%len(ss)].Create(c, newScan("same", scanstore.KindQueued, base), ev(scanstore.StatusPending, "queued", base))
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("%d creates succeeded, want 1", created)
	}
	if evs := events(t, ss[0], "same"); len(evs) != 1 {
		t.Fatalf("%d events", len(evs))
	}
}

func seeEachOther(t *testing.T, ss []scanstore.Store) {
	c := ctx(t)
	a, b := ss[0], ss[1]
	mustCreate(t, a, newScan("shared", scanstore.KindQueued, base))
	mustClaim(t, b, "shared", 1, 1, "f", base)
	if err := a.Finish(c, scanstore.Finish{ID: "shared", Fence: "f", Status: scanstore.StatusSucceeded, Now: base, Result: []byte("r")},
		ev(scanstore.StatusSucceeded, "done", base)); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Result(c, "shared"); err != nil || string(r) != "r" {
		t.Fatalf("result on the other replica: %q %v", r, err)
	}
	if err := b.PutLayer(c, "0123abcd", "sha256:"+hex64('1'), []byte("v"), base); err != nil {
		t.Fatal(err)
	}
	if known, _ := a.KnownLayers(c, "0123abcd", []string{"sha256:" + hex64('1')}); len(known) != 1 {
		t.Fatalf("layer not known on the other replica: %v", known)
	}
}
