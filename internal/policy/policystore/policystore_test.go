package policystore_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
)

func TestParseID(t *testing.T) {
	for id, want := range map[string]int64{"rev-1": 1, "rev-12": 12, "rev-9223372036854775807": 1<<63 - 1} {
		if got, ok := policystore.ParseID(id); !ok || got != want {
			t.Errorf("ParseID(%q) = %d, %v; want %d", id, got, ok, want)
		}
		if policystore.FormatID(want) != id {
			t.Errorf("FormatID(%d) = %q, want %q", want, policystore.FormatID(want), id)
		}
	}
	for _, id := range []string{"", "rev-", "rev-0", "rev-01", "rev--1", "rev-+1", "rev-1 ", "Rev-1", "1", "rev-1a",
		"rev-9223372036854775808", "rev-١"} {
		if got, ok := policystore.ParseID(id); ok {
			t.Errorf("ParseID(%q) = %d, want refusal", id, got)
		}
	}
}

// FuzzParseID: whatever a client sends as a revision id or cursor, an accepted id is the one
// and only spelling of its number.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"rev-1", "rev-0", "rev-007", "rev-9223372036854775807", "rev-99999999999999999999", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		seq, ok := policystore.ParseID(id)
		if !ok {
			return
		}
		if seq <= 0 || policystore.FormatID(seq) != id {
			t.Fatalf("ParseID(%q) = %d, which formats as %q", id, seq, policystore.FormatID(seq))
		}
	})
}

func TestCheck(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("x", 3600))
	in := policystore.NewRevision{Digest: strings.Repeat("0f", 32), Format: policy.FormatRego, Content: "package stella.policy", CreatedAt: at}
	out, err := policystore.Check(in)
	if err != nil {
		t.Fatal(err)
	}
	if !out.CreatedAt.Equal(time.Date(2026, 1, 2, 2, 4, 5, 678000000, time.UTC)) || out.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v", out.CreatedAt)
	}
	in.Format = policy.Format("yml") // the engine normalises aliases; the store takes only its result
	if _, err := policystore.Check(in); !errors.Is(err, policystore.ErrInvalid) {
		t.Errorf("format yml: %v", err)
	}
}
