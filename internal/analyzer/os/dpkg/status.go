package dpkg

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/stellaops/stellaops/internal/inventory"
)

// maxReported caps how many skipped stanzas an error names; the count is always complete.
const maxReported = 5

// stanza holds the fields of one paragraph that matter, as slices of the file's bytes.
type stanza struct {
	line                                  int // line number of the first field
	pkg, version, arch, source, status    []byte
	hasPkg, hasVersion, hasStatus, inside bool
}

// statusParser accumulates the components and problems of one file.
type statusParser struct {
	loc            string
	statusOptional bool
	comps          []inventory.Component
	skipped        int
	problems       []string
}

// parseStatus reads deb822 paragraphs (the status file, or a status.d entry) and returns one
// component per installed package. Paragraphs are separated by lines that are empty or hold only
// blanks; continuation lines (leading space or tab) belong to multi-line fields none of which is
// needed; CRLF line ends and a missing final newline are accepted. Field names are
// case-insensitive, as in dpkg. Installed paragraphs without a package name or a version are
// skipped and reported in the error.
func parseStatus(ctx context.Context, data []byte, loc string, statusOptional bool) ([]inventory.Component, error) {
	p := statusParser{loc: loc, statusOptional: statusOptional}
	var st stanza
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
		if isBlank(line) {
			if st.inside {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				p.flush(&st)
				st = stanza{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field
		}
		key, value, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue // not a field; dpkg would refuse the file, we keep what we can read
		}
		if !st.inside {
			st = stanza{line: lineNo, inside: true}
		}
		value = bytes.TrimSpace(value)
		switch {
		case fieldIs(key, "Package"):
			st.pkg, st.hasPkg = value, true
		case fieldIs(key, "Version"):
			st.version, st.hasVersion = value, true
		case fieldIs(key, "Architecture"):
			st.arch = value
		case fieldIs(key, "Source"):
			st.source = value
		case fieldIs(key, "Status"):
			st.status, st.hasStatus = value, true
		}
	}
	if st.inside {
		p.flush(&st)
	}
	return p.comps, p.err()
}

// flush turns the finished paragraph into a component, or records why it cannot.
func (p *statusParser) flush(st *stanza) {
	if st.hasStatus {
		if !installed(st.status) {
			return
		}
	} else if !p.statusOptional {
		return // dpkg reads a paragraph without Status as not installed
	}
	switch {
	case len(st.pkg) == 0:
		p.skip(fmt.Sprintf("line %d: no package name", st.line))
		return
	case len(st.version) == 0:
		p.skip(fmt.Sprintf("line %d: package %q has no version", st.line, st.pkg))
		return
	}
	c := inventory.Component{
		Ecosystem: inventory.EcosystemDeb,
		Name:      string(st.pkg),
		Version:   string(st.version),
		Arch:      string(st.arch),
		Locations: []string{p.loc},
	}
	c.Source = parseSource(st.source, c.Name, c.Version)
	p.comps = append(p.comps, c)
}

func (p *statusParser) skip(why string) {
	p.skipped++
	if len(p.problems) < maxReported {
		p.problems = append(p.problems, why)
	}
}

func (p *statusParser) err() error {
	if p.skipped == 0 {
		return nil
	}
	more := ""
	if p.skipped > len(p.problems) {
		more = fmt.Sprintf("; and %d more", p.skipped-len(p.problems))
	}
	return fmt.Errorf("%s: skipped %d installed package stanzas: %s%s",
		p.loc, p.skipped, strings.Join(p.problems, "; "), more)
}

// installed reports whether a Status value ("want eflag state") describes a package whose files
// are on disk and configured: state installed, or installed with triggers still to run. The
// wanted action does not matter ("hold ok installed", "deinstall ok installed" are both still
// installed); config-files, half-installed, unpacked and the like are not counted.
func installed(status []byte) bool {
	var state []byte
	words := 0
	for f := range bytes.FieldsSeq(status) {
		words++
		state = f
	}
	if words != 3 {
		return false
	}
	switch string(state) {
	case "installed", "triggers-pending", "triggers-awaited":
		return true
	}
	return false
}

// parseSource reads a Source field: "glibc" (same version as the binary) or "glibc (2.36-9)"
// (a binNMU or a source with its own version). An empty field means the package is its own
// source.
func parseSource(v []byte, name, version string) inventory.Source {
	if len(v) == 0 {
		return inventory.Source{Name: name, Version: version}
	}
	srcName, rest, _ := bytes.Cut(v, []byte{' '})
	rest = bytes.TrimSpace(rest)
	if len(rest) > 2 && rest[0] == '(' && rest[len(rest)-1] == ')' {
		if sv := bytes.TrimSpace(rest[1 : len(rest)-1]); len(sv) > 0 {
			return inventory.Source{Name: string(srcName), Version: string(sv)}
		}
	}
	return inventory.Source{Name: string(srcName), Version: version}
}

// fieldIs compares a field name with a canonical one, ignoring ASCII case as dpkg does.
func fieldIs(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		a, b := key[i], name[i]
		if a == b {
			continue
		}
		if a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z' {
			return false
		}
	}
	return true
}

func isBlank(line []byte) bool {
	for _, b := range line {
		if b != ' ' && b != '\t' {
			return false
		}
	}
	return true
}
