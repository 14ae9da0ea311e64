package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// regoPackagePath is the package a policy module must declare.
const regoPackagePath = "data.stella.policy"

// ErrTimeBudget is wrapped by evaluation errors caused by a Rego policy running past its time
// budget (Limits.RegoFindingTimeout per finding, Limits.RegoTimeout per evaluation).
var ErrTimeBudget = errors.New("policy evaluation time budget exceeded")

// regoProgram is a Rego module compiled once per policy revision. PreparedEvalQuery is safe
// for concurrent use, so one program serves every evaluation of its revision.
type regoProgram struct {
	query     rego.PreparedEvalQuery
	hasDeny   bool
	hasWarn   bool
	ruleCount int
	// canonical is the module's canonical text: what the digest covers.
	canonical string
	lim       Limits
	keys      inputKeys
}

// compileRego parses, checks and prepares a module. lineOffset is added to Rego row numbers
// so errors name the line in the enclosing YAML file; path is where the module sits there.
func (e *Engine) compileRego(ctx context.Context, src, path string, lineOffset int) (*regoProgram, []ValidationError, error) {
	fail := func(code string, line int, format string, args ...any) []ValidationError {
		return []ValidationError{{Path: path, Line: line + lineOffset, Code: code, Msg: fmt.Sprintf(format, args...)}}
	}
	if len(src) > e.cfg.Limits.MaxPolicyBytes {
		return nil, fail(codeLimit, 0, "Rego module is %d bytes, over the %d byte limit", len(src), e.cfg.Limits.MaxPolicyBytes), nil
	}
	mod, err := ast.ParseModuleWithOpts("policy.rego", src, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: e.caps})
	if err != nil {
		return nil, astErrors(err, codeRegoParse, path, lineOffset), nil
	}
	if mod == nil {
		return nil, fail(codeRegoParse, 0, "Rego module is empty"), nil
	}
	if got := mod.Package.Path.String(); got != regoPackagePath {
		return nil, fail(codeRegoCompile, mod.Package.Location.Row, "Rego package must be stella.policy, not %s",
			strings.TrimPrefix(got, "data.")), nil
	}
	p := &regoProgram{lim: e.cfg.Limits, keys: newInputKeys()}
	var errs []ValidationError
	for _, r := range mod.Rules {
		name := r.Head.Ref().String()
		if name != "deny" && name != "warn" {
			continue
		}
		if r.Head.RuleKind() != ast.MultiValue {
			errs = append(errs, fail(codeRegoCompile, r.Location.Row,
				"%s must be a set rule (%s contains msg if { ... })", name, name)...)
			continue
		}
		p.ruleCount++
		p.hasDeny = p.hasDeny || name == "deny"
		p.hasWarn = p.hasWarn || name == "warn"
	}
	if errs != nil {
		return nil, errs, nil
	}
	if !p.hasDeny && !p.hasWarn {
		return nil, fail(codeRegoCompile, mod.Package.Location.Row, "Rego module defines neither deny nor warn"), nil
	}
	p.canonical = canonicalRego(mod)

	rewriteCapped(mod)
	var query []string
	if p.hasDeny {
		query = append(query, "deny := "+regoPackagePath+".deny")
	}
	if p.hasWarn {
		query = append(query, "warn := "+regoPackagePath+".warn")
	}
	opts := []func(*rego.Rego){
		rego.ParsedModule(mod),
		rego.Query(strings.Join(query, "; ")),
		rego.Capabilities(e.caps),
		rego.SetRegoVersion(ast.RegoV1),
		// An erroring built-in fails the evaluation instead of quietly making a deny undefined:
		// a policy that cannot decide must not pass a finding.
		rego.StrictBuiltinErrors(true),
		// No data documents: the input is all a policy sees.
		rego.Store(inmem.New()),
	}
	opts = append(opts, sandboxBuiltins(e.cfg.Limits.MaxRegoStringBytes)...)
	pq, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("compiling rego: %w", ctx.Err())
		}
		return nil, astErrors(err, codeRegoCompile, path, lineOffset), nil
	}
	p.query = pq
	return p, nil, nil
}

// canonicalRego is the module's AST printed back: comments, blank lines and the choice between
// one-line and block rule bodies are gone, so only a change to the code changes a digest.
func canonicalRego(mod *ast.Module) string {
	return mod.String()
}

// astErrors turns OPA parse and compile errors into validation errors, one per OPA error.
func astErrors(err error, code, path string, lineOffset int) []ValidationError {
	var list ast.Errors
	if !errors.As(err, &list) || len(list) == 0 {
		return []ValidationError{{Path: path, Line: lineOffset, Code: code, Msg: "Rego: " + err.Error()}}
	}
	out := make([]ValidationError, 0, len(list))
	for _, e := range list {
		ve := ValidationError{Path: path, Code: code, Msg: "Rego: " + e.Message}
		if e.Location != nil {
			ve.Line = e.Location.Row + lineOffset
		}
		out = append(out, ve)
	}
	return out
}

// regoOutcome is what a module said about one finding, messages sorted.
type regoOutcome struct {
	deny []string
	warn []string
}

// eval runs the module over one finding. The finding gets its own time budget, inside the
// batch's (ctx); neither the module nor OPA may read the clock, so the evaluation time OPA
// would otherwise take from time.Now is the engine's injected now.
func (p *regoProgram) eval(ctx context.Context, input ast.Value, now time.Time, findingID string) (regoOutcome, error) {
	var out regoOutcome
	cancel := topdown.NewCancel()
	timer := time.AfterFunc(p.lim.RegoFindingTimeout, cancel.Cancel)
	stop := context.AfterFunc(ctx, cancel.Cancel)
	findingID = truncate(findingID, 80)
	rs, err := p.query.Eval(ctx, rego.EvalParsedInput(input), rego.EvalTime(now), rego.EvalExternalCancel(cancel))
	timedOut := !timer.Stop()
	stop()
	if err != nil {
		var te *topdown.Error
		if errors.As(err, &te) && te.Code == topdown.CancelErr {
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded):
				return out, fmt.Errorf("rego: finding %q: %w (evaluation budget %v)", findingID, ErrTimeBudget, p.lim.RegoTimeout)
			case ctx.Err() != nil:
				return out, fmt.Errorf("rego: finding %q: %w", findingID, ctx.Err())
			case timedOut:
				return out, fmt.Errorf("rego: finding %q: %w (per-finding budget %v)", findingID, ErrTimeBudget, p.lim.RegoFindingTimeout)
			}
		}
		return out, fmt.Errorf("rego: finding %q: %w", findingID, err)
	}
	if len(rs) == 0 {
		return out, nil
	}
	out.deny = messages(rs[0].Bindings["deny"])
	out.warn = messages(rs[0].Bindings["warn"])
	return out, nil
}

// messages reads a deny or warn set: strings as they are, anything else as compact JSON.
func messages(v any) []string {
	items, _ := v.([]any)
	if len(items) == 0 {
		return nil
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
			continue
		}
		b, err := json.Marshal(it)
		if err != nil {
			b = []byte(fmt.Sprint(it))
		}
		out = append(out, string(b))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// inputKeys are the input document's key terms, made once per program rather than once per
// finding. Evaluation never modifies input terms, so sharing them between evaluations is safe.
type inputKeys struct {
	finding, context, id, severity, rawSeverity, source, vendor, pkg, vulnerabilities, licenses,
	tags, environment, reachability, vex, score, imageDigest, status, justification *ast.Term
}

func newInputKeys() inputKeys {
	s := ast.StringTerm
	return inputKeys{
		finding: s("finding"), context: s("context"), id: s("id"), severity: s("severity"),
		rawSeverity: s("rawSeverity"), source: s("source"), vendor: s("vendor"), pkg: s("package"),
		vulnerabilities: s("vulnerabilities"), licenses: s("licenses"), tags: s("tags"),
		environment: s("environment"), reachability: s("reachability"), vex: s("vex"), score: s("score"),
		imageDigest: s("imageDigest"), status: s("status"), justification: s("justification"),
	}
}

// input builds the input document for one finding directly as an AST value; going through
// encoding/json for every finding would cost more than evaluating most policies.
//
//	{"finding": {"id", "severity" (normalised level), "rawSeverity", "source", "vendor",
//	             "package", "vulnerabilities", "licenses", "tags", "environment",
//	             "reachability", "vex": [{"vendor","status","justification"}], "score"},
//	 "context": {"imageDigest", "environment"}}
func (p *regoProgram) input(f *preparedFinding, score float64, imageDigest string) ast.Value {
	k := &p.keys
	str := ast.StringTerm
	list := func(in []string) *ast.Term {
		terms := make([]*ast.Term, len(in))
		for i, s := range in {
			terms[i] = str(s)
		}
		return ast.ArrayTerm(terms...)
	}
	vex := make([]*ast.Term, len(f.f.VEX))
	for i, v := range f.f.VEX {
		vex[i] = ast.ObjectTerm(
			[2]*ast.Term{k.vendor, str(v.Vendor)},
			[2]*ast.Term{k.status, str(v.Status)},
			[2]*ast.Term{k.justification, str(v.Justification)},
		)
	}
	env := str(f.env)
	finding := ast.ObjectTerm(
		[2]*ast.Term{k.id, str(f.f.ID)},
		[2]*ast.Term{k.severity, ast.InternedTerm(string(f.level))},
		[2]*ast.Term{k.rawSeverity, str(f.f.Severity)},
		[2]*ast.Term{k.source, str(f.f.Source)},
		[2]*ast.Term{k.vendor, str(f.f.Vendor)},
		[2]*ast.Term{k.pkg, str(f.f.Package)},
		[2]*ast.Term{k.vulnerabilities, list(f.f.Vulnerabilities)},
		[2]*ast.Term{k.licenses, list(f.f.Licenses)},
		[2]*ast.Term{k.tags, list(f.f.Tags)},
		[2]*ast.Term{k.environment, env},
		[2]*ast.Term{k.reachability, str(f.f.Reachability)},
		[2]*ast.Term{k.vex, ast.ArrayTerm(vex...)},
		[2]*ast.Term{k.score, ast.FloatNumberTerm(score)},
	)
	return ast.NewObject(
		[2]*ast.Term{k.finding, finding},
		[2]*ast.Term{k.context, ast.ObjectTerm(
			[2]*ast.Term{k.imageDigest, str(imageDigest)},
			[2]*ast.Term{k.environment, env},
		)},
	)
}
