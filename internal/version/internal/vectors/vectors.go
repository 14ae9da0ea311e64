// Package vectors reads the version test-vector files under internal/version/testdata (plain or
// gzipped) and runs "A op B" comparison lines against a comparator. It is used only by tests; it
// must not know any version scheme.
package vectors

import (
	"bufio"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Line is one non-blank, non-comment line of a vector file.
type Line struct {
	N    int    // 1-based line number
	Text string // the line, trimmed
}

// Path returns the absolute path of a file under internal/version/testdata.
func Path(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", name)
}

// Read returns the lines of testdata/name, without blank lines and without comment lines
// (starting with "#" or "//"). A trailing "# comment" is kept in Text; see Fields.
func Read(t testing.TB, name string) []Line {
	t.Helper()
	f, err := os.Open(Path(name))
	if err != nil {
		t.Fatalf("open vector file: %v", err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("gunzip %s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	}
	var out []Line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") || strings.HasPrefix(s, "//") {
			continue
		}
		out = append(out, Line{N: n, Text: s})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return out
}

// Fields splits a line into whitespace-separated fields, dropping a trailing "# comment".
func Fields(s string) []string {
	if i := strings.Index(s, "#"); i > 0 && (s[i-1] == ' ' || s[i-1] == '\t') {
		s = s[:i]
	}
	return strings.Fields(s)
}

// Want returns the expected sign of an "A op B" operator, and false for an unknown operator.
func Want(op string) (int, bool) {
	switch op {
	case "<":
		return -1, true
	case "=", "==":
		return 0, true
	case ">":
		return 1, true
	}
	return 0, false
}

// Compare is a comparator under test: the sign of a compared with b, or an error.
type Compare func(a, b string) (int, error)

// Run checks every "A op B" line of testdata/name with cmp, in both directions, skipping the
// lines (by exact text) listed in exceptions. It fails the test for every failing line and for
// every exception that is not a line of the file, and returns the number of lines passed.
func Run(t *testing.T, name string, cmp Compare, exceptions map[string]string) int {
	t.Helper()
	seen := map[string]bool{}
	passed := 0
	for _, l := range Read(t, name) {
		if _, ok := exceptions[l.Text]; ok {
			seen[l.Text] = true
			continue
		}
		f := Fields(l.Text)
		if len(f) != 3 {
			t.Errorf("%s:%d: not an \"A op B\" line: %q", name, l.N, l.Text)
			continue
		}
		want, ok := Want(f[1])
		if !ok {
			t.Errorf("%s:%d: unknown operator in %q", name, l.N, l.Text)
			continue
		}
		got, err := cmp(f[0], f[2])
		if err != nil {
			t.Errorf("%s:%d: %q: %v", name, l.N, l.Text, err)
			continue
		}
		back, err := cmp(f[2], f[0])
		if err != nil {
			t.Errorf("%s:%d: %q (reversed): %v", name, l.N, l.Text, err)
			continue
		}
		if got != want || back != -want {
			t.Errorf("%s:%d: %q: got %d, reversed %d", name, l.N, l.Text, got, back)
			continue
		}
		passed++
	}
	for text := range exceptions {
		if !seen[text] {
			t.Errorf("%s: exception %q is not a line of the file", name, text)
		}
	}
	return passed
}
