package apk

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/inventory"
)

// maxReported caps how many skipped records an error names; the count is always complete.
const maxReported = 5

// record holds the fields of one package record that matter, as slices of the file's bytes.
type record struct {
	line                                 int // line number of the first field
	name, version, arch, origin, license []byte
	inside                               bool
}

// installedParser accumulates what one database file yields.
type installedParser struct {
	loc      string
	res      analyzer.Result
	skipped  int
	problems []string
}

// parseInstalled reads the installed database: records separated by blank lines, one `X:value`
// field per line. P name, V version, A arch, o origin, L licence; F names a directory and each
// following R a file in it, which go to OwnedFiles. Other fields (checksums, dependencies,
// commit, maintainer) are not needed. CRLF line ends and a missing final newline are accepted.
func parseInstalled(ctx context.Context, data []byte, loc string) (*analyzer.Result, error) {
	p := installedParser{loc: loc}
	var (
		rec record
		dir []byte // the last F: directory of the current record
	)
	for lineNo := 1; len(data) > 0; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if rec.inside {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				p.flush(&rec)
				rec, dir = record{}, nil
			}
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue // not a field; apk would stop, we keep what we can read
		}
		if !rec.inside {
			rec = record{line: lineNo, inside: true}
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			rec.name = bytes.TrimSpace(v)
		case 'V':
			rec.version = bytes.TrimSpace(v)
		case 'A':
			rec.arch = bytes.TrimSpace(v)
		case 'o':
			rec.origin = bytes.TrimSpace(v)
		case 'L':
			rec.license = bytes.TrimSpace(v)
		case 'F':
			dir = bytes.Trim(v, "/")
		case 'R':
			p.own(dir, v)
		}
	}
	if rec.inside {
		p.flush(&rec)
	}
	return &p.res, p.err()
}

// flush turns a finished record into a component, or records why it cannot.
func (p *installedParser) flush(rec *record) {
	switch {
	case len(rec.name) == 0:
		p.skip(fmt.Sprintf("line %d: no package name", rec.line))
		return
	case len(rec.version) == 0:
		p.skip(fmt.Sprintf("line %d: package %q has no version", rec.line, rec.name))
		return
	}
	c := inventory.Component{
		Ecosystem: inventory.EcosystemAPK,
		Name:      string(rec.name),
		Version:   string(rec.version),
		Arch:      string(rec.arch),
		Locations: []string{p.loc},
	}
	c.Source = inventory.Source{Name: c.Name, Version: c.Version}
	if len(rec.origin) > 0 {
		c.Source.Name = string(rec.origin)
	}
	c.Licenses = licenses(rec.license)
	p.res.Components = append(p.res.Components, c)
}

// own records the file name in dir as owned; names are kept relative, without leading slash.
func (p *installedParser) own(dir, name []byte) {
	name = bytes.TrimLeft(name, "/")
	if len(name) == 0 {
		return
	}
	if len(dir) == 0 {
		p.res.OwnedFiles = append(p.res.OwnedFiles, string(name))
		return
	}
	var b strings.Builder
	b.Grow(len(dir) + 1 + len(name))
	b.Write(dir)
	b.WriteByte('/')
	b.Write(name)
	p.res.OwnedFiles = append(p.res.OwnedFiles, b.String())
}

func (p *installedParser) skip(why string) {
	p.skipped++
	if len(p.problems) < maxReported {
		p.problems = append(p.problems, why)
	}
}

func (p *installedParser) err() error {
	if p.skipped == 0 {
		return nil
	}
	more := ""
	if p.skipped > len(p.problems) {
		more = fmt.Sprintf("; and %d more", p.skipped-len(p.problems))
	}
	return fmt.Errorf("%s: skipped %d package records: %s%s", p.loc, p.skipped, strings.Join(p.problems, "; "), more)
}

// licenses reads an L: field. Current Alpine writes SPDX expressions ("GPL-2.0-or-later AND
// MIT"), kept whole; older releases wrote space-separated names ("MIT BSD GPL2+"), split into one
// licence each.
func licenses(l []byte) []string {
	if len(l) == 0 {
		return nil
	}
	s := string(l)
	words := strings.Fields(s)
	for _, w := range words {
		switch w {
		case "AND", "OR", "WITH", "and", "or", "with":
			return []string{strings.Join(words, " ")}
		}
		if strings.ContainsAny(w, "()") {
			return []string{strings.Join(words, " ")}
		}
	}
	return words
}
