//go:build unix

package stellaopscli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteOutputKeepsSpecialFiles: --output onto a FIFO (as onto /dev/null) writes into it and
// leaves it a FIFO. The atomic temp-file-and-rename used for regular files once replaced
// /dev/null with a regular file on a shared machine.
func TestWriteOutputKeepsSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "out.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- b
	}()
	if err := writeOutput(nil, fifo, []byte("report")); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, []byte("report")) {
		t.Fatalf("reader got %q", b)
	}
	fi, err := os.Lstat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("after writing: %v, %v", fi.Mode(), err)
	}

	// A regular file is still replaced atomically.
	reg := filepath.Join(t.TempDir(), "out.json")
	if err := writeOutput(nil, reg, []byte("a")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(reg); string(b) != "a" {
		t.Fatalf("regular file %q", b)
	}
}
