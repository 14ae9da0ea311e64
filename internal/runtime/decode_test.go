package runtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/runtime"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// The spec's example decodes to exactly its fields, normalised, and is stored as the golden
// canonical payload.
func TestDecodeSpecExample(t *testing.T) {
	b, err := runtime.DecodeBatch(readFile(t, "testdata/spec-example.json"), runtime.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	want := &runtime.Batch{BatchID: "node-a-2025-10-20T15:03:12Z", Events: []runtime.Envelope{{
		SchemaVersion: "zastava.runtime.event@v1",
		Event: runtime.Event{
			EventID: "evt-2f9c02b8", When: "2025-10-20T15:03:08.000Z", Kind: runtime.KindContainerStart,
			Tenant: "tenant-alpha", Node: "cluster-a/node-01",
			Runtime: &runtime.Engine{Engine: "containerd", Version: "1.7.19"},
			Workload: &runtime.Workload{Platform: "kubernetes", Namespace: "payments", Pod: "api-7c9fbbd8b7-ktd84", Container: "api",
				ContainerID: "containerd://bead5...", ImageRef: "ghcr.io/acme/api@sha256:deadbeef"},
			Process:     &runtime.Process{PID: ptr[int64](12345), Entrypoint: []string{"/start.sh", "--serve"}},
			LoadedLibs:  []runtime.LoadedLib{{Path: "/lib/x86_64-linux-gnu/libssl.so.3", Inode: ptr[uint64](123456), SHA256: "abc123..."}},
			Posture:     &runtime.Posture{ImageSigned: ptr(true), SBOMReferrer: "present"},
			Delta:       &runtime.Delta{BaselineImageDigest: "sha256:deadbeef"},
			Evidence:    []runtime.Evidence{{Signal: "proc.maps", Value: "libssl.so.3@0x7f..."}},
			Annotations: map[string]string{"observerVersion": "1.0.0"},
		},
	}}}
	if d := cmp.Diff(want, b); d != "" {
		t.Fatalf("decoded (-want +got):\n%s", d)
	}
	now := time.Date(2025, 10, 20, 15, 3, 12, 987_654_321, time.UTC)
	r, err := runtime.NewRecord(b.Events[0], b.BatchID, now, 45*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wantRec := runtime.Record{
		Tenant: "tenant-alpha", EventID: "evt-2f9c02b8", Node: "cluster-a/node-01", Kind: runtime.KindContainerStart,
		ObservedAt: time.Date(2025, 10, 20, 15, 3, 8, 0, time.UTC), ImageDigest: "sha256:deadbeef",
		Namespace: "payments", Pod: "api-7c9fbbd8b7-ktd84", Container: "api", ImageSigned: ptr(true), SBOMReferrer: "present",
		BatchID: "node-a-2025-10-20T15:03:12Z", ReceivedAt: now.Truncate(time.Millisecond),
		ExpiresAt: time.Date(2025, 12, 4, 15, 3, 12, 987_000_000, time.UTC), Payload: r.Payload,
	}
	if d := cmp.Diff(wantRec, r); d != "" {
		t.Fatalf("record (-want +got):\n%s", d)
	}
	const golden = "testdata/spec-example.canonical.json"
	if *update {
		if err := os.WriteFile(golden, r.Payload, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if g := readFile(t, golden); !bytes.Equal(g, r.Payload) {
		t.Errorf("payload\n%s\nwant (%s)\n%s", r.Payload, golden, g)
	}
	// The payload is the envelope again: decoding it gives the same event.
	again, err := runtime.DecodeBatch([]byte(`{"events":[`+string(r.Payload)+`]}`), runtime.DefaultLimits())
	if err != nil || !cmp.Equal(again.Events, b.Events) {
		t.Errorf("payload does not decode to the same event: %v", err)
	}
}

// envelope returns a valid envelope as JSON with edit applied to its event object.
func envelope(t testing.TB, id string, edit func(ev map[string]any)) string {
	t.Helper()
	ev := map[string]any{
		"eventId": id, "when": "2025-10-20T17:03:08.5+02:00", "kind": "Drift", "tenant": "tenant-alpha", "node": "cluster-a/node-01",
		"workload": map[string]any{"namespace": "payments", "imageRef": "ghcr.io/acme/api@sha256:DEADBEEF"},
	}
	if edit != nil {
		edit(ev)
	}
	b, err := json.Marshal(map[string]any{"schemaVersion": runtime.SchemaVersion, "event": ev})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func batch(envs ...string) []byte {
	return []byte(`{"batchId":"b-1","events":[` + strings.Join(envs, ",") + `]}`)
}

func TestDecodeNormalises(t *testing.T) {
	b, err := runtime.DecodeBatch(batch(envelope(t, "evt-1", func(ev map[string]any) {
		ev["runtime"] = map[string]any{}
		ev["posture"] = nil
		ev["delta"] = map[string]any{"baselineImageDigest": "sha256:ABCDEF"}
		ev["workload"] = map[string]any{"imageRef": "nginx:1.25"}
	})), runtime.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	e := b.Events[0].Event
	if e.When != "2025-10-20T15:03:08.500Z" || e.Runtime != nil || e.Posture != nil || e.ImageDigest() != "sha256:abcdef" {
		t.Errorf("normalised event %+v (digest %q)", e, e.ImageDigest())
	}
	r, err := runtime.NewRecord(b.Events[0], b.BatchID, time.Unix(0, 0), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event":{"delta":{"baselineImageDigest":"sha256:abcdef"},"eventId":"evt-1","kind":"Drift","node":"cluster-a/node-01",` +
		`"tenant":"tenant-alpha","when":"2025-10-20T15:03:08.500Z","workload":{"imageRef":"nginx:1.25"}},"schemaVersion":"zastava.runtime.event@v1"}`
	if string(r.Payload) != want {
		t.Errorf("payload\n%s\nwant\n%s", r.Payload, want)
	}
	// imageRef's digest wins over the baseline, lower-cased.
	b, err = runtime.DecodeBatch(batch(envelope(t, "evt-1", func(ev map[string]any) {
		ev["delta"] = map[string]any{"baselineImageDigest": "sha256:00"}
	})), runtime.DefaultLimits())
	if err != nil || b.Events[0].Event.ImageDigest() != "sha256:deadbeef" || b.Events[0].Event.Workload.ImageRef != "ghcr.io/acme/api@sha256:deadbeef" {
		t.Errorf("digest %q (%v)", b.Events[0].Event.ImageDigest(), err)
	}
}

// TestDecodeRefusals covers each 400 of the spec (empty batch, duplicate ids, unsupported
// schema version, payload too large) and the field checks.
func TestDecodeRefusals(t *testing.T) {
	lim := runtime.Limits{MaxBatchSize: 3, MaxPayloadBytes: 4096}
	big := envelope(t, "evt-big", func(ev map[string]any) { ev["annotations"] = map[string]any{"x": strings.Repeat("a", 5000)} })
	cases := []struct {
		name   string
		body   []byte
		reason runtime.Reason
		path   string
		msg    string
	}{
		{"empty list", batch(), runtime.ReasonEmpty, "$.events", "no events"},
		{"null events", []byte(`{"events":null}`), runtime.ReasonEmpty, "$.events", "no events"},
		{"no events member", []byte(`{"batchId":"x"}`), runtime.ReasonEmpty, "$.events", "no events"},
		{"too many", batch(envelope(t, "a", nil), envelope(t, "b", nil), envelope(t, "c", nil), envelope(t, "d", nil)),
			runtime.ReasonTooMany, "$.events", "4 events; at most 3"},
		{"too large", batch(big), runtime.ReasonTooLarge, "$", "at most 4096"},
		{"duplicate ids", batch(envelope(t, "a", nil), envelope(t, "b", nil), envelope(t, "a", nil)),
			runtime.ReasonDuplicate, "$.events[2].event.eventId", `eventId "a" of tenant "tenant-alpha" repeats $.events[0]`},
		{"schema v2", batch(envelope(t, "a", nil), strings.Replace(envelope(t, "b", nil), "@v1", "@v2", 1)),
			runtime.ReasonSchema, "$.events[1].schemaVersion", `"zastava.runtime.event@v2" is not supported`},
		{"schema missing", batch(`{"event":{}}`), runtime.ReasonInvalid, "$.events[0].schemaVersion", "is required"},
		{"event missing", batch(`{"schemaVersion":"zastava.runtime.event@v1"}`), runtime.ReasonInvalid, "$.events[0].event", "is required"},
		{"not JSON", []byte(`{"events":[`), runtime.ReasonInvalid, "$", "malformed JSON"},
		{"trailing data", []byte(`{"events":[]} {}`), runtime.ReasonInvalid, "$", "data after"},
		{"unknown batch field", []byte(`{"events":[],"extra":1}`), runtime.ReasonInvalid, "$", `unknown field "extra"`},
		{"unknown event field", batch(envelope(t, "a", func(ev map[string]any) { ev["owner"] = "x" })), runtime.ReasonInvalid, "$.events[0].event", `unknown field "owner"`},
		{"envelope not an object", batch(`42`), runtime.ReasonInvalid, "$.events[0]", "JSON number"},
		{"wrong type", batch(envelope(t, "a", func(ev map[string]any) { ev["process"] = map[string]any{"pid": "one"} })), runtime.ReasonInvalid, "$.events[0].event", "pid"},
		{"no eventId", batch(envelope(t, "", nil)), runtime.ReasonInvalid, "$.events[0].event.eventId", "is required"},
		{"eventId blank inside", batch(envelope(t, "evt 1", nil)), runtime.ReasonInvalid, "$.events[0].event.eventId", "white space"},
		{"no tenant", batch(envelope(t, "a", func(ev map[string]any) { delete(ev, "tenant") })), runtime.ReasonInvalid, "$.events[0].event.tenant", "is required"},
		{"no node", batch(envelope(t, "a", func(ev map[string]any) { ev["node"] = "" })), runtime.ReasonInvalid, "$.events[0].event.node", "is required"},
		{"node control char", batch(envelope(t, "a", func(ev map[string]any) { ev["node"] = "n\x01" })), runtime.ReasonInvalid, "$.events[0].event.node", "control character"},
		{"bad when", batch(envelope(t, "a", func(ev map[string]any) { ev["when"] = "yesterday" })), runtime.ReasonInvalid, "$.events[0].event.when", "RFC 3339"},
		{"unknown kind", batch(envelope(t, "a", func(ev map[string]any) { ev["kind"] = "ContainerPause" })), runtime.ReasonInvalid, "$.events[0].event.kind", `"ContainerPause" is not a kind`},
		{"bad image digest", batch(envelope(t, "a", func(ev map[string]any) { ev["workload"] = map[string]any{"imageRef": "acme/api@sha256:xyz"} })),
			runtime.ReasonInvalid, "$.events[0].event.workload.imageRef", "want <name>@<algorithm>:<hex>"},
		{"bad baseline digest", batch(envelope(t, "a", func(ev map[string]any) { ev["delta"] = map[string]any{"baselineImageDigest": "deadbeef"} })),
			runtime.ReasonInvalid, "$.events[0].event.delta.baselineImageDigest", "invalid digest"},
		{"inode past 2^53", batch(envelope(t, "a", func(ev map[string]any) {
			ev["loadedLibs"] = []any{map[string]any{"path": "/lib/a.so", "inode": uint64(1) << 60}}
		})), runtime.ReasonInvalid, "$.events[0].event.loadedLibs[0].inode", "2^53-1"},
		{"lib without path", batch(envelope(t, "a", func(ev map[string]any) { ev["loadedLibs"] = []any{map[string]any{"inode": 1}} })),
			runtime.ReasonInvalid, "$.events[0].event.loadedLibs[0].path", "is required"},
		{"negative pid", batch(envelope(t, "a", func(ev map[string]any) { ev["process"] = map[string]any{"pid": -1} })),
			runtime.ReasonInvalid, "$.events[0].event.process.pid", "not a process id"},
		{"evidence without signal", batch(envelope(t, "a", func(ev map[string]any) { ev["evidence"] = []any{map[string]any{"value": "v"}} })),
			runtime.ReasonInvalid, "$.events[0].event.evidence[0].signal", "is required"},
		{"batchId control char", []byte(`{"batchId":"a\u0000","events":[` + envelope(t, "a", nil) + `]}`), runtime.ReasonInvalid, "$.batchId", "control character"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := runtime.DecodeBatch(tc.body, lim)
			var ve *runtime.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("DecodeBatch = %+v, %v; want a ValidationError", b, err)
			}
			if ve.Reason != tc.reason || len(ve.Errors) == 0 || ve.Errors[0].Path != tc.path || !strings.Contains(ve.Errors[0].Msg, tc.msg) {
				t.Fatalf("got %s %+v; want %s at %s containing %q", ve.Reason, ve.Errors, tc.reason, tc.path, tc.msg)
			}
		})
	}
}

// Every problem of a batch is listed (up to a bound), and the total counted beyond it.
func TestDecodeListsErrors(t *testing.T) {
	var envs []string
	for i := range 30 {
		envs = append(envs, envelope(t, fmt.Sprintf("evt-%d", i), func(ev map[string]any) { ev["kind"] = "Nope" }))
	}
	_, err := runtime.DecodeBatch(batch(envs...), runtime.DefaultLimits())
	var ve *runtime.ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 20 || ve.Total != 30 || !strings.HasSuffix(ve.Error(), "(and 29 more)") {
		t.Fatalf("%v: %d listed, %d total", err, len(ve.Errors), ve.Total)
	}
	// The same eventId in two tenants is two events.
	if _, err := runtime.DecodeBatch(batch(envelope(t, "a", nil), envelope(t, "a", func(ev map[string]any) { ev["tenant"] = "tenant-beta" })), runtime.DefaultLimits()); err != nil {
		t.Fatalf("same id, two tenants: %v", err)
	}
}

func TestDecodePolicyRequest(t *testing.T) {
	req, err := runtime.DecodePolicyRequest([]byte(`{"namespace":"payments","labels":{"app":"api"},"images":["sha256:BEEF","sha256:dead","sha256:beef"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(req.Images, []string{"sha256:beef", "sha256:dead"}) || req.Namespace != "payments" || req.Labels["app"] != "api" {
		t.Fatalf("%+v", req)
	}
	for body, want := range map[string]string{
		`{}`:                    "$.images: at least one",
		`{"images":[]}`:         "$.images: at least one",
		`{"images":["latest"]}`: "$.images[0]: invalid digest",
		`{"images":["sha256:aa"],"namespace":"a b"}`: "$.namespace",
		`{"images":["sha256:aa"],"labels":{"":"x"}}`: "$.labels",
		`{"images":["sha256:aa"],"extra":true}`:      `unknown field "extra"`,
		`[]`:                                         "malformed JSON",
		`{"images":["sha256:aa"]} x`:                 "data after",
	} {
		_, err := runtime.DecodePolicyRequest([]byte(body))
		var ve *runtime.ValidationError
		if !errors.As(err, &ve) || !strings.Contains(ve.Error(), want) {
			t.Errorf("%s: %v; want %q", body, err, want)
		}
	}
	many := `{"images":[` + strings.Repeat(`"sha256:aa",`, runtime.MaxPolicyImages) + `"sha256:aa"]}`
	if _, err := runtime.DecodePolicyRequest([]byte(many)); err == nil || !strings.Contains(err.Error(), "at most 256") {
		t.Errorf("257 images: %v", err)
	}
}
