// Command decompress is the benchmark floor for cold inventory: it reads every layer of an image
// (docker-archive tarball or OCI image layout) and decompresses it to io.Discard, optionally also
// walking the tar stream, and does nothing else.
//
//	decompress [-gzip std|klauspost] [-mode raw|tar] [-j N] IMAGE
//
// -gzip picks compress/gzip (std) or github.com/klauspost/compress/gzip. -mode raw copies the
// decompressed stream to io.Discard; -mode tar reads it with archive/tar, visiting every header and
// discarding every entry's content, to show the tar-walk overhead. zstd layers are decompressed with
// klauspost/compress/zstd; uncompressed layers are read as they are. -j decompresses N layers
// at a time (default 1, the sequential floor). A one-line summary goes to stdout.
//
// It is benchmark tooling (see bench/compare-sbom.sh), not part of the scanner.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// blob opens one layer's stored (usually compressed) bytes.
type blob func() (io.ReadCloser, error)

type result struct {
	compressed, uncompressed, entries int64
}

func main() {
	gz := flag.String("gzip", "std", "gzip implementation: std (compress/gzip) or klauspost")
	mode := flag.String("mode", "raw", "raw: decompress to io.Discard; tar: also walk the tar headers")
	jobs := flag.Int("j", 1, "layers decompressed concurrently")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("decompress: ")
	if flag.NArg() != 1 || (*gz != "std" && *gz != "klauspost") || (*mode != "raw" && *mode != "tar") || *jobs < 1 {
		fmt.Fprintln(os.Stderr, "usage: decompress [-gzip std|klauspost] [-mode raw|tar] [-j N] IMAGE(.tar|OCI-dir)")
		os.Exit(2)
	}
	start := time.Now()
	blobs, err := openImage(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}

	results := make([]result, len(blobs))
	errs := make([]error, len(blobs))
	sem := make(chan struct{}, *jobs)
	var wg sync.WaitGroup
	for i, b := range blobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = readLayer(b, *gz, *mode)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		log.Fatal(err)
	}
	var total result
	for _, r := range results {
		total.compressed += r.compressed
		total.uncompressed += r.uncompressed
		total.entries += r.entries
	}
	el := time.Since(start)
	fmt.Printf("layers=%d gzip=%s mode=%s j=%d compressed=%d uncompressed=%d tar_entries=%d elapsed=%.3fs uncompressed_MBps=%.1f\n",
		len(blobs), *gz, *mode, *jobs, total.compressed, total.uncompressed, total.entries,
		el.Seconds(), float64(total.uncompressed)/1e6/el.Seconds())
}

// openImage lists the layer blobs of an OCI layout directory or a docker-archive tarball.
func openImage(p string) ([]blob, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return ociBlobs(p)
	}
	return dockerBlobs(p)
}

// ociBlobs returns the layers of the first image in an OCI layout.
func ociBlobs(dir string) ([]blob, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	if len(im.Manifests) == 0 {
		return nil, fmt.Errorf("%s: empty index", dir)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var out []blob
	for _, l := range layers {
		out = append(out, l.Compressed) // a layout layer's Compressed() is the stored blob as is
	}
	return out, nil
}

// dockerBlobs returns the stored layer files of a docker-archive. The layer files are read straight
// from the archive (go-containerregistry's tarball image would re-compress uncompressed layers).
func dockerBlobs(p string) ([]blob, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(p) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: empty manifest.json", p)
	}
	var out []blob
	for _, name := range m[0].Layers {
		out = append(out, func() (io.ReadCloser, error) { return tarEntry(p, name) })
	}
	return out, nil
}

// tarEntry opens the named member of the tar file p (following in-archive symlinks once).
func tarEntry(p, name string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(f) // *os.File is an io.Seeker: skipped members are seeked over, not read
	for {
		h, err := tr.Next()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: layer %s: %w", p, name, err)
		}
		if filepath.Clean(h.Name) != filepath.Clean(name) {
			continue
		}
		if h.Typeflag == tar.TypeSymlink {
			f.Close()
			return tarEntry(p, filepath.Join(filepath.Dir(name), h.Linkname))
		}
		return struct {
			io.Reader
			io.Closer
		}{tr, f}, nil
	}
}

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// readLayer decompresses one blob and, in tar mode, walks its entries.
func readLayer(open blob, impl, mode string) (result, error) {
	var r result
	rc, err := open()
	if err != nil {
		return r, err
	}
	defer rc.Close()
	cr := &counter{r: rc}
	br := bufio.NewReaderSize(cr, 256<<10)
	magic, _ := br.Peek(4)
	var data io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		if impl == "klauspost" {
			zr, err := kgzip.NewReader(br)
			if err != nil {
				return r, err
			}
			defer zr.Close()
			data = zr
		} else {
			zr, err := stdgzip.NewReader(br)
			if err != nil {
				return r, err
			}
			defer zr.Close()
			data = zr
		}
	case bytes.Equal(magic, zstdMagic):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return r, err
		}
		defer zr.Close()
		data = zr
	}
	uc := &counter{r: data}
	if mode == "tar" {
		tr := tar.NewReader(uc)
		for {
			_, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return r, err
			}
			r.entries++
			if _, err := io.Copy(io.Discard, tr); err != nil {
				return r, err
			}
		}
	}
	// Drain the rest (all of it in raw mode; the tar end-of-archive padding in tar mode).
	if _, err := io.Copy(io.Discard, uc); err != nil {
		return r, err
	}
	r.compressed, r.uncompressed = cr.n, uc.n
	return r, nil
}

type counter struct {
	r io.Reader
	n int64
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
