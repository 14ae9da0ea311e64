// Command genosv writes a synthetic OSV mirror of N records for Concelier scaling benchmarks:
// <out>/<Ecosystem>/all.zip, as osv-scanner lays out an offline database. Each record is a real
// bundled record (taken round-robin from the five bundled archives) with its id and CVE aliases
// renumbered, so the set has N distinct vulnerabilities whose shapes and sizes are real ones.
//
//	go run ./bench/cmd/genosv -n 300000 -o /tmp/osv-300k
package main

import (
	"archive/zip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/stellaops/stellaops/internal/bundled"
)

func main() {
	n := flag.Int("n", 300000, "number of records")
	out := flag.String("o", "", "output directory (required)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: genosv -n N -o DIR")
		os.Exit(2)
	}
	if err := run(*n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "genosv:", err)
		os.Exit(1)
	}
}

type source struct {
	eco     string
	records [][]byte
}

func run(n int, out string) error {
	var srcs []source
	for _, s := range bundled.OSVSources {
		b, err := fs.ReadFile(bundled.OSV(), s.Path)
		if err != nil {
			return err
		}
		zr, err := zip.NewReader(strings.NewReader(string(b)), int64(len(b)))
		if err != nil {
			return err
		}
		src := source{eco: strings.TrimPrefix(s.Name, "osv:")}
		for _, f := range zr.File {
			if !strings.HasSuffix(f.Name, ".json") {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			rec, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			src.records = append(src.records, rec)
		}
		srcs = append(srcs, src)
	}
	writers := map[string]*zip.Writer{}
	files := map[string]*os.File{}
	for _, s := range srcs {
		if err := os.MkdirAll(filepath.Join(out, s.eco), 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(out, s.eco, "all.zip"))
		if err != nil {
			return err
		}
		files[s.eco], writers[s.eco] = f, zip.NewWriter(f)
	}
	for i := 0; i < n; i++ {
		s := srcs[i%len(srcs)]
		var rec map[string]any
		if err := json.Unmarshal(s.records[(i/len(srcs))%len(s.records)], &rec); err != nil {
			return err
		}
		id := fmt.Sprintf("SYN-%07d", i)
		rec["id"] = id
		// One synthetic CVE per record keeps records distinct after merge (real ones would unite).
		rec["aliases"] = []string{fmt.Sprintf("CVE-9%03d-%07d", i%1000, i)}
		delete(rec, "related")
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		w, err := writers[s.eco].Create(id + ".json")
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	for eco, w := range writers {
		if err := w.Close(); err != nil {
			return err
		}
		if err := files[eco].Close(); err != nil {
			return err
		}
	}
	return nil
}
