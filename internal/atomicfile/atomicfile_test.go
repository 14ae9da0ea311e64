package atomicfile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stellaops/stellaops/internal/atomicfile"
)

func TestWriteReplacesWholeAndLeavesNothingOnError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "current")
	for _, v := range []string{"one\n", "two\n"} {
		if err := atomicfile.Write(p, []byte(v), 0o640); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != v {
			t.Fatalf("read %q, want %q", b, v)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode())
	}
	// A directory in the way: the rename fails, the temporary file goes.
	if err := atomicfile.Write(dir, []byte("x"), 0o644); err == nil {
		t.Fatal("replacing a directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
}
