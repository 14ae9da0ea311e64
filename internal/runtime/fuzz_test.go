package runtime_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/runtime"
)

// FuzzDecodeBatch: whatever the body, DecodeBatch returns a batch or a ValidationError with a
// located error, never panics; an accepted batch respects the limits, has unique (tenant,
// eventId) pairs, and each event's stored payload decodes to the same event (normalisation is
// idempotent, so a replayed payload is a duplicate, not a different event). What the one-pass
// decoder accepts, the piece-by-piece one accepts as the same batch, unless an object repeats
// a key.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(readFile(f, "testdata/spec-example.json"))
	f.Add(readFile(f, "testdata/spec-example.canonical.json"))
	f.Add(batch(envelope(f, "a", nil), envelope(f, "b", func(ev map[string]any) { ev["kind"] = "Drift" })))
	f.Add([]byte(`{"events":[{"schemaVersion":"zastava.runtime.event@v1","event":{"eventId":"e","when":"2025-01-01T00:00:00Z","kind":"ContainerStop","tenant":"t","node":"n","delta":{"baselineImageDigest":"sha256:AB"},"loadedLibs":[{"path":"/x","inode":9007199254740991}]}}]}`))
	// Repeated keys: one pass merges the two events (and accepts), pieces keeps the last.
	f.Add([]byte(`{"events":[{"schemaVersion":"zastava.runtime.event@v1","event":{"eventId":"e","when":"2025-01-01T00:00:00Z","kind":"Drift","tenant":"t","node":"n"},"EVENT":{"node":"m"}}]}`))
	f.Add([]byte(`{"events":[]}`))
	f.Add([]byte(`{"events":[null,{}]}`))
	lim := runtime.Limits{MaxBatchSize: 8, MaxPayloadBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := runtime.DecodeBatch(body, lim)
		if err != nil {
			var ve *runtime.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 || ve.Reason == "" || ve.Errors[0].Path == "" {
				t.Fatalf("error %v is not a located ValidationError", err)
			}
			return
		}
		if len(b.Events) == 0 || len(b.Events) > lim.MaxBatchSize {
			t.Fatalf("%d events accepted", len(b.Events))
		}
		if !repeatsKey(body) {
			pb, err := runtime.DecodePieces(body, lim)
			if err != nil {
				t.Fatalf("one pass accepted, pieces refused: %v", err)
			}
			if d := cmp.Diff(b, pb); d != "" {
				t.Fatalf("one pass and pieces differ (-one +pieces):\n%s", d)
			}
		}
		seen := map[[2]string]bool{}
		for _, env := range b.Events {
			e := env.Event
			key := [2]string{e.Tenant, e.EventID}
			if seen[key] || e.Tenant == "" || e.EventID == "" || e.Node == "" {
				t.Fatalf("event key %q accepted", key)
			}
			seen[key] = true
			if d := e.ImageDigest(); d != "" {
				if nd, err := runtime.NormaliseDigest(d); err != nil || nd != d {
					t.Fatalf("image digest %q not normalised: %v", d, err)
				}
			}
			r, err := runtime.NewRecord(env, b.BatchID, time.Unix(1, 0), time.Hour)
			if err != nil {
				t.Fatalf("record of an accepted event: %v", err)
			}
			again, err := runtime.DecodeBatch([]byte(`{"events":[`+string(r.Payload)+`]}`), runtime.DefaultLimits())
			if err != nil {
				t.Fatalf("stored payload %s does not decode: %v", r.Payload, err)
			}
			if d := cmp.Diff(env, again.Events[0]); d != "" {
				t.Fatalf("payload round trip (-first +again):\n%s", d)
			}
		}
	})
}

// repeatsKey reports whether an object of the JSON document body has two keys that
// encoding/json would match to one field (it matches case-insensitively), or body is not one
// JSON document.
func repeatsKey(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   []string
		// key is whether the next string token of an object is a key
		key bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if top != nil && top.object {
					top.key = true
				}
				stack = append(stack, &frame{object: d == '{', key: d == '{'})
			default:
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if top == nil || !top.object {
			continue
		}
		if top.key {
			k := tok.(string)
			for _, seen := range top.keys {
				if strings.EqualFold(seen, k) {
					return true
				}
			}
			top.keys = append(top.keys, k)
			top.key = false
			continue
		}
		top.key = true
	}
}

// FuzzDecodePolicyRequest: a verdict request decodes to normalised, sorted, unique digests or
// to a located ValidationError.
func FuzzDecodePolicyRequest(f *testing.F) {
	f.Add([]byte(`{"namespace":"payments","labels":{"app":"api"},"images":["sha256:deadbeef","sha256:DEADBEEF"]}`))
	f.Add([]byte(`{"images":[]}`))
	f.Add([]byte(`{"images":["x:1"],"labels":{"a b":"c"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := runtime.DecodePolicyRequest(body)
		if err != nil {
			var ve *runtime.ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %v is not a located ValidationError", err)
			}
			return
		}
		if len(req.Images) == 0 || len(req.Images) > runtime.MaxPolicyImages {
			t.Fatalf("%d images", len(req.Images))
		}
		for i, d := range req.Images {
			if nd, err := runtime.NormaliseDigest(d); err != nil || nd != d || (i > 0 && req.Images[i-1] >= d) {
				t.Fatalf("images %q not normalised, sorted and unique", req.Images)
			}
		}
	})
}
