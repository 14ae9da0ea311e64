// Package analyzertest runs analyzers on files in tests, the way the layer walker does: Required
// first, then Analyze with the whole file as a section reader.
package analyzertest

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/analyzer"
)

// FileInfo is a fake fs.FileInfo for Required checks and inputs built from bytes.
type FileInfo struct {
	FName string
	FSize int64
	FMode fs.FileMode
}

func (f FileInfo) Name() string       { return f.FName }
func (f FileInfo) Size() int64        { return f.FSize }
func (f FileInfo) Mode() fs.FileMode  { return f.FMode }
func (f FileInfo) ModTime() time.Time { return time.Time{} }
func (f FileInfo) IsDir() bool        { return f.FMode.IsDir() }
func (f FileInfo) Sys() any           { return nil }

// Input builds an analyzer input for content placed at path (slash-separated, relative).
func Input(t testing.TB, path string, content []byte, mode fs.FileMode) *analyzer.Input {
	t.Helper()
	return &analyzer.Input{
		Path:    path,
		Info:    FileInfo{FName: path, FSize: int64(len(content)), FMode: mode},
		Content: io.NewSectionReader(bytes.NewReader(content), 0, int64(len(content))),
		TempDir: t.TempDir(),
	}
}

// AnalyzeFile reads the file at file and analyses it as if it were found at path with mode 0644
// (0755 when exec is true). It fails the test when the analyzer does not require the path.
func AnalyzeFile(t testing.TB, a analyzer.Analyzer, path, file string, exec bool) (*analyzer.Result, error) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	mode := fs.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	in := Input(t, path, data, mode)
	if !a.Required(path, in.Info) {
		t.Fatalf("%s does not require %s", a.Name(), path)
	}
	return a.Analyze(context.Background(), in)
}
