package sbom

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Config bounds and tunes decoding. The zero value is usable: zero limits take the defaults.
type Config struct {
	// MaxBytes refuses documents larger than this many bytes (default 256 MiB).
	MaxBytes int64
	// MaxDepth refuses JSON documents nesting objects and arrays deeper than this, and CycloneDX
	// XML documents nesting components deeper than this (default 128).
	MaxDepth int
	// NoSchemaValidation skips validating CycloneDX JSON against the official schema of its
	// specVersion. Validation is on by default.
	NoSchemaValidation bool
}

// Default limits.
const (
	DefaultMaxBytes = 256 << 20
	DefaultMaxDepth = 128
)

// DefaultConfig returns the default limits, with schema validation on.
func DefaultConfig() Config {
	return Config{MaxBytes: DefaultMaxBytes, MaxDepth: DefaultMaxDepth}
}

// Decoder decodes SBOM documents into inventories. It is safe for concurrent use; build one and
// share it, since it compiles the CycloneDX schemas once, on first use.
type Decoder struct {
	cfg     Config
	schemas func() (schemaSet, error)
}

// NewDecoder returns a Decoder with the given configuration.
func NewDecoder(cfg Config) *Decoder {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	return &Decoder{cfg: cfg, schemas: sync.OnceValues(compileSchemas)}
}

// Prepare compiles the CycloneDX schemas now rather than on the first CycloneDX JSON document,
// so that a server pays the cost (about 65 ms on one core) at start-up, not in a request.
func (d *Decoder) Prepare() error {
	_, err := d.schemas()
	return err
}

// Document is a decoded SBOM: the inventory, the format it was in, and the in-toto wrapping it
// came in, if any.
type Document struct {
	// Inventory is finalised; its Target is the document (kind sbom, format, sha256 digest of
	// the bytes read, name from the document's own metadata).
	Inventory *inventory.Inventory
	// Format is the SBOM's own format (the predicate's, for an attestation). It is also
	// Inventory.Target.Format.
	Format Format
	// Attestation is nil for a bare SBOM.
	Attestation *Attestation
}

// Decode reads one SBOM document from r and returns its inventory, finalised. format is the
// declared format, or FormatAuto to detect it; a declared format that does not match the
// document gives an error matching [ErrFormatMismatch].
func (d *Decoder) Decode(ctx context.Context, r io.Reader, format Format) (*inventory.Inventory, error) {
	doc, err := d.DecodeDocument(ctx, r, format)
	if err != nil {
		return nil, err
	}
	return doc.Inventory, nil
}

// DecodeDocument is Decode that also says which format the document was in and how it was
// wrapped.
func (d *Decoder) DecodeDocument(ctx context.Context, r io.Reader, format Format) (*Document, error) {
	if format != FormatAuto {
		if _, err := ParseFormat(string(format)); err != nil {
			return nil, err
		}
	}
	data, err := readLimited(r, d.cfg.MaxBytes)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, err := sniff(data, d.cfg.MaxDepth)
	if err != nil {
		if format != FormatAuto && errors.Is(err, ErrUnrecognised) {
			return nil, &Error{Format: format, Err: fmt.Errorf("%w: declared %s, but %w", ErrFormatMismatch, format, err)}
		}
		return nil, err
	}
	if format != FormatAuto && format != s.format {
		return nil, &Error{Format: format, Err: fmt.Errorf("%w: declared %s, but the document is %s", ErrFormatMismatch, format, s.format)}
	}
	b, err := d.decode(ctx, s)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	b.inv.Target.Digest = "sha256:" + hex.EncodeToString(sum[:])
	return &Document{Inventory: b.finish(), Format: s.format, Attestation: s.att}, nil
}

func (d *Decoder) decode(ctx context.Context, s sniffed) (*builder, error) {
	switch s.format {
	case FormatCycloneDXJSON:
		return d.decodeCycloneDXJSON(ctx, s.data, s.head)
	case FormatCycloneDXXML:
		return decodeCycloneDXXML(ctx, s.data, d.cfg.MaxDepth)
	case FormatSPDXJSON, FormatSPDXTagValue:
		return decodeSPDX(ctx, s.format, s.data)
	case FormatTrivyJSON:
		return decodeTrivy(ctx, s.data)
	}
	return nil, &Error{Err: ErrUnrecognised}
}

// readLimited reads all of r, refusing more than limit bytes.
// The size of a file or in-memory reader, when r is one, sizes the buffer once instead of doubling it from 512 bytes.
func readLimited(r io.Reader, limit int64) ([]byte, error) {
	var hint int64
	switch x := r.(type) {
	case interface{ Stat() (fs.FileInfo, error) }:
		if fi, err := x.Stat(); err == nil && fi.Mode().IsRegular() {
			hint = min(fi.Size(), limit)
		}
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		hint = min(int64(x.Len()), limit)
	}
	buf := bytes.NewBuffer(make([]byte, 0, hint+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, fmt.Errorf("reading SBOM: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, &Error{Err: fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)}
	}
	return buf.Bytes(), nil
}
