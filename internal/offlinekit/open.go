package offlinekit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/canonjson"
)

// Limits bound what reading a bundle may cost.
type Limits struct {
	// MaxUncompressed bounds the bundle's content once gunzipped (a gzip bomb stops there).
	MaxUncompressed int64
	// MaxAdvisoryBytes bounds one advisory line.
	MaxAdvisoryBytes int
}

// DefaultLimits: 8 GiB of content, 16 MiB per advisory.
func DefaultLimits() Limits { return Limits{MaxUncompressed: 8 << 30, MaxAdvisoryBytes: 16 << 20} }

// Kit is a bundle read and checked against its own manifest (not yet against signatures).
type Kit struct {
	Manifest       *Manifest
	ManifestBytes  []byte
	ManifestSHA256 string
	// BundleSHA256 is the sha256 of the bundle file as read.
	BundleSHA256 string
	// Advisories in ID order, normalised, with Canon[i] the canonical JSON of Advisories[i].
	Advisories []*advisory.Advisory
	Canon      [][]byte
}

// Open reads a bundle from r to its end: the manifest, then the advisories, each checked for
// size and digest, each advisory decoded and required to be in canonical form and in ID order.
// Anything else (another entry, a link, data after the gzip stream) makes the kit invalid.
func Open(ctx context.Context, r io.Reader, lim Limits) (*Kit, error) {
	def := DefaultLimits()
	if lim.MaxUncompressed <= 0 {
		lim.MaxUncompressed = def.MaxUncompressed
	}
	if lim.MaxAdvisoryBytes <= 0 {
		lim.MaxAdvisoryBytes = def.MaxAdvisoryBytes
	}
	bh := sha256.New()
	raw := bufio.NewReader(io.TeeReader(r, bh))
	gz, err := gzip.NewReader(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: not a gzip stream: %w", ErrInvalid, err)
	}
	gz.Multistream(false)
	content := &limitedReader{r: gz, left: lim.MaxUncompressed}
	tr := tar.NewReader(content)

	next := func(want string) (*tar.Header, error) {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the bundle ends before %s", ErrInvalid, want)
		}
		if err != nil {
			return nil, invalid(content, "reading the bundle", err)
		}
		if h.Name != want {
			return nil, fmt.Errorf("%w: entry %.120q where %s was expected", ErrInvalid, h.Name, want)
		}
		if h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrInvalid, want)
		}
		return h, nil
	}

	h, err := next(ManifestName)
	if err != nil {
		return nil, err
	}
	if h.Size > maxManifestBytes {
		return nil, fmt.Errorf("%w: the manifest is larger than %d bytes", ErrInvalid, maxManifestBytes)
	}
	mb, err := io.ReadAll(tr)
	if err != nil {
		return nil, invalid(content, "reading the manifest", err)
	}
	m, err := ParseManifest(mb)
	if err != nil {
		return nil, err
	}
	comp := m.Component(ComponentAdvisories)
	h, err = next(comp.Path)
	if err != nil {
		return nil, err
	}
	if h.Size != comp.Size {
		return nil, fmt.Errorf("%w: %s is %d bytes, the manifest says %d", ErrInvalid, comp.Path, h.Size, comp.Size)
	}
	k := &Kit{Manifest: m, ManifestBytes: mb}
	ms := sha256.Sum256(mb)
	k.ManifestSHA256 = hex.EncodeToString(ms[:])
	if err := k.readAdvisories(ctx, tr, comp, lim, content); err != nil {
		return nil, err
	}
	if _, err := tr.Next(); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, invalid(content, "reading the bundle", err)
		}
		return nil, fmt.Errorf("%w: the bundle has entries its manifest does not list", ErrInvalid)
	}
	// The tar's end-of-archive padding, the gzip trailer (checksum and length), then nothing.
	if _, err := io.Copy(io.Discard, content); err != nil {
		return nil, invalid(content, "reading the bundle", err)
	}
	if n, err := io.Copy(io.Discard, raw); err != nil {
		return nil, fmt.Errorf("offline kit: reading the bundle: %w", err)
	} else if n > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the gzip stream", ErrInvalid, n)
	}
	k.BundleSHA256 = hex.EncodeToString(bh.Sum(nil))
	return k, nil
}

// readAdvisories decodes the NDJSON component, hashing it as it goes.
func (k *Kit) readAdvisories(ctx context.Context, r io.Reader, comp *Component, lim Limits, content *limitedReader) error {
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(r, h), 1<<16)
	prev := ""
	for n := 0; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := readLine(br, lim.MaxAdvisoryBytes)
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return invalid(content, fmt.Sprintf("%s line %d", comp.Path, n+1), err)
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %s line %d: no final newline", ErrInvalid, comp.Path, n+1)
		}
		a := &advisory.Advisory{}
		if err := json.Unmarshal(line, a); err != nil {
			return fmt.Errorf("%w: %s line %d: %w", ErrInvalid, comp.Path, n+1, err)
		}
		if a.ID == "" || a.ID <= prev {
			return fmt.Errorf("%w: %s line %d: advisory %.80q is empty or out of ID order", ErrInvalid, comp.Path, n+1, a.ID)
		}
		prev = a.ID
		// The snapshot is indexed from the decoded advisory and stores these bytes: they must
		// be what the decoded advisory encodes to, or the two would disagree.
		a.Normalize()
		canon, err := canonjson.Marshal(a)
		if err != nil {
			return fmt.Errorf("%w: %s line %d: %w", ErrInvalid, comp.Path, n+1, err)
		}
		if !bytes.Equal(canon, line) {
			return fmt.Errorf("%w: %s line %d: advisory %.80q is not in normalised canonical form", ErrInvalid, comp.Path, n+1, a.ID)
		}
		k.Advisories = append(k.Advisories, a)
		k.Canon = append(k.Canon, canon)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != comp.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, the manifest says %s", ErrInvalid, comp.Path, got, comp.SHA256)
	}
	if comp.Advisories != 0 && comp.Advisories != len(k.Advisories) {
		return fmt.Errorf("%w: %s holds %d advisories, the manifest says %d", ErrInvalid, comp.Path, len(k.Advisories), comp.Advisories)
	}
	return nil
}

// readLine returns the next line without its newline; a line longer than max is an error.
func readLine(br *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 {
			return nil, fmt.Errorf("a line longer than %d bytes", max)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return line, err
		}
	}
}

// limitedReader fails once more than left bytes were read, so a bomb is reported as such
// rather than as a truncated archive.
type limitedReader struct {
	r        io.Reader
	left     int64
	exceeded bool
}

var errTooLarge = errors.New("the bundle's content exceeds the size limit")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Allow reading a zero-length tail (EOF) but nothing more.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded = true
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// invalid wraps a read error: a size-limit hit or a corrupt stream is the kit's fault.
func invalid(l *limitedReader, what string, err error) error {
	if l.exceeded || errors.Is(err, errTooLarge) {
		return fmt.Errorf("%w: %s: %w", ErrInvalid, what, errTooLarge)
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
}
