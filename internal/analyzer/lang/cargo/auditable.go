package cargo

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"fmt"
	"io"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

// auditSection is the section cargo-auditable writes, in every executable format.
const auditSection = ".dep-v0"

// auditData is the cargo-auditable format (version 0): packages refer to their dependencies by
// index; `kind` is "runtime" (the default) or "build"; `root` marks the crate that was built.
type auditData struct {
	Packages []auditPackage `json:"packages"`
}

type auditPackage struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	Kind    string `json:"kind"`
	Root    bool   `json:"root"`
}

// analyzeBinary finds the audit section of an executable; executables of other kinds, or
// without the section, yield nothing.
func (a *Analyzer) analyzeBinary(ctx context.Context, in *analyzer.Input) ([]inventory.Component, error) {
	sec, err := findAuditSection(in.Content)
	if err != nil || sec == nil {
		return nil, nil // not an executable we can read, or no audit data: nothing here
	}
	if sec.size > uint64(a.cfg.MaxAuditSize) {
		return nil, fmt.Errorf("read audit data of %s: %w (%d bytes, limit %d)", in.Path, analyzer.ErrTooLarge, sec.size, a.cfg.MaxAuditSize)
	}
	return ParseAuditData(ctx, io.NewSectionReader(sec.r, 0, int64(sec.size)), in.Path, a.cfg.MaxAuditSize, a.cfg.MaxPackages)
}

type section struct {
	r    io.ReaderAt
	size uint64
}

// findAuditSection returns the audit section of an ELF, PE or (thin or fat) Mach-O file, nil
// when there is none, or an error when the file does not parse.
func findAuditSection(r io.ReaderAt) (*section, error) {
	switch langfile.Sniff(r) {
	case langfile.FormatELF:
		f, err := elf.NewFile(r)
		if err != nil {
			return nil, err
		}
		s := f.Section(auditSection)
		if s == nil || s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_COMPRESSED != 0 {
			return nil, nil
		}
		return &section{s, s.Size}, nil
	case langfile.FormatPE:
		f, err := pe.NewFile(r)
		if err != nil {
			return nil, err
		}
		s := f.Section(auditSection)
		if s == nil {
			return nil, nil
		}
		// The raw size is padded to the file alignment; zlib stops at its own end.
		return &section{s, uint64(s.Size)}, nil
	case langfile.FormatMachO:
		f, err := macho.NewFile(r)
		if err != nil {
			return nil, err
		}
		return machoSection(f), nil
	case langfile.FormatMachOFat:
		f, err := macho.NewFatFile(r)
		if err != nil {
			return nil, err
		}
		if len(f.Arches) == 0 {
			return nil, nil
		}
		return machoSection(f.Arches[0].File), nil
	}
	return nil, nil
}

func machoSection(f *macho.File) *section {
	for _, s := range f.Sections {
		if s.Name == auditSection {
			return &section{s, s.Size}
		}
	}
	return nil
}

// ParseAuditData decompresses and decodes cargo-auditable data read from r, returning the
// runtime crates found at location. The decompressed JSON may hold at most maxSize bytes and
// maxPackages packages.
func ParseAuditData(ctx context.Context, r io.Reader, location string, maxSize int64, maxPackages int) ([]inventory.Component, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("decompress audit data of %s: %w", location, err)
	}
	defer zr.Close()
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(zr, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("decompress audit data of %s: %w", location, err)
	}
	if n > maxSize {
		return nil, fmt.Errorf("decompress audit data of %s: %w (limit %d)", location, analyzer.ErrTooLarge, maxSize)
	}
	var d auditData
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		return nil, fmt.Errorf("decode audit data of %s: %w", location, err)
	}
	if len(d.Packages) > maxPackages {
		return nil, fmt.Errorf("decode audit data of %s: %d packages, limit %d", location, len(d.Packages), maxPackages)
	}
	out := make([]inventory.Component, 0, len(d.Packages))
	for i, p := range d.Packages {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		if p.Name == "" || p.Kind == "build" {
			continue
		}
		out = append(out, inventory.Component{
			Ecosystem: inventory.EcosystemCargo,
			Name:      p.Name,
			Version:   p.Version,
			Locations: []string{location},
			Direct:    p.Root,
		})
	}
	return out, nil
}
