package ubuntu

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// File is one tracker file as written, before any mapping: the header fields and every
// "<release>_<package>: <status> (<note>)" line.
type File struct {
	Candidate   string
	PublicDate  time.Time
	Description string
	// UbuntuDescription is Ubuntu's own wording, when the security team wrote one.
	UbuntuDescription string
	References        []string
	Bugs              []string
	Priority          string
	// PackagePriority holds Priority_<package> overrides.
	PackagePriority map[string]string
	// CVSS is "<who>: <vector>" lines ("nvd: CVSS:3.1/…").
	CVSS     []CVSS
	Tags     []string
	Statuses []PackageStatus
}

// CVSS is one vector the tracker records, with who scored it.
type CVSS struct {
	Source string
	Vector string
}

// PackageStatus is one release line.
type PackageStatus struct {
	Release string // as written: "jammy", "trusty/esm", "esm-apps/focal", "upstream"
	Package string // the source package
	Status  string // "released", "needed", "DNE", …; empty when the line has none
	Note    string // the parenthesised part: a version or a reason
}

// maxFile bounds what Parse accepts; real tracker files are a few KiB (the largest kernel CVEs
// some tens of KiB).
const maxFile = 4 << 20

var (
	candidateRE = regexp.MustCompile(`^CVE-\d{4}-\d{4,}$`)
	// statusRE reads "<release>_<package>: <status> (<note>)"; the space after the colon is
	// sometimes missing in real files, and the status may be empty ("upstream_xine-ui:").
	statusRE = regexp.MustCompile(`^([a-z0-9][a-z0-9./+-]*)_([A-Za-z0-9][A-Za-z0-9.+~-]*):\s*([A-Za-z-]*)\s*(?:\((.*)\))?\s*$`)
)

// ErrNotTracker is wrapped by Parse for documents that are not tracker files.
var ErrNotTracker = errors.New("not an ubuntu-cve-tracker file")

// Parse reads a tracker file. It is lenient where the tracker is inconsistent (blank lines inside
// fields, missing spaces, comment lines) and strict where mapping would otherwise guess: the
// Candidate must be a CVE ID and status lines must be well formed.
func Parse(b []byte) (*File, error) {
	if len(b) > maxFile {
		return nil, fmt.Errorf("%w: %d bytes, over the %d limit", ErrNotTracker, len(b), maxFile)
	}
	f := &File{PackagePriority: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxFile)
	var field string // the multi-line field being read
	var text []string
	flush := func() {
		if field == "" {
			return
		}
		v := strings.TrimSpace(strings.Join(text, "\n"))
		switch field {
		case "Description":
			f.Description = v
		case "Ubuntu-Description":
			f.UbuntuDescription = v
		}
		field, text = "", nil
	}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), " \t\r")
		if strings.HasPrefix(s, "#") {
			continue
		}
		if s == "" {
			// Descriptions have blank lines between paragraphs; other fields end at them.
			if field != "" {
				text = append(text, "")
			}
			continue
		}
		if s[0] == ' ' || s[0] == '\t' { // a continuation of the last key
			v := strings.TrimSpace(s)
			switch field {
			case "Description", "Ubuntu-Description":
				text = append(text, v)
			case "References":
				f.References = append(f.References, v)
			case "Bugs":
				f.Bugs = append(f.Bugs, v)
			case "CVSS":
				who, vec, ok := strings.Cut(v, ":")
				if ok {
					f.CVSS = append(f.CVSS, CVSS{Source: strings.TrimSpace(who), Vector: strings.TrimSpace(vec)})
				}
			}
			continue
		}
		key, val, ok := strings.Cut(s, ":")
		if !ok {
			return nil, fmt.Errorf("%w: line %d: no key in %q", ErrNotTracker, line, trunc(s))
		}
		flush()
		val = strings.TrimSpace(val)
		switch {
		case key == "Candidate":
			f.Candidate = val
		case key == "PublicDate":
			f.PublicDate = parseDate(val)
		case key == "Priority":
			// "Priority: medium" and, in newer files, a reason on the following lines.
			f.Priority, _, _ = strings.Cut(val, " ")
			field = key
		case strings.HasPrefix(key, "Priority_"):
			f.PackagePriority[strings.TrimPrefix(key, "Priority_")], _, _ = strings.Cut(val, " ")
		case key == "Tags":
			f.Tags = append(f.Tags, strings.Fields(val)...)
		case key == "References", key == "Bugs":
			if val != "" {
				if key == "References" {
					f.References = append(f.References, val)
				} else {
					f.Bugs = append(f.Bugs, val)
				}
			}
			field = key
		case key == "Description", key == "Ubuntu-Description":
			field = key
			if val != "" {
				text = append(text, val)
			}
		case strings.HasPrefix(key, "Patches_"), strings.HasPrefix(key, "Tags_"):
			field = key // patch URLs and per-package tags are not mapped
		case strings.Contains(key, "_"):
			m := statusRE.FindStringSubmatch(s)
			if m == nil {
				return nil, fmt.Errorf("%w: line %d: malformed status line %q", ErrNotTracker, line, trunc(s))
			}
			f.Statuses = append(f.Statuses, PackageStatus{Release: m[1], Package: m[2], Status: m[3], Note: strings.TrimSpace(m[4])})
		default:
			field = key // Notes, Mitigation, CVSS, Discovered-by, …: read past their continuations
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotTracker, err)
	}
	flush()
	if !candidateRE.MatchString(f.Candidate) {
		return nil, fmt.Errorf("%w: Candidate %q is not a CVE ID", ErrNotTracker, trunc(f.Candidate))
	}
	return f, nil
}

// parseDate reads "2020-01-08 16:15:00 UTC" or "2019-09-04"; an unreadable date is left zero
// rather than failing the file, since nothing matches on it.
func parseDate(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05 MST", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
