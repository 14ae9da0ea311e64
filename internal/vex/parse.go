package vex

import (
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
	"strings"
)

// Parse reads a VEX document of any supported format, detected from its content: an OpenVEX
// "@context", a CycloneDX "bomFormat", or a CSAF "document" with csaf_version. Gzipped input is
// accepted. name identifies the document in claims and errors.
func Parse(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return New(DefaultConfig()).Parse(ctx, r, name)
}

// ParseOpenVEX reads an OpenVEX document with the default limits.
func ParseOpenVEX(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return New(DefaultConfig()).ParseOpenVEX(ctx, r, name)
}

// ParseCycloneDX reads a CycloneDX JSON BOM's VEX data with the default limits.
func ParseCycloneDX(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return New(DefaultConfig()).ParseCycloneDX(ctx, r, name)
}

// ParseCSAF reads a CSAF 2.x document's product statuses with the default limits.
func ParseCSAF(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return New(DefaultConfig()).ParseCSAF(ctx, r, name)
}

// Parse reads a VEX document of any supported format; see the package-level Parse.
func (p *Parser) Parse(ctx context.Context, r io.Reader, name string) (*Document, error) {
	b, err := p.read(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("vex: %s: %w", name, err)
	}
	f, err := detect(b)
	if err != nil {
		return nil, fmt.Errorf("vex: %s: %w", name, err)
	}
	return p.parseBytes(ctx, f, b, name)
}

// ParseOpenVEX reads an OpenVEX document (v0.0.1 or v0.2.0).
func (p *Parser) ParseOpenVEX(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return p.parseFormat(ctx, FormatOpenVEX, r, name)
}

// ParseCycloneDX reads the vulnerabilities[].analysis of a CycloneDX JSON BOM.
func (p *Parser) ParseCycloneDX(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return p.parseFormat(ctx, FormatCycloneDX, r, name)
}

// ParseCSAF reads the product statuses of a CSAF 2.x document.
func (p *Parser) ParseCSAF(ctx context.Context, r io.Reader, name string) (*Document, error) {
	return p.parseFormat(ctx, FormatCSAF, r, name)
}

func (p *Parser) parseFormat(ctx context.Context, f Format, r io.Reader, name string) (*Document, error) {
	b, err := p.read(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("vex: %s: %w", name, err)
	}
	return p.parseBytes(ctx, f, b, name)
}

func (p *Parser) parseBytes(ctx context.Context, f Format, b []byte, name string) (*Document, error) {
	sum := sha256.Sum256(b)
	bld := newBuilder(ctx, p.cfg, &Document{
		Name:   name,
		Format: f,
		Digest: "sha256:" + hex.EncodeToString(sum[:]),
	})
	var err error
	switch f {
	case FormatOpenVEX:
		err = parseOpenVEX(bld, b)
	case FormatCycloneDX:
		err = parseCycloneDX(bld, b)
	case FormatCSAF:
		err = parseCSAF(bld, b)
	default:
		err = fmt.Errorf("%w: format %q", ErrFormat, f)
	}
	if err != nil {
		return nil, fmt.Errorf("vex: %s (%s): %w", name, f, err)
	}
	return bld.finish(), nil
}

// read returns the document's bytes, gunzipped if needed, refusing more than MaxDocumentBytes.
func (p *Parser) read(ctx context.Context, r io.Reader) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	br := bufio.NewReader(ctxReader{ctx: ctx, r: r})
	var src io.Reader = br
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrMalformed, err)
		}
		defer zr.Close()
		src = zr
	}
	limit := p.cfg.MaxDocumentBytes
	b, err := io.ReadAll(io.LimitReader(src, limit+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, ctxErr
		}
		return nil, fmt.Errorf("%w: reading: %w", ErrMalformed, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	// Some Windows tools write a UTF-8 byte order mark, which encoding/json rejects.
	return bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), nil
}

// ctxReader stops a long read when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// detect tells the format from the top-level keys. It looks at each key on its own, so an
// unexpected type in one of them cannot hide the others.
func detect(b []byte) (Format, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	var bomFormat string
	var document struct {
		CSAFVersion json.RawMessage `json:"csaf_version"`
	}
	switch {
	case isOpenVEXContext(top["@context"]):
		return FormatOpenVEX, nil
	case json.Unmarshal(top["bomFormat"], &bomFormat) == nil && bomFormat == "CycloneDX":
		return FormatCycloneDX, nil
	case json.Unmarshal(top["document"], &document) == nil && len(document.CSAFVersion) > 0 &&
		string(document.CSAFVersion) != "null":
		return FormatCSAF, nil
	}
	return "", fmt.Errorf("%w: no OpenVEX @context, CycloneDX bomFormat or CSAF document.csaf_version", ErrFormat)
}

// isOpenVEXContext accepts "@context" as a string or a JSON-LD array of strings.
func isOpenVEXContext(raw json.RawMessage) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return strings.HasPrefix(one, openVEXContext)
	}
	var many []json.RawMessage
	if json.Unmarshal(raw, &many) == nil {
		for _, m := range many {
			if json.Unmarshal(m, &one) == nil && strings.HasPrefix(one, openVEXContext) {
				return true
			}
		}
	}
	return false
}

// jsonError makes encoding/json's errors say where: a syntax error's offset, a type error's
// field path.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.As(err, &te) && te.Field == "":
		return fmt.Errorf("the top level is a JSON %s, not an object: %w", te.Value, err)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: JSON %s where %s expected: %w", te.Field, te.Value, te.Type, err)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}
