// Package storetest is the conformance suite of reportstore's backends: each runs Run on fresh,
// empty stores and must pass it unchanged.
//
// Fixtures use times with a sub-millisecond part and a zone east of UTC, so a backend that
// keeps more or less than milliseconds, or reads back local time, fails.
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
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/stellaops/stellaops/internal/report/reportstore"
)

// Run runs the suite. open is called once per test and returns a new, empty store; the suite
// closes it when the test ends and fails the test if Close fails.
func Run(t *testing.T, open func(t *testing.T) reportstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s reportstore.Store)
	}{
		{"ReportRoundTrip", testReportRoundTrip},
		{"ReportAgainIsLatest", testReportAgain},
		{"LatestReportPerImage", testLatestPerImage},
		{"InvalidReport", testInvalidReport},
		{"AttestationRoundTrip", testAttestationRoundTrip},
		{"AttestationOnce", testAttestationOnce},
		{"LatestAttestation", testLatestAttestation},
		{"InvalidAttestation", testInvalidAttestation},
		{"NotFound", testNotFound},
		{"CanceledContextWritesNothing", testCanceled},
		{"Concurrent", testConcurrent},
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

// base has a sub-millisecond part (dropped by the store) and a zone east of UTC (read back as
// UTC, same instant).
var base = time.Date(2026, 11, 22, 15, 4, 5, 123456789, time.FixedZone("UTC+05:30", 5*3600+1800))

// logID is a well-formed log entry id derived from s.
func logID(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// digest is a sha256 image digest derived from s.
func digest(s string) string { return "sha256:" + logID("image "+s) }

func report(id, image, verdict string, index uint64, at time.Time) reportstore.Report {
	return reportstore.Report{
		ReportID: id, ImageDigest: image, Verdict: verdict, PolicyRevision: "rev-1",
		PolicyDigest: logID("policy"), KeyID: "scanner-report-signing",
		Envelope: []byte(`{"payloadType":"application/vnd.stellaops.report+json","payload":"` + id + `","signatures":[]}`),
		LogID:    logID("entry " + id + fmt.Sprint(index)), LogIndex: index, AssembledAt: at,
	}
}

func attestation(name, predicateType string, index uint64, subjects ...string) reportstore.Attestation {
	return reportstore.Attestation{
		ID: logID("attestation " + name), LogIndex: index, PredicateType: predicateType, Subjects: subjects,
		StatementDigest: "sha256:" + logID("statement "+name), KeyID: "stellaops-ed25519-0123456789ab",
		Envelope: []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"` + name + `","signatures":[]}`), CreatedAt: base,
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func putReport(t *testing.T, s reportstore.Store, r reportstore.Report) reportstore.Report {
	t.Helper()
	got, err := s.PutReport(ctx(t), r)
	if err != nil {
		t.Fatalf("put report %s: %v", r.ReportID, err)
	}
	return got
}

func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

func testReportRoundTrip(t *testing.T, s reportstore.Store) {
	in := report("report-aaaaaaaaaaaaaaaaaaaa", digest("a"), "blocked", 7, base)
	in.ScanID = "2f6c17f9b3f548e2a28b9c412f4d63f8"
	got := putReport(t, s, in)
	want := in
	want.CreatedAt = time.Date(2026, 11, 22, 9, 34, 5, 123000000, time.UTC)
	want.AssembledAt = want.CreatedAt
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("put returned (-want +got):\n%s", diff)
	}
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("created at %v is not UTC", got.CreatedAt)
	}
	for what, fn := range map[string]func() (reportstore.Report, error){
		"by id":  func() (reportstore.Report, error) { return s.Report(ctx(t), in.ReportID) },
		"latest": func() (reportstore.Report, error) { return s.LatestReport(ctx(t), in.ImageDigest) },
	} {
		r, err := fn()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
}

// Assembling a report again re-signs it and makes it the image's latest, keeping when it was
// first made; a report without a scan id keeps the one stored.
func testReportAgain(t *testing.T, s reportstore.Store) {
	img := digest("again")
	first := report("report-1111111111111111111a", img, "blocked", 1, base)
	first.ScanID = "scan-1"
	putReport(t, s, first)
	putReport(t, s, report("report-2222222222222222222b", img, "pass", 2, base.Add(time.Second)))
	if r, err := s.LatestReport(ctx(t), img); err != nil || r.ReportID != "report-2222222222222222222b" {
		t.Fatalf("latest %+v %v", r.ReportID, err)
	}
	again := report("report-1111111111111111111a", img, "blocked", 3, base.Add(2*time.Second))
	again.KeyID, again.Envelope = "rotated-key", []byte(`{"re-signed":true}`)
	got := putReport(t, s, again)
	if got.KeyID != "rotated-key" || string(got.Envelope) != `{"re-signed":true}` || got.LogIndex != 3 || got.LogID != again.LogID {
		t.Errorf("signature not replaced: %+v", got)
	}
	if !got.CreatedAt.Equal(reportstore.Timestamp(base)) || !got.AssembledAt.Equal(reportstore.Timestamp(base.Add(2*time.Second))) {
		t.Errorf("times created %v assembled %v", got.CreatedAt, got.AssembledAt)
	}
	if got.ScanID != "scan-1" {
		t.Errorf("scan id %q, want the stored one kept", got.ScanID)
	}
	if r, err := s.LatestReport(ctx(t), img); err != nil || r.ReportID != first.ReportID {
		t.Fatalf("latest after assembling again: %q %v", r.ReportID, err)
	}
	// Same clock reading: the order of storing still decides.
	putReport(t, s, report("report-2222222222222222222b", img, "pass", 4, base.Add(2*time.Second)))
	if r, err := s.LatestReport(ctx(t), img); err != nil || r.ReportID != "report-2222222222222222222b" {
		t.Fatalf("latest at an equal time: %q %v", r.ReportID, err)
	}
	withScan := report("report-1111111111111111111a", img, "blocked", 5, base.Add(3*time.Second))
	withScan.ScanID = "scan-2"
	if got := putReport(t, s, withScan); got.ScanID != "scan-2" {
		t.Errorf("scan id %q, want scan-2", got.ScanID)
	}
}

func testLatestPerImage(t *testing.T, s reportstore.Store) {
	for i := range 6 {
		img := digest(fmt.Sprint(i % 3))
		putReport(t, s, report(fmt.Sprintf("report-%020d", i), img, "pass", uint64(i), base))
	}
	for i := range 3 {
		r, err := s.LatestReport(ctx(t), digest(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("report-%020d", i+3); r.ReportID != want {
			t.Errorf("image %d: latest %s, want %s", i, r.ReportID, want)
		}
	}
}

func testInvalidReport(t *testing.T, s reportstore.Store) {
	good := report("report-cccccccccccccccccccc", digest("c"), "warn", 1, base)
	for name, mutate := range map[string]func(*reportstore.Report){
		"no id":          func(r *reportstore.Report) { r.ReportID = "" },
		"no image":       func(r *reportstore.Report) { r.ImageDigest = "" },
		"no verdict":     func(r *reportstore.Report) { r.Verdict = "" },
		"no key":         func(r *reportstore.Report) { r.KeyID = "" },
		"no envelope":    func(r *reportstore.Report) { r.Envelope = nil },
		"bad log id":     func(r *reportstore.Report) { r.LogID = strings.ToUpper(r.LogID) },
		"no time":        func(r *reportstore.Report) { r.AssembledAt = time.Time{} },
		"huge id":        func(r *reportstore.Report) { r.ReportID = strings.Repeat("x", 300) },
		"no policy":      func(r *reportstore.Report) { r.PolicyDigest = "" },
		"huge log index": func(r *reportstore.Report) { r.LogIndex = 1 << 63 },
	} {
		r := good
		mutate(&r)
		_, err := s.PutReport(ctx(t), r)
		wantErr(t, err, reportstore.ErrInvalid, name)
	}
	_, err := s.LatestReport(ctx(t), good.ImageDigest)
	wantErr(t, err, reportstore.ErrNotFound, "after invalid puts")
}

func testAttestationRoundTrip(t *testing.T, s reportstore.Store) {
	upper := "SHA256:" + strings.TrimPrefix(digest("b"), "sha256:")
	in := attestation("slsa", "https://slsa.dev/provenance/v1", 4, digest("b"), digest("a"), digest("a"))
	got, created, err := s.PutAttestation(ctx(t), in)
	if err != nil || !created {
		t.Fatalf("put: created %v, %v", created, err)
	}
	want := in
	want.Subjects = []string{digest("a"), digest("b")}
	slices.Sort(want.Subjects)
	want.CreatedAt = reportstore.Timestamp(base)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("put returned (-want +got):\n%s", diff)
	}
	back, err := s.Attestation(ctx(t), in.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
	// Subject digests are matched after normalisation; the algorithm must be lower-case.
	_, err = s.LatestAttestation(ctx(t), upper)
	wantErr(t, err, reportstore.ErrInvalid, "upper-case algorithm")
	mixed := "sha256:" + strings.ToUpper(strings.TrimPrefix(digest("b"), "sha256:"))
	if a, err := s.LatestAttestation(ctx(t), mixed); err != nil || a.ID != in.ID {
		t.Errorf("upper-case hex: %v %v", a.ID, err)
	}
}

func testAttestationOnce(t *testing.T, s reportstore.Store) {
	first := attestation("once", "https://cyclonedx.org/bom", 1, digest("x"))
	if _, created, err := s.PutAttestation(ctx(t), first); err != nil || !created {
		t.Fatalf("first put: %v %v", created, err)
	}
	second := first
	second.KeyID, second.LogIndex, second.Subjects = "other-key", 9, []string{digest("y")}
	got, created, err := s.PutAttestation(ctx(t), second)
	if err != nil || created {
		t.Fatalf("second put: created %v, %v", created, err)
	}
	if got.KeyID != first.KeyID || got.LogIndex != 1 {
		t.Errorf("second put replaced the record: %+v", got)
	}
	if _, err := s.LatestAttestation(ctx(t), digest("y")); !errors.Is(err, reportstore.ErrNotFound) {
		t.Errorf("the ignored second put indexed its subject: %v", err)
	}
}

func testLatestAttestation(t *testing.T, s reportstore.Store) {
	const (
		slsa = "https://slsa.dev/provenance/v1"
		cdx  = "https://cyclonedx.org/bom"
		spdx = "https://spdx.dev/Document"
	)
	img := digest("img")
	for _, a := range []reportstore.Attestation{
		attestation("sbom-old", cdx, 2, img),
		attestation("provenance", slsa, 5, img, digest("other")),
		attestation("sbom-new", spdx, 9, img),
		attestation("unrelated", cdx, 12, digest("other")),
	} {
		if _, _, err := s.PutAttestation(ctx(t), a); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		types []string
		want  string
	}{
		{nil, "sbom-new"},
		{[]string{slsa}, "provenance"},
		{[]string{cdx}, "sbom-old"},
		{[]string{cdx, spdx}, "sbom-new"},
	} {
		a, err := s.LatestAttestation(ctx(t), img, tc.types...)
		if err != nil {
			t.Fatalf("%v: %v", tc.types, err)
		}
		if a.ID != logID("attestation "+tc.want) {
			t.Errorf("types %v: got log index %d (%s), want %s", tc.types, a.LogIndex, a.PredicateType, tc.want)
		}
	}
	_, err := s.LatestAttestation(ctx(t), img, "https://example.com/none")
	wantErr(t, err, reportstore.ErrNotFound, "unknown predicate type")
	_, err = s.LatestAttestation(ctx(t), img, make([]string, 100)...)
	wantErr(t, err, reportstore.ErrInvalid, "100 predicate types")
}

func testInvalidAttestation(t *testing.T, s reportstore.Store) {
	good := attestation("invalid", "https://cyclonedx.org/bom", 1, digest("i"))
	for name, mutate := range map[string]func(*reportstore.Attestation){
		"bad id":        func(a *reportstore.Attestation) { a.ID = "abc" },
		"no type":       func(a *reportstore.Attestation) { a.PredicateType = "" },
		"no subjects":   func(a *reportstore.Attestation) { a.Subjects = nil },
		"bad subject":   func(a *reportstore.Attestation) { a.Subjects = []string{"sha256:xyz"} },
		"no algorithm":  func(a *reportstore.Attestation) { a.Subjects = []string{"abc"} },
		"no key":        func(a *reportstore.Attestation) { a.KeyID = "" },
		"no envelope":   func(a *reportstore.Attestation) { a.Envelope = nil },
		"no statement":  func(a *reportstore.Attestation) { a.StatementDigest = "" },
		"no time":       func(a *reportstore.Attestation) { a.CreatedAt = time.Time{} },
		"many subjects": func(a *reportstore.Attestation) { a.Subjects = manyDigests(1025) },
	} {
		a := good
		mutate(&a)
		_, _, err := s.PutAttestation(ctx(t), a)
		wantErr(t, err, reportstore.ErrInvalid, name)
	}
	_, err := s.Attestation(ctx(t), good.ID)
	wantErr(t, err, reportstore.ErrNotFound, "after invalid puts")
}

func manyDigests(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = digest(fmt.Sprint(i))
	}
	return out
}

func testNotFound(t *testing.T, s reportstore.Store) {
	_, err := s.Report(ctx(t), "report-00000000000000000000")
	wantErr(t, err, reportstore.ErrNotFound, "report")
	_, err = s.LatestReport(ctx(t), digest("none"))
	wantErr(t, err, reportstore.ErrNotFound, "latest report")
	_, err = s.Attestation(ctx(t), logID("none"))
	wantErr(t, err, reportstore.ErrNotFound, "attestation")
	_, err = s.LatestAttestation(ctx(t), digest("none"))
	wantErr(t, err, reportstore.ErrNotFound, "latest attestation")
}

func testCanceled(t *testing.T, s reportstore.Store) {
	c, cancel := context.WithCancel(ctx(t))
	cancel()
	r := report("report-dddddddddddddddddddd", digest("d"), "pass", 1, base)
	if _, err := s.PutReport(c, r); err == nil {
		t.Error("put report with a canceled context: no error")
	}
	a := attestation("canceled", "https://cyclonedx.org/bom", 1, digest("d"))
	if _, _, err := s.PutAttestation(c, a); err == nil {
		t.Error("put attestation with a canceled context: no error")
	}
	_, err := s.Report(ctx(t), r.ReportID)
	wantErr(t, err, reportstore.ErrNotFound, "report after canceled put")
	_, err = s.LatestAttestation(ctx(t), digest("d"))
	wantErr(t, err, reportstore.ErrNotFound, "attestation after canceled put")
}

// Writers racing on one report and one attestation agree: no errors, one attestation created,
// and the latest report is one of those written.
func testConcurrent(t *testing.T, s reportstore.Store) {
	const n = 8
	img := digest("race")
	var wg sync.WaitGroup
	created := make(chan bool, n)
	errs := make(chan error, 2*n)
	a := attestation("race", "https://slsa.dev/provenance/v1", 3, img)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("report-%020d", i%2)
			if _, err := s.PutReport(ctx(t), report(id, img, "pass", uint64(i), base.Add(time.Duration(i)*time.Millisecond))); err != nil {
				errs <- err
			}
			_, c, err := s.PutAttestation(ctx(t), a)
			if err != nil {
				errs <- err
			}
			created <- c
		}()
	}
	wg.Wait()
	close(errs)
	close(created)
	for err := range errs {
		t.Error(err)
	}
	count := 0
	for c := range created {
		if c {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d writers created the attestation, want 1", count)
	}
	r, err := s.LatestReport(ctx(t), img)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReportID != fmt.Sprintf("report-%020d", 0) && r.ReportID != fmt.Sprintf("report-%020d", 1) {
		t.Errorf("latest %q", r.ReportID)
	}
	if got, err := s.LatestAttestation(ctx(t), img); err != nil || !cmp.Equal(got.Subjects, []string{img}, cmpopts.EquateEmpty()) {
		t.Errorf("latest attestation %+v %v", got, err)
	}
}
