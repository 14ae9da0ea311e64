package policy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/policy"
)

// The digest is the SHA-256 of the RFC 8785 form of the parsed document, here written out.
func TestDigestKnownAnswer(t *testing.T) {
	p := compileString(t, newEngine(t), policy.FormatYAML, "version: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical]\n    action: block\n")
	canon := `{"rules":[{"action":{"type":"block"},"name":"Block Critical","severity":["Critical"]}],"version":"1.0"}`
	if b, _ := canonjson.Marshal(p.Document()); string(b) != canon {
		t.Fatalf("canonical form = %s", b)
	}
	sum := sha256.Sum256([]byte(canon))
	if want := hex.EncodeToString(sum[:]); p.Digest() != want {
		t.Errorf("digest = %s, want %s", p.Digest(), want)
	}
	q := compileString(t, newEngine(t), policy.FormatYAML, "version: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical, High]\n    action: block\n")
	if q.Digest() == p.Digest() {
		t.Error("a different policy has the same digest")
	}
}

func TestHistory(t *testing.T) {
	now := time.Date(2025, 10, 19, 3, 25, 14, 112_345_678, time.UTC)
	h := policy.NewHistory(fixedClock(now))
	e := newEngine(t)
	src := policy.Source{Content: string(readFile(t, "baseline.yaml")), Actor: "alice", Description: "initial"}
	p1, err := e.Compile(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	rev, bound, created := h.Add(p1)
	if !created || rev.RevisionID != "rev-1" || bound.RevisionID() != "rev-1" || p1.RevisionID() != "" ||
		rev.Digest != p1.Digest() || rev.Actor != "alice" || rev.Format != policy.FormatYAML || rev.Content != src.Content {
		t.Errorf("first revision = %+v", rev)
	}
	b, _ := json.Marshal(rev)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if m["createdAt"] != "2025-10-19T03:25:14.112Z" {
		t.Errorf("createdAt = %v", m["createdAt"])
	}
	// The same policy, reformatted, is the same revision.
	same, _ := e.Compile(context.Background(), policy.Source{Content: "# reformatted\n" + src.Content, Actor: "bob"})
	if rev2, _, created := h.Add(same); created || rev2.RevisionID != "rev-1" {
		t.Errorf("re-adding: %+v created=%v", rev2, created)
	}
	p2 := compileString(t, e, policy.FormatRego, string(readFile(t, "rego/gate.rego")))
	if rev2, _, created := h.Add(p2); !created || rev2.RevisionID != "rev-2" || rev2.Format != policy.FormatRego {
		t.Errorf("second revision = %+v", rev2)
	}
	revs, total := h.List(0, 10)
	if total != 2 || len(revs) != 2 || revs[0].RevisionID != "rev-2" || revs[1].RevisionID != "rev-1" {
		t.Errorf("list = %+v (%d)", revs, total)
	}
	if revs, _ := h.List(1, 10); len(revs) != 1 || revs[0].RevisionID != "rev-1" {
		t.Errorf("list from 1 = %+v", revs)
	}
	if latest, ok := h.Latest(); !ok || latest.RevisionID != "rev-2" {
		t.Errorf("latest = %+v", latest)
	}
	if _, err := h.Get("rev-9"); !errors.Is(err, policy.ErrRevisionNotFound) {
		t.Errorf("get unknown: %v", err)
	}
}
