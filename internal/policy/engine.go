package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// Limits bound what one policy or one evaluation may cost. Policies and findings come from
// API callers, so every dimension an attacker controls has a ceiling.
type Limits struct {
	// MaxPolicyBytes bounds a policy's source (YAML or Rego).
	MaxPolicyBytes int
	// MaxYAMLDepth bounds nesting; policy-schema@1 itself needs 5 levels.
	MaxYAMLDepth int
	// MaxYAMLNodes bounds the node count of a YAML policy.
	MaxYAMLNodes int
	// MaxRules bounds the rule count (the unreachable-rule check is quadratic in it).
	MaxRules int
	// MaxFindings bounds the findings of one evaluation or preview.
	MaxFindings int
	// MaxFindingBytes bounds one finding's size (roughly its JSON size).
	MaxFindingBytes int
	// MaxRegoStringBytes bounds the strings concat, sprintf and json.marshal may build.
	MaxRegoStringBytes int
	// RegoTimeout is the Rego budget of one Evaluate call; RegoFindingTimeout of one finding.
	RegoTimeout        time.Duration
	RegoFindingTimeout time.Duration
}

// DefaultLimits are generous for real policies and scans and small for attackers.
func DefaultLimits() Limits {
	return Limits{
		MaxPolicyBytes:     1 << 20,
		MaxYAMLDepth:       32,
		MaxYAMLNodes:       200_000,
		MaxRules:           2_000,
		MaxFindings:        500_000,
		MaxFindingBytes:    64 << 10,
		MaxRegoStringBytes: 1 << 20,
		RegoTimeout:        30 * time.Second,
		RegoFindingTimeout: time.Second,
	}
}

// Config configures an Engine. Zero fields take their defaults.
type Config struct {
	// Scoring is the base scoring; a policy's scoring section overrides it key by key.
	Scoring Scoring
	// Threshold is the severity at which an unsuppressed finding fails the policy status
	// (the spec's ?threshold, default critical).
	Threshold Level
	// Now is the clock: diagnostics' generatedAt, rule expiry, revision timestamps.
	Now    func() time.Time
	Limits Limits
	// Parallelism is how many goroutines one evaluation may use (0: GOMAXPROCS). They are
	// started and finished within Evaluate.
	Parallelism int
}

// DefaultConfig is DefaultScoring, threshold Critical, the system clock and DefaultLimits.
func DefaultConfig() Config {
	return Config{Scoring: DefaultScoring(), Threshold: LevelCritical, Now: time.Now, Limits: DefaultLimits()}
}

// Engine compiles and checks policies. It holds configuration only and is safe for
// concurrent use.
type Engine struct {
	cfg  Config
	caps *ast.Capabilities
}

// New returns an engine for cfg, with zero fields defaulted.
func New(cfg Config) *Engine {
	def := DefaultConfig()
	if cfg.Scoring.SeverityWeights == nil && cfg.Scoring.TrustWeights == nil && cfg.Scoring.ReachabilityWeights == nil {
		cfg.Scoring = def.Scoring
	}
	if cfg.Threshold == "" {
		cfg.Threshold = def.Threshold
	}
	if cfg.Now == nil {
		cfg.Now = def.Now
	}
	l, d := &cfg.Limits, def.Limits
	for _, f := range []struct{ v, d *int }{
		{&l.MaxPolicyBytes, &d.MaxPolicyBytes}, {&l.MaxYAMLDepth, &d.MaxYAMLDepth}, {&l.MaxYAMLNodes, &d.MaxYAMLNodes},
		{&l.MaxRules, &d.MaxRules}, {&l.MaxFindings, &d.MaxFindings}, {&l.MaxFindingBytes, &d.MaxFindingBytes},
		{&l.MaxRegoStringBytes, &d.MaxRegoStringBytes},
	} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	if l.RegoTimeout <= 0 {
		l.RegoTimeout = d.RegoTimeout
	}
	if l.RegoFindingTimeout <= 0 {
		l.RegoFindingTimeout = d.RegoFindingTimeout
	}
	return &Engine{cfg: cfg, caps: regoCapabilities()}
}

// Format is a policy source's language.
type Format string

// Formats. JSON documents are YAML, so "json" is read as yaml.
const (
	FormatYAML Format = "yaml"
	FormatRego Format = "rego"
)

// Source is a policy as submitted: the spec's {"format","content","actor","description"}.
type Source struct {
	Format      Format `json:"format,omitempty"`
	Content     string `json:"content"`
	Actor       string `json:"actor,omitempty"`
	Description string `json:"description,omitempty"`
}

func (s Source) format() (Format, bool) {
	switch s.Format {
	case "", FormatYAML, "yml", "json":
		return FormatYAML, true
	case FormatRego:
		return FormatRego, true
	}
	return s.Format, false
}

// Policy is a compiled, immutable policy: rules prepared for matching, scoring resolved, the
// Rego module prepared. It is safe for concurrent use.
type Policy struct {
	doc        *Document
	source     Source
	digest     string
	revisionID string
	rules      []compiledRule
	scorer     *scorer
	rego       *regoProgram
	cfg        Config
}

// Compile parses, validates and compiles a policy. An invalid policy gives a
// *ValidationErrors (errors.Is(err, ErrInvalid)) listing every problem.
func (e *Engine) Compile(ctx context.Context, src Source) (*Policy, error) {
	p, errs, err := e.load(ctx, src)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, &ValidationErrors{Errors: errs}
	}
	return p, nil
}

// load is Compile returning the validation errors and the (partial) document for diagnostics.
func (e *Engine) load(ctx context.Context, src Source) (*Policy, []ValidationError, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("compiling policy: %w", err)
	}
	p := &Policy{source: src, cfg: e.cfg}
	format, ok := src.format()
	if !ok {
		return p, []ValidationError{{Path: "$", Code: codeFormat, Msg: fmt.Sprintf("Unsupported policy format '%s' (want yaml or rego)", src.Format)}}, nil
	}
	p.source.Format = format
	var errs []ValidationError
	switch format {
	case FormatRego:
		p.doc = &Document{Rules: []Rule{}}
		prog, rerrs, err := e.compileRego(ctx, src.Content, "$", 0)
		if err != nil {
			return nil, nil, err
		}
		errs = rerrs
		if prog != nil {
			p.rego = prog
			p.doc.Rego = src.Content
		}
	default:
		doc, t, verrs, err := e.parseYAML(src.Content)
		if err != nil {
			return nil, nil, err
		}
		p.doc, errs = doc, verrs
		if doc != nil && doc.Rego != "" && len(errs) == 0 {
			line := t.blockStart["$.rego"]
			if line == 0 {
				line = t.line("$.rego")
			}
			prog, rerrs, err := e.compileRego(ctx, doc.Rego, "$.rego", line-1)
			if err != nil {
				return nil, nil, err
			}
			errs = append(errs, rerrs...)
			p.rego = prog
		}
	}
	if len(errs) > 0 {
		return p, errs, nil
	}
	digest, err := documentDigest(p.doc, p.rego)
	if err != nil {
		return nil, nil, err
	}
	p.digest = digest
	p.scorer = newScorer(e.cfg.Scoring.merged(p.doc.Scoring))
	p.rules = compileRules(p.doc.Rules)
	return p, nil, nil
}

// parseYAML runs the three validation stages: YAML to a tree within the limits, the typed
// decoder, and the JSON Schema. Schema errors the decoder already reported (same location, or
// one inside the other) are dropped, so each problem is reported once, in the decoder's words.
func (e *Engine) parseYAML(content string) (*Document, *tree, []ValidationError, error) {
	t, errs := parseYAML([]byte(content), e.cfg.Limits)
	if len(errs) > 0 {
		return nil, t, errs, nil
	}
	d := &decoder{t: t}
	doc := d.document(t.root)
	if doc != nil && len(doc.Rules) > e.cfg.Limits.MaxRules {
		d.fail("$.rules", codeLimit, "Policy has %d rules, over the limit of %d", len(doc.Rules), e.cfg.Limits.MaxRules)
	}
	serrs, err := schemaErrors(t)
	if err != nil {
		return nil, nil, nil, err
	}
	errs = d.errs
	for _, se := range serrs {
		dup := false
		for _, de := range d.errs {
			if hasPathPrefix(se.Path, de.Path) || hasPathPrefix(de.Path, se.Path) {
				dup = true
				break
			}
		}
		if !dup {
			errs = append(errs, se)
		}
	}
	sortErrors(errs)
	return doc, t, errs, nil
}

// sortErrors puts errors in document order: by line, then path.
func sortErrors(errs []ValidationError) {
	slices.SortStableFunc(errs, func(a, b ValidationError) int {
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return comparePaths(a.Path, b.Path)
	})
}

// documentDigest is the hex SHA-256 of the document's RFC 8785 form, with the Rego module in
// its canonical text.
func documentDigest(doc *Document, prog *regoProgram) (string, error) {
	canon := *doc
	if prog != nil {
		canon.Rego = prog.canonical
	}
	b, err := canonjson.Marshal(canon)
	if err != nil {
		return "", fmt.Errorf("policy digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Document is the parsed policy. It is shared: callers must not modify it.
func (p *Policy) Document() *Document { return p.doc }

// Source is the policy as submitted.
func (p *Policy) Source() Source { return p.source }

// Digest is the hex SHA-256 of the policy's canonical form (RFC 8785 JSON of Document).
func (p *Policy) Digest() string { return p.digest }

// Version is the document's version, reported as each verdict's configVersion.
func (p *Policy) Version() string { return p.doc.Version }

// RevisionID is the revision the policy was activated as, "" if none.
func (p *Policy) RevisionID() string { return p.revisionID }

// WithRevisionID returns a copy of p bound to a revision id (as History.Add assigns).
func (p *Policy) WithRevisionID(id string) *Policy {
	cp := *p
	cp.revisionID = id
	return &cp
}
