package analyzer_test

import (
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
)

func TestReadAll(t *testing.T) {
	in := analyzertest.Input(t, "x", []byte("hello"), 0o644)
	b, err := in.ReadAll(5)
	if err != nil || string(b) != "hello" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	// ReadAll must not move the shared reader: a second read sees the same bytes.
	if b, _ := in.ReadAll(0); string(b) != "hello" {
		t.Errorf("second ReadAll (no limit) = %q", b)
	}
	if _, err := in.ReadAll(4); !errors.Is(err, analyzer.ErrTooLarge) {
		t.Errorf("ReadAll over the limit: %v, want ErrTooLarge", err)
	}
	var none *analyzer.Input
	if _, err := none.ReadAll(4); err == nil {
		t.Error("ReadAll on a nil input succeeded")
	}
}
