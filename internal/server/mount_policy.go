package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policy/policystore"
	"github.com/stellaops/stellaops/internal/policy/policystore/pgstore"
	"github.com/stellaops/stellaops/internal/policy/policystore/sqlitestore"
)

// PolicyConfig is the policy area's configuration (the "policy" section).
type PolicyConfig struct {
	// MaxPolicyBytes bounds one policy source, YAML or Rego (default 1 MiB). Import, validate
	// and diagnostics bodies may be twice that plus 64 KiB, for JSON escaping; a source over
	// the limit is a validation error naming it, a body over the body limit a 413.
	MaxPolicyBytes int `json:"maxPolicyBytes"`
	// MaxPreviewBytes bounds a preview request body, findings included (default 8 MiB).
	MaxPreviewBytes int64 `json:"maxPreviewBytes"`
	// Scoring is the base scoring a policy's own scoring section overrides key by key. Each
	// of its maps that is set replaces the default's map (policy.DefaultScoring) whole; a map
	// left out keeps the default. A source or reachability kind without a weight counts as 1.
	Scoring PolicyScoring `json:"scoring"`
}

// PolicyScoring is the base scoring: severity weights by level (Critical, High, Medium, Low,
// Informational, Unknown; 0..100), trust weights by advisory source and reachability
// weights by kind (0..10).
type PolicyScoring struct {
	SeverityWeights     map[string]float64 `json:"severityWeights"`
	TrustWeights        map[string]float64 `json:"trustWeights"`
	ReachabilityWeights map[string]float64 `json:"reachabilityWeights"`
}

// engineScoring is the engine's base scoring: the defaults with the maps s sets replaced.
// validate has checked the levels.
func (s PolicyScoring) engineScoring() policy.Scoring {
	out := policy.DefaultScoring()
	if len(s.SeverityWeights) > 0 {
		out.SeverityWeights = map[policy.Level]float64{}
		for k, w := range s.SeverityWeights {
			l, _ := policyLevelFold(k)
			out.SeverityWeights[l] = w
		}
	}
	if len(s.TrustWeights) > 0 {
		out.TrustWeights = s.TrustWeights
	}
	if len(s.ReachabilityWeights) > 0 {
		out.ReachabilityWeights = s.ReachabilityWeights
	}
	return out
}

// policyLevelFold reads a level case-insensitively: environment variable keys lose their case.
func policyLevelFold(s string) (policy.Level, bool) {
	for _, l := range policy.Levels() {
		if strings.EqualFold(string(l), s) {
			return l, true
		}
	}
	return "", false
}

func (c *PolicyConfig) defaults() {
	c.MaxPolicyBytes = 1 << 20
	c.MaxPreviewBytes = 8 << 20
}

func (c *PolicyConfig) validate() error {
	var errs []error
	if c.MaxPolicyBytes < 1<<10 || c.MaxPolicyBytes > 64<<20 {
		errs = append(errs, errors.New("policy.maxPolicyBytes must be between 1024 and 67108864"))
	}
	if c.MaxPreviewBytes < 1<<10 || c.MaxPreviewBytes > 1<<30 {
		errs = append(errs, errors.New("policy.maxPreviewBytes must be between 1024 and 1073741824"))
	}
	for k, w := range c.Scoring.SeverityWeights {
		if _, ok := policyLevelFold(k); !ok {
			errs = append(errs, fmt.Errorf("policy.scoring.severityWeights: %q is not a level (Critical, High, Medium, Low, Informational, Unknown)", k))
		} else if w < 0 || w > 100 {
			errs = append(errs, fmt.Errorf("policy.scoring.severityWeights.%s: %v is outside 0..100", k, w))
		}
	}
	for name, m := range map[string]map[string]float64{"trustWeights": c.Scoring.TrustWeights, "reachabilityWeights": c.Scoring.ReachabilityWeights} {
		seen := map[string]bool{}
		for k, w := range m {
			if strings.TrimSpace(k) == "" || seen[strings.ToLower(k)] {
				errs = append(errs, fmt.Errorf("policy.scoring.%s: names must be non-empty and differ in more than case (%q)", name, k))
			}
			seen[strings.ToLower(k)] = true
			if w < 0 || w > 10 {
				errs = append(errs, fmt.Errorf("policy.scoring.%s.%s: %v is outside 0..10", name, k, w))
			}
		}
	}
	return errors.Join(errs...)
}

// Headers naming the revision a policy response is about.
const (
	headerPolicyRevision = "X-Stella-Policy-Revision"
	headerPolicyDigest   = "X-Stella-Policy-Digest"
)

// Media types of policy sources: what export answers with and import accepts.
const (
	policyMediaYAML = "application/yaml"
	policyMediaRego = "text/x-rego; charset=utf-8"
)

// maxPolicyDescriptionBytes bounds a revision's description (a change note, not a document).
const maxPolicyDescriptionBytes = 1024

// policyArea serves the policy endpoints and the active policy other areas evaluate.
type policyArea struct {
	store  policystore.Store
	engine *policy.Engine
	now    func() time.Time
	s      *Server

	// mu guards current and compiled. load serialises cache misses, so that a burst of
	// requests after an import compiles the new revision once.
	mu       sync.Mutex
	load     sync.Mutex
	current  *activePolicyEntry
	compiled map[string]*policy.Policy // by digest, unbound
}

// activePolicyEntry is the active revision as this replica last saw it, compiled and bound.
type activePolicyEntry struct {
	rev policystore.Revision
	p   *policy.Policy
}

// maxCompiledPolicies bounds the compiled policies kept by digest. Only the active one is
// needed; a few more keep a rollback (re-importing an older policy) from compiling again.
const maxCompiledPolicies = 8

// mountPolicy opens the revision store, sets the active-policy service scans and reports
// evaluate, and puts the policy endpoints (spec §2.3) on the API.
func (s *Server) mountPolicy(ctx context.Context) error {
	var (
		st  policystore.Store
		err error
	)
	switch s.cfg.Storage.Driver {
	case "postgres":
		st, err = pgstore.Open(ctx, s.cfg.Storage.DSN)
	default:
		st, err = sqlitestore.Open(ctx, filepath.Join(s.opts.DataDir, "policy.db"))
	}
	if err != nil {
		return fmt.Errorf("policy store: %w", err)
	}
	s.closers = append(s.closers, st.Close)
	now := s.opts.Now
	if now == nil {
		now = time.Now
	}
	a := &policyArea{
		store: st,
		engine: policy.New(policy.Config{Scoring: s.cfg.Policy.Scoring.engineScoring(), Now: now,
			Limits: policy.Limits{MaxPolicyBytes: s.cfg.Policy.MaxPolicyBytes}}),
		now:      now,
		s:        s,
		compiled: map[string]*policy.Policy{},
	}
	s.areas.activePolicy = a.active
	if !s.cfg.HasRole("api") {
		return nil
	}
	sourceBody := 2*int64(s.cfg.Policy.MaxPolicyBytes) + 64<<10
	for _, rt := range []api.Route{
		{Method: http.MethodGet, Path: "/policy/export", Scope: authority.ScopePolicyRead, Summary: "export the active policy", Handler: a.export},
		{Method: http.MethodPost, Path: "/policy/import", Scope: authority.ScopePolicyWrite, Audit: true, MaxBody: sourceBody,
			Summary: "import a policy as the active revision", Handler: a.importPolicy},
		{Method: http.MethodPost, Path: "/policy/validate", Scope: authority.ScopePolicyRead, MaxBody: sourceBody,
			Summary: "validate a policy", Handler: a.validate},
		{Method: http.MethodGet, Path: "/policy/history", Scope: authority.ScopePolicyRead, Summary: "policy revision history", Handler: a.history},
		// Spec §2.3: the /api/v1/policy routes serve anonymous callers while auth is disabled.
		{Method: http.MethodGet, Path: "/api/v1/policy/schema", Scope: authority.ScopePolicyRead, Anonymous: true,
			Summary: "policy-schema@1 JSON Schema", Handler: a.schema},
		{Method: http.MethodPost, Path: "/api/v1/policy/diagnostics", Scope: authority.ScopePolicyRead, Anonymous: true, MaxBody: sourceBody,
			Summary: "policy diagnostics", Handler: a.diagnostics},
		{Method: http.MethodPost, Path: "/api/v1/policy/preview", Scope: authority.ScopePolicyRead, Anonymous: true, MaxBody: s.cfg.Policy.MaxPreviewBytes,
			Summary: "preview a policy's impact", Handler: a.preview},
	} {
		if err := s.API.Handle(rt); err != nil {
			return err
		}
	}
	return nil
}

// ActivePolicy returns the policy scans and reports evaluate now, compiled, with its revision
// (Content included); ErrNoActivePolicy until one is imported (internal/policy has no
// built-in default).
func (s *Server) ActivePolicy(ctx context.Context) (*policy.Policy, policy.Revision, error) {
	if s.areas.activePolicy == nil {
		return nil, policy.Revision{}, ErrNoActivePolicy
	}
	return s.areas.activePolicy(ctx)
}

// active is the activePolicy service. It reads the active revision's number from the store
// on every call (one index probe), so an import on any replica is what the next evaluation
// anywhere uses, with no staleness window; the compiled policy is cached by digest, so a
// revision is compiled once per replica, not per request.
func (a *policyArea) active(ctx context.Context) (*policy.Policy, policy.Revision, error) {
	head, err := a.store.Active(ctx)
	if errors.Is(err, policystore.ErrNotFound) {
		return nil, policy.Revision{}, ErrNoActivePolicy
	}
	if err != nil {
		return nil, policy.Revision{}, fmt.Errorf("active policy: %w", err)
	}
	if e := a.cached(head.Seq); e != nil {
		return e.p, e.rev.Policy(), nil
	}
	a.load.Lock()
	defer a.load.Unlock()
	if e := a.cached(head.Seq); e != nil {
		return e.p, e.rev.Policy(), nil
	}
	rev, err := a.store.Get(ctx, head.Seq)
	if err != nil {
		return nil, policy.Revision{}, fmt.Errorf("active policy %s: %w", head.ID(), err)
	}
	a.mu.Lock()
	p := a.compiled[rev.Digest]
	a.mu.Unlock()
	if p == nil {
		p, err = a.engine.Compile(ctx, policy.Source{Format: rev.Format, Content: rev.Content, Actor: rev.Actor, Description: rev.Description})
		if err != nil {
			// It compiled when it was imported; a lower policy.maxPolicyBytes since then, or
			// an engine that became stricter, can make it fail now. Say which revision.
			return nil, policy.Revision{}, fmt.Errorf("active policy %s no longer compiles: %w", rev.ID(), err)
		}
		a.remember(p)
	}
	e := &activePolicyEntry{rev: rev, p: p.WithRevisionID(rev.ID())}
	a.mu.Lock()
	if a.current == nil || a.current.rev.Seq < rev.Seq {
		a.current = e
	}
	a.mu.Unlock()
	return e.p, rev.Policy(), nil
}

func (a *policyArea) cached(seq int64) *activePolicyEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.current != nil && a.current.rev.Seq == seq {
		return a.current
	}
	return nil
}

// remember keeps p by digest; when full, it starts over rather than track recency: misses are
// rare (one per import per replica) and compiling is milliseconds.
func (a *policyArea) remember(p *policy.Policy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.compiled) >= maxCompiledPolicies {
		clear(a.compiled)
	}
	a.compiled[p.Digest()] = p
}

// policyRevisionView is a revision on the wire, without its content (export serves that).
type policyRevisionView struct {
	RevisionID  string           `json:"revisionId"`
	Digest      string           `json:"digest"`
	Format      policy.Format    `json:"format"`
	CreatedAt   policy.Timestamp `json:"createdAt"`
	Actor       string           `json:"actor"`
	Description string           `json:"description,omitempty"`
}

func policyRevisionOf(r policystore.Revision) policyRevisionView {
	return policyRevisionView{RevisionID: r.ID(), Digest: r.Digest, Format: r.Format, CreatedAt: policy.Timestamp(r.CreatedAt),
		Actor: r.Actor, Description: r.Description}
}

func setPolicyRevisionHeaders(w http.ResponseWriter, r policystore.Revision) {
	w.Header().Set(headerPolicyRevision, r.ID())
	w.Header().Set(headerPolicyDigest, r.Digest)
}

// export answers GET /policy/export[?revision=rev-N]: the source exactly as imported.
func (a *policyArea) export(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var seq int64
	if id := r.URL.Query().Get("revision"); id != "" {
		n, ok := policystore.ParseID(id)
		if !ok {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("revision %q is not a revision id (rev-<n>)", truncateRunes(id, 64)))
			return
		}
		seq = n
	} else {
		head, err := a.store.Active(ctx)
		if errors.Is(err, policystore.ErrNotFound) {
			api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no policy has been imported yet")
			return
		}
		if err != nil {
			a.internal(w, r, err)
			return
		}
		seq = head.Seq
	}
	rev, err := a.store.Get(ctx, seq)
	if errors.Is(err, policystore.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("policy revision %s does not exist", policystore.FormatID(seq)))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	setPolicyRevisionHeaders(w, rev)
	ct := policyMediaYAML
	if rev.Format == policy.FormatRego {
		ct = policyMediaRego
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(rev.Content)))
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, rev.Content)
}

// policyImportResult is the answer of POST /policy/import.
type policyImportResult struct {
	// Created is false when the policy equals the active revision (same digest): nothing
	// was recorded.
	Created  bool               `json:"created"`
	Revision policyRevisionView `json:"revision"`
	Issues   []policy.Issue     `json:"issues"`
}

// importPolicy answers POST /policy/import: a valid policy becomes the active revision,
// recorded with the caller's token subject as actor.
func (a *policyArea) importPolicy(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	src, ok := a.readSource(w, r)
	if !ok {
		return
	}
	p, ok := a.compile(w, r, src)
	if !ok {
		return
	}
	diag, err := a.engine.Diagnose(ctx, src)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	ps := p.Source()
	actor := api.PrincipalFrom(ctx).Claims.Subject
	rev, created, err := a.store.Append(ctx, policystore.NewRevision{Digest: p.Digest(), Format: ps.Format, Content: ps.Content,
		Actor: actor, Description: src.Description, CreatedAt: a.now()})
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.remember(p)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/policy/export?revision="+rev.ID())
		a.s.log.InfoContext(ctx, "policy imported", "component", "policy", "revision", rev.ID(), "digest", rev.Digest,
			"format", string(rev.Format), "actor", actor, "traceId", api.TraceID(ctx))
	}
	setPolicyRevisionHeaders(w, rev)
	api.WriteJSON(w, status, policyImportResult{Created: created, Revision: policyRevisionOf(rev), Issues: policyWarnings(diag.Issues)})
}

// policyValidateResult is the answer of POST /policy/validate for a valid policy.
type policyValidateResult struct {
	Valid     bool           `json:"valid"`
	Format    policy.Format  `json:"format"`
	Digest    string         `json:"digest"`
	Version   string         `json:"version,omitempty"`
	RuleCount int            `json:"ruleCount"`
	Issues    []policy.Issue `json:"issues"`
}

// validate answers POST /policy/validate: 200 when the policy would import, else the 400 of
// an import, with nothing recorded.
func (a *policyArea) validate(w http.ResponseWriter, r *http.Request) {
	src, ok := a.readSource(w, r)
	if !ok {
		return
	}
	p, ok := a.compile(w, r, src)
	if !ok {
		return
	}
	diag, err := a.engine.Diagnose(r.Context(), src)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, policyValidateResult{Valid: true, Format: p.Source().Format, Digest: p.Digest(), Version: p.Version(),
		RuleCount: diag.RuleCount, Issues: policyWarnings(diag.Issues)})
}

// policyWarnings is issues without errors (a compiled policy has none; this keeps the promise of
// the response schema should that ever change) and never nil.
func policyWarnings(issues []policy.Issue) []policy.Issue {
	out := []policy.Issue{}
	for _, is := range issues {
		if is.Severity != policy.SeverityError {
			out = append(out, is)
		}
	}
	return out
}

// compile compiles src, answering 400 with the spec's errors[{path,msg}] when it is invalid.
func (a *policyArea) compile(w http.ResponseWriter, r *http.Request, src policy.Source) (*policy.Policy, bool) {
	p, err := a.engine.Compile(r.Context(), src)
	var ve *policy.ValidationErrors
	switch {
	case errors.As(err, &ve):
		fe := make([]api.FieldError, len(ve.Errors))
		for i, e := range ve.Errors {
			fe[i] = api.FieldError{Path: e.Path, Msg: e.Msg}
		}
		api.WriteProblemValue(w, r, api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: ve.Error(), Errors: fe})
		return nil, false
	case err != nil:
		a.internal(w, r, err)
		return nil, false
	}
	return p, true
}

// Media types a raw policy body may have; anything else but JSON is refused.
var (
	policyYAMLMedia = []string{"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
	policyRegoMedia = []string{"text/x-rego", "application/x-rego"}
)

// readSource reads an import or validate body: a raw source (YAML or Rego, by Content-Type,
// else by ?format=, else by its first statement) with ?description=, or the JSON envelope
// {"policy":{"format","content","description"}} of the spec's diagnostics request. On
// failure it has answered.
func (a *policyArea) readSource(w http.ResponseWriter, r *http.Request) (policy.Source, bool) {
	q := r.URL.Query()
	var mt string
	if ct := r.Header.Get("Content-Type"); ct != "" {
		var err error
		if mt, _, err = mime.ParseMediaType(ct); err != nil {
			api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType, "malformed Content-Type: "+err.Error())
			return policy.Source{}, false
		}
	}
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		for _, k := range []string{"format", "description"} {
			if q.Has(k) {
				api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, k+" goes in the JSON body's policy object, not the query")
				return policy.Source{}, false
			}
		}
		var req struct {
			Policy *policy.Source `json:"policy"`
		}
		if !api.DecodeJSON(w, r, &req) {
			return policy.Source{}, false
		}
		if req.Policy == nil {
			policyFieldProblem(w, r, "$.policy", "Required: the policy to import, as {format, content, description}")
			return policy.Source{}, false
		}
		src := *req.Policy
		return src, checkPolicyText(w, r, src)
	}
	var format policy.Format
	switch {
	case slices.Contains(policyYAMLMedia, mt):
		format = policy.FormatYAML
	case slices.Contains(policyRegoMedia, mt):
		format = policy.FormatRego
	case mt == "" || mt == "text/plain":
	default:
		api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType, fmt.Sprintf(
			"Content-Type %s is not a policy: send YAML as application/yaml, Rego as text/x-rego, or JSON {\"policy\":{...}} as application/json", mt))
		return policy.Source{}, false
	}
	if v := q.Get("format"); v != "" {
		f, ok := parsePolicyFormat(v)
		if !ok {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("format %q: yaml or rego", truncateRunes(v, 32)))
			return policy.Source{}, false
		}
		if format != "" && f != format {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("format %s contradicts Content-Type %s", f, mt))
			return policy.Source{}, false
		}
		format = f
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
		} else {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
		}
		return policy.Source{}, false
	}
	src := policy.Source{Format: format, Content: string(body), Description: q.Get("description")}
	if src.Format == "" {
		src.Format = detectPolicyFormat(src.Content)
	}
	return src, checkPolicyText(w, r, src)
}

// parsePolicyFormat reads ?format=; the engine's aliases (yml, json) are YAML.
func parsePolicyFormat(v string) (policy.Format, bool) {
	switch strings.ToLower(v) {
	case "yaml", "yml", "json":
		return policy.FormatYAML, true
	case "rego":
		return policy.FormatRego, true
	}
	return "", false
}

// detectPolicyFormat tells Rego from YAML by the first statement: a Rego module starts with its
// package clause (after comments), which no policy-schema@1 document does.
func detectPolicyFormat(content string) policy.Format {
	content = strings.TrimPrefix(content, "\uFEFF")
	for line := range strings.Lines(content) {
		line = strings.TrimLeft(line, " \t")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "package"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
			return policy.FormatRego
		}
		return policy.FormatYAML
	}
	return policy.FormatYAML
}

// checkPolicyText refuses text no store can hold (NUL, invalid UTF-8) and over-long or multi-line
// descriptions, answering 400.
func checkPolicyText(w http.ResponseWriter, r *http.Request, src policy.Source) bool {
	if !utf8.ValidString(src.Content) || strings.IndexByte(src.Content, 0) >= 0 {
		policyFieldProblem(w, r, "$", "The policy must be UTF-8 text without NUL characters")
		return false
	}
	switch d := src.Description; {
	case len(d) > maxPolicyDescriptionBytes:
		policyFieldProblem(w, r, "description", fmt.Sprintf("The description is %d bytes, over the limit of %d", len(d), maxPolicyDescriptionBytes))
		return false
	case !utf8.ValidString(d) || strings.IndexFunc(d, unicode.IsControl) >= 0:
		policyFieldProblem(w, r, "description", "The description must be one line of UTF-8 text without control characters")
		return false
	}
	return true
}

func policyFieldProblem(w http.ResponseWriter, r *http.Request, path, msg string) {
	api.WriteProblemValue(w, r, api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: path + ": " + msg,
		Errors: []api.FieldError{{Path: path, Msg: msg}}})
}

// policyHistoryPage is the answer of GET /policy/history.
type policyHistoryPage struct {
	Revisions []policyRevisionView `json:"revisions"`
	// NextCursor is the cursor of the next (older) page; absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Page sizes of GET /policy/history.
const (
	policyHistoryDefaultLimit = 50
	policyHistoryMaxLimit     = 500
)

// history answers GET /policy/history: revisions newest first (the latest change is what an
// auditor asks about first), paged by ?limit= and the ?cursor= of the previous page.
func (a *policyArea) history(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := policyHistoryDefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > policyHistoryMaxLimit {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("limit must be an integer between 1 and %d", policyHistoryMaxLimit))
			return
		}
		limit = n
	}
	var before int64
	if v := q.Get("cursor"); v != "" {
		n, ok := policystore.ParseID(v)
		if !ok {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("cursor %q is not a cursor of this endpoint", truncateRunes(v, 64)))
			return
		}
		before = n
	}
	revs, err := a.store.List(r.Context(), before, limit+1)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	page := policyHistoryPage{Revisions: make([]policyRevisionView, 0, min(len(revs), limit))}
	if len(revs) > limit {
		revs = revs[:limit]
		page.NextCursor = revs[limit-1].ID()
	}
	for _, rv := range revs {
		page.Revisions = append(page.Revisions, policyRevisionOf(rv))
	}
	api.WriteJSON(w, http.StatusOK, page)
}

// schema answers GET /api/v1/policy/schema with the embedded policy-schema@1.
func (a *policyArea) schema(w http.ResponseWriter, _ *http.Request) {
	b := policy.Schema()
	w.Header().Set("Content-Type", policy.SchemaMediaType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// diagnostics answers POST /api/v1/policy/diagnostics: always 200 for a well-formed request;
// the policy's problems are issues (success false).
func (a *policyArea) diagnostics(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Policy *policy.Source `json:"policy"`
	}
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	if req.Policy == nil {
		policyFieldProblem(w, r, "$.policy", "Required: the policy to diagnose, as {format, content}")
		return
	}
	d, err := a.engine.Diagnose(r.Context(), *req.Policy)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, d)
}

// preview answers POST /api/v1/policy/preview (scanner.features.enablePolicyPreview): the
// request's staged policy, or the active one, over its findings, against their baselines.
func (a *policyArea) preview(w http.ResponseWriter, r *http.Request) {
	if !a.s.cfg.Scanner.Features.EnablePolicyPreview {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "policy preview is disabled (scanner.features.enablePolicyPreview)")
		return
	}
	ctx := r.Context()
	var req policy.PreviewRequest
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	var active *policy.Policy
	if req.Policy == nil {
		p, _, err := a.active(ctx)
		switch {
		case errors.Is(err, ErrNoActivePolicy):
			api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no policy has been imported yet: send one in policy to preview it")
			return
		case err != nil:
			a.internal(w, r, err)
			return
		}
		active = p
	}
	resp, err := a.engine.Preview(ctx, req, active)
	switch {
	case err == nil:
		api.WriteJSON(w, http.StatusOK, resp)
	case ctx.Err() != nil:
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the request ended before the preview did")
	default:
		// What remains comes from evaluating this policy on these findings (too many or too
		// large findings, a Rego module over its time budget or failing a built-in): the
		// request's to fix, not the server's.
		a.s.log.WarnContext(ctx, "policy preview failed", "component", "policy", "err", err, "traceId", api.TraceID(ctx))
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
	}
}

func (a *policyArea) internal(w http.ResponseWriter, r *http.Request, err error) {
	a.s.log.ErrorContext(r.Context(), "policy request failed", "component", "policy", "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusInternalServerError, api.ProbInternal, "the server failed; the trace id finds the log entry")
}

// truncateRunes shortens an echoed client value for a problem detail.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
