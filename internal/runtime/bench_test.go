package runtime_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/runtime"
)

// benchBatch is a full batch (256 envelopes) of the spec example's event, each with its own
// id, pod and image: about 1 KB per event, as an observer sends them.
func benchBatch(b *testing.B) []byte {
	var spec struct {
		Events []map[string]any `json:"events"`
	}
	if err := json.Unmarshal(readFile(b, "testdata/spec-example.json"), &spec); err != nil {
		b.Fatal(err)
	}
	envs := make([]string, 256)
	for i := range envs {
		env := spec.Events[0]
		ev := env["event"].(map[string]any)
		ev["eventId"] = fmt.Sprintf("evt-%08x", i)
		w := ev["workload"].(map[string]any)
		w["pod"] = fmt.Sprintf("api-7c9fbbd8b7-%05d", i)
		w["imageRef"] = fmt.Sprintf("ghcr.io/acme/api@sha256:%064x", i%8)
		raw, err := json.Marshal(env)
		if err != nil {
			b.Fatal(err)
		}
		envs[i] = string(raw)
	}
	return []byte(`{"batchId":"node-a-2025-10-20T15:03:12Z","events":[` + strings.Join(envs, ",") + `]}`)
}

// BenchmarkDecodeBatch decodes and validates a 256-event batch; ns/event is the figure the
// ingest budget (≥ 20,000 events/s on 2 cores, with storage) is spent from.
func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBatch(b)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := runtime.DecodeBatch(body, runtime.DefaultLimits()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/event")
}

// BenchmarkNewRecord builds the stored records (canonical JSON payloads) of a decoded batch.
func BenchmarkNewRecord(b *testing.B) {
	batch, err := runtime.DecodeBatch(benchBatch(b), runtime.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for b.Loop() {
		for _, env := range batch.Events {
			if _, err := runtime.NewRecord(env, batch.BatchID, now, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*256), "ns/event")
}
