// Package merge is merge:reconcile: it unites the advisories every source mapped into one
// canonical set. Records that name each other (an OSV record's aliases, a GHSA and a GO record of
// one CVE, a distro's copy of a CVE) become one advisory keyed by its CVE when it has exactly one.
// Each field is decided by a precedence table of source classes — distro > vendor PSIRT >
// GHSA/OSV > NVD; CERTs and KEV only enrich — and every decision where sources disagreed is
// recorded as a merge event (field, winner, loser, reason, digests before and after).
//
// What the sources say about packages is never overruled, only gathered: each affected entry
// keeps the source it came from, and the matcher reads a distro's entries only for that distro.
package merge

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/concelier/store"
)

// Class is a kind of source, for precedence.
type Class string

// Source classes, strongest first in the default precedence.
const (
	ClassDistro Class = "distro"
	ClassVendor Class = "vendor"
	ClassOSV    Class = "osv" // GHSA and OSV ecosystem databases
	ClassNVD    Class = "nvd"
	// ClassEnrich sources (CISA KEV, CERTs) add facts (known exploitation, references) but
	// never decide a field or create an advisory on their own.
	ClassEnrich Class = "enrich"
)

// Precedence ranks source classes (lower wins) and classifies provenance source names.
type Precedence struct {
	Ranks map[Class]int
	// Classes maps a provenance source name ("osv:AlmaLinux", "nvd") or a prefix ending in ':'
	// ("redhat:") to its class; unknown sources are ClassOSV.
	Classes map[string]Class
}

// DefaultPrecedence is the spec's table: distro > vendor PSIRT > GHSA/OSV > NVD.
func DefaultPrecedence() Precedence {
	return Precedence{
		Ranks: map[Class]int{ClassDistro: 0, ClassVendor: 1, ClassOSV: 2, ClassNVD: 3, ClassEnrich: 4},
		Classes: map[string]Class{
			"osv:AlmaLinux": ClassDistro, "osv:Rocky Linux": ClassDistro, "osv:Debian": ClassDistro,
			"osv:Ubuntu": ClassDistro, "osv:Alpine": ClassDistro, "osv:Red Hat": ClassDistro,
			"osv:SUSE": ClassDistro, "osv:openSUSE": ClassDistro, "osv:Mageia": ClassDistro,
			"osv:Wolfi": ClassDistro, "osv:Chainguard": ClassDistro,
			"debian-tracker": ClassDistro, "ubuntu-tracker": ClassDistro, "alpine-secdb": ClassDistro,
			"redhat-csaf": ClassDistro,
			"vendor:":     ClassVendor,
			"nvd":         ClassNVD,
			"kev":         ClassEnrich, "cert:": ClassEnrich,
		},
	}
}

// Class returns the class of a provenance source name.
func (p Precedence) Class(source string) Class {
	if c, ok := p.Classes[source]; ok {
		return c
	}
	for k, c := range p.Classes {
		if strings.HasSuffix(k, ":") && strings.HasPrefix(source, k) {
			return c
		}
	}
	return ClassOSV
}

func (p Precedence) rank(source string) int {
	if r, ok := p.Ranks[p.Class(source)]; ok {
		return r
	}
	return len(p.Ranks)
}

// Input is one source's mapped record.
type Input struct {
	Key      string // the record's key in its source
	Source   string // provenance source name ("osv:Go")
	Advisory *advisory.Advisory
	Digest   string // of the record's canonical JSON
}

// Conflict is a disagreement the merge resolved, or could not.
type Conflict struct {
	AdvisoryID string `json:"advisoryId"`
	Field      string `json:"field"`
	Detail     string `json:"detail"`
}

// Result is one merge run's output.
type Result struct {
	Advisories []*advisory.Advisory // sorted by ID
	Events     []store.MergeEvent
	Conflicts  []Conflict
	Inputs     int
	PerSource  map[string]int // inputs per provenance source
	// Encoded is Advisories in stored form, in the same order (set by Reconcile).
	Encoded []store.Encoded
}

// Merge unites inputs. runID stamps the events; now is their time.
func Merge(ctx context.Context, inputs []Input, prec Precedence, runID string, now time.Time) (*Result, error) {
	res := &Result{Inputs: len(inputs), PerSource: map[string]int{}}
	groups, multiCVE := group(inputs)
	var enrichOnly [][]Input
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a, events, conflicts, ok := mergeGroup(g, prec, runID, now)
		if !ok {
			enrichOnly = append(enrichOnly, g)
			continue
		}
		if multiCVE[g[0].Key] {
			conflicts = append(conflicts, Conflict{AdvisoryID: a.ID, Field: "id", Detail: "the records name more than one CVE; kept under " + a.ID})
		}
		res.Advisories = append(res.Advisories, a)
		res.Events = append(res.Events, events...)
		res.Conflicts = append(res.Conflicts, conflicts...)
	}
	enrich(res.Advisories, enrichOnly)
	for _, in := range inputs {
		res.PerSource[in.Source]++
	}
	slices.SortFunc(res.Advisories, func(a, b *advisory.Advisory) int { return cmp.Compare(a.ID, b.ID) })
	// Two groups can land on one ID only if a record aliases a CVE another group is keyed by
	// without joining it (the multi-CVE rule); fold those together.
	out := res.Advisories[:0]
	for _, a := range res.Advisories {
		if n := len(out); n > 0 && out[n-1].ID == a.ID {
			out[n-1].Merge(a)
			continue
		}
		out = append(out, a)
	}
	res.Advisories = out
	return res, nil
}

// enrich applies enrichment records that joined no group to every advisory that names one of
// their IDs as an alias or, for errata (ALSA-2022:0267 fixes CVE-2021-4034), as a related CVE: an
// erratum that fixes an exploited CVE is as urgent as the CVE. They never create an advisory.
func enrich(advs []*advisory.Advisory, groups [][]Input) {
	if len(groups) == 0 {
		return
	}
	byID := map[string][]*advisory.Advisory{}
	for _, a := range advs {
		for _, id := range append(a.IDs(), a.Related...) {
			byID[id] = append(byID[id], a)
		}
	}
	for _, g := range groups {
		for _, in := range g {
			for _, a := range byID[in.Advisory.ID] {
				a.KnownExploited = a.KnownExploited || in.Advisory.KnownExploited
				a.References = append(a.References, in.Advisory.References...)
				a.Sources = append(a.Sources, in.Advisory.Sources...)
				a.Normalize()
			}
		}
	}
}

// group unites inputs that share an identifier (union-find). A record that names more than one
// CVE would weld distinct vulnerabilities into one, through its CVEs or through the per-CVE
// aliases (GHSA, PYSEC) it also lists; so it joins only through its own ID, and with records
// naming exactly the same CVEs (two databases' copies of one multi-CVE advisory).
func group(inputs []Input) ([][]Input, map[string]bool) {
	parent := make([]int, len(inputs))
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	owner := map[string]int{} // identifier → first input naming it
	join := func(i int, id string) {
		if j, ok := owner[id]; ok {
			if a, b := find(i), find(j); a != b {
				parent[max(a, b)] = min(a, b)
			}
		} else {
			owner[id] = i
		}
	}
	multiCVE := map[string]bool{}
	for i, in := range inputs {
		ids := in.Advisory.IDs()
		var cves []string
		for _, id := range ids {
			if strings.HasPrefix(id, "CVE-") {
				cves = append(cves, id)
			}
		}
		if len(cves) > 1 {
			multiCVE[in.Key] = true
			slices.Sort(cves)
			join(i, in.Advisory.ID)
			join(i, "\x00cves:"+strings.Join(cves, ","))
			continue
		}
		for _, id := range ids {
			join(i, id)
		}
	}
	byRoot := map[int][]Input{}
	var roots []int
	for i, in := range inputs {
		r := find(i)
		if _, ok := byRoot[r]; !ok {
			roots = append(roots, r)
		}
		byRoot[r] = append(byRoot[r], in)
	}
	out := make([][]Input, 0, len(roots))
	for _, r := range roots {
		out = append(out, byRoot[r])
	}
	return out, multiCVE
}

// mergeGroup decides one advisory from the records of one vulnerability. ok is false when only
// enrichment sources speak of it.
func mergeGroup(g []Input, prec Precedence, runID string, now time.Time) (*advisory.Advisory, []store.MergeEvent, []Conflict, bool) {
	slices.SortFunc(g, func(a, b Input) int {
		return cmp.Or(cmp.Compare(prec.rank(a.Source), prec.rank(b.Source)), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Key, b.Key))
	})
	if prec.Class(g[0].Source) == ClassEnrich {
		return nil, nil, nil, false
	}
	ids := map[string]bool{}
	for _, in := range g {
		for _, id := range in.Advisory.IDs() {
			ids[id] = true
		}
	}
	all := make([]string, 0, len(ids))
	for id := range ids {
		all = append(all, id)
	}
	slices.Sort(all)
	id := g[0].Advisory.ID
	var cves []string
	for _, x := range all {
		if strings.HasPrefix(x, "CVE-") {
			cves = append(cves, x)
		}
	}
	if len(cves) == 1 {
		id = cves[0]
	}
	out := &advisory.Advisory{ID: id}
	for _, x := range all {
		if x != id {
			out.Aliases = append(out.Aliases, x)
		}
	}
	var events []store.MergeEvent
	var conflicts []Conflict
	// decide picks a scalar field by precedence: the strongest source that has a value wins, and
	// each weaker source with a different value is a recorded loss.
	decide := func(field string, get func(*advisory.Advisory) string) string {
		winner, value := "", ""
		for _, in := range g {
			if prec.Class(in.Source) == ClassEnrich {
				continue
			}
			v := get(in.Advisory)
			if v == "" {
				continue
			}
			if winner == "" {
				winner, value = in.Source, v
				continue
			}
			if v != value && in.Source != winner {
				events = append(events, store.MergeEvent{AdvisoryID: id, Field: field, WinnerSource: winner, LoserSource: in.Source,
					Reason:       fmt.Sprintf("precedence: %s > %s", prec.Class(winner), prec.Class(in.Source)),
					DigestBefore: in.Digest, At: now, RunID: runID})
				conflicts = append(conflicts, Conflict{AdvisoryID: id, Field: field, Detail: winner + " over " + in.Source})
			}
		}
		return value
	}
	out.Summary = decide("summary", func(a *advisory.Advisory) string { return a.Summary })
	out.Details = decide("details", func(a *advisory.Advisory) string { return a.Details })
	pub := decide("published", func(a *advisory.Advisory) string { return timeString(a.Published) })
	out.Published, _ = time.Parse(time.RFC3339Nano, pub)
	for _, in := range g {
		a := in.Advisory
		// Modified is freshness, not precedence: the newest change of any source.
		if a.Modified.After(out.Modified) {
			out.Modified = a.Modified
		}
		out.KnownExploited = out.KnownExploited || a.KnownExploited
		out.References = append(out.References, a.References...)
		out.Sources = append(out.Sources, a.Sources...)
		if prec.Class(in.Source) == ClassEnrich {
			continue // enrichment never adds ranges, ratings or weaknesses
		}
		out.Related = append(out.Related, a.Related...)
		out.Severities = append(out.Severities, a.Severities...)
		out.CWEs = append(out.CWEs, a.CWEs...)
		out.Affected = append(out.Affected, a.Affected...)
		if !a.Withdrawn.IsZero() && (out.Withdrawn.IsZero() || a.Withdrawn.Before(out.Withdrawn)) && in.Source == g[0].Source {
			out.Withdrawn = a.Withdrawn // only the deciding source can retract
		}
	}
	out.Related = slices.DeleteFunc(out.Related, func(r string) bool { return ids[r] })
	out.Normalize()
	if len(events) > 0 {
		if enc, err := store.Encode(out); err == nil {
			for i := range events {
				events[i].DigestAfter = enc.Digest
			}
		}
	}
	return out, events, conflicts, true
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
