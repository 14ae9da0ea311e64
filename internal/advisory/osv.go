package advisory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// osvRecord is the part of the OSV schema (1.x) we read. We keep our own structs rather than the
// protobuf bindings (5 MB of protobuf for a JSON format we parse once per import).
type osvRecord struct {
	ID         string        `json:"id"`
	Modified   string        `json:"modified"`
	Published  string        `json:"published"`
	Withdrawn  string        `json:"withdrawn"`
	Aliases    []string      `json:"aliases"`
	Related    []string      `json:"related"`
	Summary    string        `json:"summary"`
	Details    string        `json:"details"`
	Severity   []osvSeverity `json:"severity"`
	Affected   []osvAffected `json:"affected"`
	References []Reference   `json:"references"`
	DBSpecific struct {
		Severity string   `json:"severity"`
		CWEIDs   []string `json:"cwe_ids"`
	} `json:"database_specific"`
}

type osvSeverity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

type osvAffected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
	} `json:"package"`
	Severity []osvSeverity `json:"severity"`
	Ranges   []struct {
		Type   RangeType           `json:"type"`
		Repo   string              `json:"repo"`
		Events []map[string]string `json:"events"`
	} `json:"ranges"`
	Versions []string `json:"versions"`
}

// ErrNotOSV is wrapped by ParseOSV for documents that are not OSV records.
var ErrNotOSV = errors.New("not an OSV record")

// ParseOSV maps one OSV document to the canonical model. source names the feed ("osv:PyPI");
// document is the record's path in it. Affected entries of ecosystems we cannot match (GIT-only
// projects without an ecosystem, the Linux kernel, …) are kept out of Affected but the record
// stays, with its identifiers and severities.
func ParseOSV(source, document string, data []byte) (*Advisory, error) {
	var r osvRecord
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", document, ErrNotOSV, err)
	}
	if r.ID == "" {
		return nil, fmt.Errorf("%s: %w: no id", document, ErrNotOSV)
	}
	sum := sha256.Sum256(data)
	a := &Advisory{
		ID:         CanonicalID(r.ID, r.Aliases),
		Aliases:    append(slices.Clone(r.Aliases), r.ID),
		Related:    r.Related,
		Summary:    strings.TrimSpace(r.Summary),
		Details:    strings.TrimSpace(r.Details),
		CWEs:       r.DBSpecific.CWEIDs,
		References: r.References,
		Sources:    []Provenance{{Source: source, Document: document, Digest: "sha256:" + hex.EncodeToString(sum[:])}},
	}
	var err error
	if a.Published, err = parseTime(r.Published); err == nil {
		if a.Modified, err = parseTime(r.Modified); err == nil {
			a.Withdrawn, err = parseTime(r.Withdrawn)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", document, r.ID, err)
	}
	for _, s := range r.Severity {
		if sev, ok := osvSeverityOf(source, s); ok {
			a.Severities = append(a.Severities, sev)
		}
	}
	if lvl := ParseLevel(r.DBSpecific.Severity); lvl != LevelUnknown {
		a.Severities = append(a.Severities, Severity{Source: source, Level: lvl})
	}
	for i, af := range r.Affected {
		eco, distro, ok := FromOSVEcosystem(af.Package.Ecosystem)
		if !ok || af.Package.Name == "" {
			continue
		}
		out := Affected{Ecosystem: eco, Distro: distro, Package: af.Package.Name, Versions: af.Versions, Source: source}
		for _, s := range af.Severity {
			if sev, ok := osvSeverityOf(source, s); ok {
				out.Severity = &sev
				break
			}
		}
		for j, rg := range af.Ranges {
			rr := Range{Type: rg.Type, Repo: rg.Repo}
			for k, ev := range rg.Events {
				e, err := osvEvent(ev)
				if err != nil {
					return nil, fmt.Errorf("%s (%s): affected[%d].ranges[%d].events[%d]: %w", document, r.ID, i, j, k, err)
				}
				rr.Events = append(rr.Events, e)
			}
			out.Ranges = append(out.Ranges, rr)
		}
		a.Affected = append(a.Affected, out)
	}
	a.Normalize()
	return a, nil
}

func osvEvent(m map[string]string) (Event, error) {
	if len(m) != 1 {
		return Event{}, fmt.Errorf("event must have exactly one field, has %d", len(m))
	}
	for k, v := range m {
		switch k {
		case "introduced":
			return Event{Introduced: v}, nil
		case "fixed":
			return Event{Fixed: v}, nil
		case "last_affected":
			return Event{LastAffected: v}, nil
		case "limit":
			return Event{Limit: v}, nil
		}
		return Event{}, fmt.Errorf("unknown event %q", k)
	}
	return Event{}, nil
}

// osvSeverityOf reads an OSV severity entry: CVSS vectors are scored; the "Ubuntu" type carries
// a priority word. Unparsable vectors are dropped rather than failing the record.
func osvSeverityOf(source string, s osvSeverity) (Severity, bool) {
	switch s.Type {
	case "CVSS_V2", "CVSS_V3", "CVSS_V4":
		sev, err := ParseCVSS(source, s.Type, s.Score)
		return sev, err == nil
	case "Ubuntu":
		lvl := ParseLevel(s.Score)
		return Severity{Source: source, Level: lvl}, lvl != LevelUnknown
	}
	return Severity{}, false
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t.UTC(), nil
}
