package concelier

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Triggers from outside the process (the HTTP API's POST /jobs/<kind>) name a job and may set a
// few of its parameters; everything that touches the server's file system or credentials (an
// output directory, a mirror outside the configured root, the ORAS reference and its secrets)
// comes from the server's configuration, never from the request. ParseKind, ParseTriggerQuery
// and TriggerPolicy.Resolve turn such a request into the Options a run takes.

// JobKind is a job name split into its parts.
type JobKind struct {
	// Name is the job name: source:osv:fetch, merge:reconcile, export:json, export:trivy-db.
	Name string
	// Source and Stage are set for source jobs.
	Source, Stage string
}

// IsSource reports whether k is a source job.
func (k JobKind) IsSource() bool { return k.Source != "" }

// maxKindLen bounds a job name: the longest real one is far shorter.
const maxKindLen = 64

// ParseKind checks a job name: source:<id>:<fetch|parse|map> for a source this build has,
// merge:reconcile, export:json or export:trivy-db. Other names give ErrUnknownJob.
func ParseKind(name string) (JobKind, error) {
	if len(name) > maxKindLen || !utf8.ValidString(name) {
		return JobKind{}, fmt.Errorf("%w: the job name is not one this server runs", ErrUnknownJob)
	}
	switch name {
	case "merge:reconcile", "export:json", "export:trivy-db":
		return JobKind{Name: name}, nil
	}
	parts := strings.Split(name, ":")
	if len(parts) != 3 || parts[0] != "source" {
		return JobKind{}, fmt.Errorf("%w %q (want source:<id>:<fetch|parse|map>, merge:reconcile, export:json or export:trivy-db)", ErrUnknownJob, name)
	}
	if !slices.Contains(Sources, parts[1]) {
		return JobKind{}, fmt.Errorf("%w %q: no source %q (this build has: %s)", ErrUnknownJob, name, parts[1], strings.Join(Sources, ", "))
	}
	switch parts[2] {
	case "fetch", "parse", "map":
	default:
		return JobKind{}, fmt.Errorf("%w %q: stage %q (want fetch, parse or map)", ErrUnknownJob, name, parts[2])
	}
	return JobKind{Name: name, Source: parts[1], Stage: parts[2]}, nil
}

// TriggerRequest is what a caller may send with a trigger.
type TriggerRequest struct {
	// Trigger labels who or what asked ("cli", "scheduler"); the caller's identity is added to
	// it by the server.
	Trigger    string            `json:"trigger,omitempty"`
	Parameters TriggerParameters `json:"parameters"`
}

// TriggerParameters are the run parameters a caller may set; nil and empty mean unset (the
// server's configuration decides).
type TriggerParameters struct {
	// Mode of source jobs: init, resume or cursor.
	Mode string `json:"mode,omitempty"`
	// Mirror of source jobs: a path relative to the server's mirror root.
	Mirror string `json:"mirror,omitempty"`
	// Ecosystems of source:osv jobs.
	Ecosystems []string `json:"ecosystems,omitempty"`
	// Delta of exports: only what changed since the last full export.
	Delta *bool `json:"delta,omitempty"`
	// PublishFull, PublishDelta (ORAS push) and IncludeFull, IncludeDelta (offline bundle)
	// override export:trivy-db's configured switches for this run.
	PublishFull  *bool `json:"publishFull,omitempty"`
	PublishDelta *bool `json:"publishDelta,omitempty"`
	IncludeFull  *bool `json:"includeFull,omitempty"`
	IncludeDelta *bool `json:"includeDelta,omitempty"`
}

// ParamError is a refused parameter; it wraps ErrInvalidOptions.
type ParamError struct {
	// Field is the parameter's JSON path ("parameters.mode") or query name ("query.mode").
	Field string
	Msg   string
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Msg }

// Unwrap makes a ParamError an ErrInvalidOptions.
func (e *ParamError) Unwrap() error { return ErrInvalidOptions }

func paramErr(field, format string, args ...any) error {
	return &ParamError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Bounds of request parameters.
const (
	maxLabelLen     = 64
	maxEcosystems   = 64
	maxEcosystemLen = 64
	maxMirrorLen    = 1024
)

// ParseTriggerQuery reads a trigger's parameters from a query string: trigger, mode, mirror,
// ecosystem (repeatable), delta, publishFull, publishDelta, includeFull, includeDelta. Unknown
// and repeated keys are refused.
func ParseTriggerQuery(q url.Values) (TriggerRequest, error) {
	var r TriggerRequest
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the first error named is the same on every call
	for _, k := range keys {
		vs := q[k]
		field := "query." + k
		if k != "ecosystem" && len(vs) != 1 {
			return r, paramErr(field, "given %d times", len(vs))
		}
		var b **bool
		switch k {
		case "trigger":
			r.Trigger = vs[0]
		case "mode":
			r.Parameters.Mode = vs[0]
		case "mirror":
			r.Parameters.Mirror = vs[0]
		case "ecosystem":
			r.Parameters.Ecosystems = vs
		case "delta":
			b = &r.Parameters.Delta
		case "publishFull":
			b = &r.Parameters.PublishFull
		case "publishDelta":
			b = &r.Parameters.PublishDelta
		case "includeFull":
			b = &r.Parameters.IncludeFull
		case "includeDelta":
			b = &r.Parameters.IncludeDelta
		default:
			return r, paramErr("query", "unknown parameter %q (trigger, mode, mirror, ecosystem, delta, publishFull, publishDelta, includeFull, includeDelta)", truncate(k))
		}
		if b != nil {
			v, err := strconv.ParseBool(vs[0])
			if err != nil {
				return r, paramErr(field, "want true or false, got %q", truncate(vs[0]))
			}
			*b = &v
		}
	}
	return r, nil
}

// Merge combines a body and a query string: a parameter set in both must agree.
func (r TriggerRequest) Merge(q TriggerRequest) (TriggerRequest, error) {
	str := func(field string, a *string, b string) error {
		if *a != "" && b != "" && *a != b {
			return paramErr(field, "the body says %q, the query %q", truncate(*a), truncate(b))
		}
		if b != "" {
			*a = b
		}
		return nil
	}
	flag := func(field string, a **bool, b *bool) error {
		if *a != nil && b != nil && **a != *b {
			return paramErr(field, "the body says %t, the query %t", **a, *b)
		}
		if b != nil {
			*a = b
		}
		return nil
	}
	p, qp := &r.Parameters, q.Parameters
	if len(p.Ecosystems) > 0 && len(qp.Ecosystems) > 0 && !slices.Equal(p.Ecosystems, qp.Ecosystems) {
		return r, paramErr("parameters.ecosystems", "the body and the query name different ecosystems")
	}
	if len(qp.Ecosystems) > 0 {
		p.Ecosystems = qp.Ecosystems
	}
	err := errors.Join(str("trigger", &r.Trigger, q.Trigger), str("parameters.mode", &p.Mode, qp.Mode),
		str("parameters.mirror", &p.Mirror, qp.Mirror), flag("parameters.delta", &p.Delta, qp.Delta),
		flag("parameters.publishFull", &p.PublishFull, qp.PublishFull), flag("parameters.publishDelta", &p.PublishDelta, qp.PublishDelta),
		flag("parameters.includeFull", &p.IncludeFull, qp.IncludeFull), flag("parameters.includeDelta", &p.IncludeDelta, qp.IncludeDelta))
	if err != nil {
		var pe *ParamError
		errors.As(err, &pe) // the first disagreement
		return r, pe
	}
	return r, nil
}

// SourceDefaults are a source's configured run parameters.
type SourceDefaults struct {
	// Mirror is a local copy read instead of the network (an absolute path).
	Mirror string
	// Ecosystems of osv.
	Ecosystems []string
}

// TriggerPolicy is what a server allows and supplies to triggered runs.
type TriggerPolicy struct {
	// AllowedSources may be triggered; empty allows every source of this build.
	AllowedSources []string
	// Sources holds per-source defaults by source ID.
	Sources map[string]SourceDefaults
	// MirrorRoot is the directory request mirrors are relative to; empty refuses them.
	MirrorRoot string
	// NVDAPIKey is sent by source:nvd jobs.
	NVDAPIKey string
	// TrivyDB are export:trivy-db's configured switches, ORAS reference and credentials.
	TrivyDB TrivyDBOptions
}

// Resolve turns a trigger request for kind into run options: the configured defaults, with
// the parameters the request may set. Parameters that do not apply to kind, a bad label or
// mode, an unusable mirror or ecosystem give a *ParamError (ErrInvalidOptions); a source the
// policy does not allow gives ErrUnknownJob.
func (p TriggerPolicy) Resolve(kind JobKind, req TriggerRequest) (Options, error) {
	o := Options{Trigger: req.Trigger}
	if err := checkLabel(req.Trigger); err != nil {
		return o, err
	}
	rp := req.Parameters
	only := func(kinds string, ok bool, set bool, field string) error {
		if set && !ok {
			return paramErr("parameters."+field, "applies to %s only, not to %s", kinds, kind.Name)
		}
		return nil
	}
	src, osv := kind.IsSource(), kind.Source == "osv"
	export, trivy := kind.Name == "export:json" || kind.Name == "export:trivy-db", kind.Name == "export:trivy-db"
	if err := errors.Join(
		only("source jobs", src, rp.Mode != "", "mode"),
		only("source jobs", src, rp.Mirror != "", "mirror"),
		only("source:osv jobs", osv, len(rp.Ecosystems) > 0, "ecosystems"),
		only("exports", export, rp.Delta != nil, "delta"),
		only("export:trivy-db", trivy, rp.PublishFull != nil, "publishFull"),
		only("export:trivy-db", trivy, rp.PublishDelta != nil, "publishDelta"),
		only("export:trivy-db", trivy, rp.IncludeFull != nil, "includeFull"),
		only("export:trivy-db", trivy, rp.IncludeDelta != nil, "includeDelta"),
	); err != nil {
		var pe *ParamError
		errors.As(err, &pe)
		return o, pe
	}
	switch {
	case src:
		return p.resolveSource(kind, rp, o)
	case export:
		o.Delta = rp.Delta != nil && *rp.Delta
		if trivy {
			return p.resolveTrivy(rp, o)
		}
	}
	return o, nil
}

func (p TriggerPolicy) resolveSource(kind JobKind, rp TriggerParameters, o Options) (Options, error) {
	if len(p.AllowedSources) > 0 && !slices.Contains(p.AllowedSources, kind.Source) {
		return o, fmt.Errorf("%w %q: source %s is not enabled on this server (allowed: %s)", ErrUnknownJob, kind.Name, kind.Source, strings.Join(p.AllowedSources, ", "))
	}
	switch rp.Mode {
	case "", "init", "resume", "cursor":
		o.Mode = rp.Mode
	default:
		return o, paramErr("parameters.mode", "%q is not a mode (init, resume or cursor)", truncate(rp.Mode))
	}
	def := p.Sources[kind.Source]
	o.Mirror, o.Ecosystems = def.Mirror, def.Ecosystems
	if rp.Mirror != "" {
		m, err := ResolveMirror(p.MirrorRoot, rp.Mirror)
		if err != nil {
			return o, err
		}
		o.Mirror = m
	}
	if len(rp.Ecosystems) > 0 {
		if err := checkEcosystems(rp.Ecosystems); err != nil {
			return o, err
		}
		o.Ecosystems = slices.Clone(rp.Ecosystems)
	}
	if kind.Source == "osv" && o.Mirror == "" && len(o.Ecosystems) == 0 {
		return o, paramErr("parameters.ecosystems", "source osv needs the ecosystems to fetch over the network, or a mirror (parameters.mirror, or the server's configured osv mirror)")
	}
	if kind.Source == "nvd" {
		o.NVDAPIKey = p.NVDAPIKey
	}
	return o, nil
}

func (p TriggerPolicy) resolveTrivy(rp TriggerParameters, o Options) (Options, error) {
	o.TrivyDB = p.TrivyDB
	set := func(field string, enabled bool, what string, dst *bool, v *bool) error {
		if v == nil {
			return nil
		}
		if !enabled {
			return paramErr("parameters."+field, "%s is not enabled on this server", what)
		}
		*dst = *v
		return nil
	}
	r, b := &o.TrivyDB.ORAS, &o.TrivyDB.OfflineBundle
	if err := errors.Join(
		set("publishFull", r.Enabled, "ORAS publishing", &r.PublishFull, rp.PublishFull),
		set("publishDelta", r.Enabled, "ORAS publishing", &r.PublishDelta, rp.PublishDelta),
		set("includeFull", b.Enabled, "the offline bundle", &b.IncludeFull, rp.IncludeFull),
		set("includeDelta", b.Enabled, "the offline bundle", &b.IncludeDelta, rp.IncludeDelta),
	); err != nil {
		var pe *ParamError
		errors.As(err, &pe)
		return o, pe
	}
	return o, nil
}

// checkLabel allows short labels of letters, digits, '.', '_' and '-'.
func checkLabel(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxLabelLen {
		return paramErr("trigger", "longer than %d characters", maxLabelLen)
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || i > 0 && (r == '.' || r == '_' || r == '-')) {
			return paramErr("trigger", "%q: use letters, digits, '.', '_' and '-', starting with a letter or digit", truncate(s))
		}
	}
	return nil
}

// checkEcosystems refuses names that could leave a mirror directory or a URL path segment.
func checkEcosystems(ecos []string) error {
	if len(ecos) > maxEcosystems {
		return paramErr("parameters.ecosystems", "more than %d ecosystems", maxEcosystems)
	}
	seen := map[string]bool{}
	for i, e := range ecos {
		field := fmt.Sprintf("parameters.ecosystems[%d]", i)
		switch {
		case e == "" || len(e) > maxEcosystemLen:
			return paramErr(field, "want 1 to %d characters", maxEcosystemLen)
		case e == "." || e == "..":
			return paramErr(field, "%q is not an ecosystem", e)
		case seen[e]:
			return paramErr(field, "%q is named twice", e)
		}
		for _, r := range e {
			if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '?' || r == '#' || r == '%' {
				return paramErr(field, "%q: an ecosystem name holds no '/', '\\', '?', '#', '%%' or control characters", truncate(e))
			}
		}
		seen[e] = true
	}
	return nil
}

// ResolveMirror returns the real path of rel inside root: rel must be a local path (relative,
// no "..", no NUL) of at most 1 KiB that exists, and must not lead out of root through a
// symbolic link. An empty root refuses every mirror.
func ResolveMirror(root, rel string) (string, error) {
	const field = "parameters.mirror"
	if root == "" {
		return "", paramErr(field, "this server takes no mirror paths from requests (concelier.mirrorRoot is not set)")
	}
	if len(rel) > maxMirrorLen || !utf8.ValidString(rel) || strings.ContainsAny(rel, "\\\x00") || !filepath.IsLocal(rel) {
		return "", paramErr(field, "want a relative path inside the mirror root, without '..' or '\\'")
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("concelier: mirror root: %w", err)
	}
	real, err := filepath.EvalSymlinks(filepath.Join(realRoot, rel))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", paramErr(field, "%q does not exist in the mirror root", truncate(rel))
		}
		return "", paramErr(field, "%q: %v", truncate(rel), errors.Unwrap(err))
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", paramErr(field, "%q leads out of the mirror root", truncate(rel))
	}
	return real, nil
}

// truncate shortens caller text quoted in errors.
func truncate(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "…"
}
