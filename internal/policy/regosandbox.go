package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/types"
)

// The Rego sandbox. A policy may only call built-ins on this list: pure functions of their
// arguments whose output is at most about as large as their input. Everything else is
// undefined to the compiler, so a policy using it is rejected before it runs. Left out on
// purpose:
//
//   - anything that reaches the network or the host: http.send, net.* (lookup_ip_addr
//     resolves names), opa.runtime (environment and config), providers.aws.*;
//   - anything that reads the clock or randomness: time.*, rand.*, uuid.rfc4122, io.jwt.*
//     and crypto.x509.parse_and_verify_* (they check expiry against now);
//   - amplifiers, whose output can dwarf their input in one call: numbers.range*, replace,
//     strings.replace_n, regex.replace, strings.render_template;
//   - template strings ($"{x}"), which stringify whole collections uncapped;
//   - costly parsers and tracing: graphql.*, rego.parse_module, yaml.*, json.match_schema,
//     json.verify_schema, print, trace.
var regoAllowedBuiltins = []string{
	// operators and comparisons
	"eq", "assign", "equal", "neq", "lt", "lte", "gt", "gte",
	"plus", "minus", "mul", "div", "rem", "abs", "ceil", "floor", "round",
	"and", "or", "internal.member_2", "internal.member_3",
	// aggregates, sets, arrays, objects
	"count", "sum", "product", "max", "min", "sort", "intersection", "union",
	"array.concat", "array.slice", "array.reverse", "array.flatten",
	"object.get", "object.keys", "object.remove", "object.filter", "object.union", "object.union_n", "object.subset",
	"walk",
	// strings (concat, sprintf and json.marshal are replaced by the capped versions below)
	"contains", "startswith", "endswith", "lower", "upper", "split", "strings.split_n", "substring",
	"trim", "trim_left", "trim_prefix", "trim_right", "trim_space", "trim_suffix",
	"indexof", "indexof_n", "strings.any_prefix_match", "strings.any_suffix_match", "strings.count",
	"strings.reverse", "format_int", "to_number",
	"regex.match", "re_match", "regex.is_valid", "regex.split", "regex.find_n",
	"glob.match", "glob.quote_meta", "semver.compare", "semver.is_valid",
	"json.unmarshal", "json.is_valid",
	// types
	"is_array", "is_boolean", "is_null", "is_number", "is_object", "is_set", "is_string", "type_name",
}

// cappedBuiltins are built-ins whose output is as large as all the data they are handed: a
// policy can hand concat a million references to one large string. Calls to them are
// rewritten to capped versions (sandbox.concat, …) that refuse to build a string over
// Limits.MaxRegoStringBytes before building it.
var cappedBuiltins = map[string]string{
	"concat":       "sandbox.concat",
	"sprintf":      "sandbox.sprintf",
	"json.marshal": "sandbox.json_marshal",
}

// regoCapabilities is the allow-list applied to this OPA version's capabilities, with no
// network hosts allowed (schema references are never fetched).
func regoCapabilities() *ast.Capabilities {
	all := ast.CapabilitiesForThisVersion()
	caps := &ast.Capabilities{
		FutureKeywords: all.FutureKeywords,
		Features:       all.Features,
		AllowNet:       []string{},
	}
	for _, b := range all.Builtins {
		if slices.Contains(regoAllowedBuiltins, b.Name) {
			caps.Builtins = append(caps.Builtins, b)
		}
	}
	return caps
}

// sandboxBuiltins declares the capped built-ins.
func sandboxBuiltins(maxBytes int) []func(*rego.Rego) {
	concat := topdown.GetBuiltin("concat")
	sprintf := topdown.GetBuiltin("sprintf")
	marshal := topdown.GetBuiltin("json.marshal")
	capped := func(name string, impl topdown.BuiltinFunc, check func([]*ast.Term) error) topdown.BuiltinFunc {
		return func(bctx topdown.BuiltinContext, operands []*ast.Term, iter func(*ast.Term) error) error {
			if err := check(operands); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return impl(bctx, operands, iter)
		}
	}
	sizeOf := func(terms []*ast.Term) error {
		budget := maxBytes
		for _, t := range terms {
			if budget = valueSize(t.Value, budget); budget < 0 {
				return fmt.Errorf("result would exceed %d bytes", maxBytes)
			}
		}
		return nil
	}
	concatCheck := func(terms []*ast.Term) error {
		// The delimiter is written between every pair of elements.
		if d, ok := terms[0].Value.(ast.String); ok && len(d) > 0 {
			n := 0
			switch c := terms[1].Value.(type) {
			case *ast.Array:
				n = c.Len()
			case ast.Set:
				n = c.Len()
			}
			if n*len(d) > maxBytes {
				return fmt.Errorf("result would exceed %d bytes", maxBytes)
			}
		}
		return sizeOf(terms)
	}
	sprintfCheck := func(terms []*ast.Term) error {
		if s, ok := terms[0].Value.(ast.String); ok {
			if err := checkFormat(string(s)); err != nil {
				return err
			}
		}
		return sizeOf(terms)
	}
	decl := func(name string, args []types.Type, result types.Type) *rego.Function {
		return &rego.Function{Name: name, Decl: types.NewFunction(args, result)}
	}
	strs := types.NewAny(types.NewSet(types.S), types.NewArray(nil, types.S))
	return []func(*rego.Rego){
		rego.FunctionDyn(decl(cappedBuiltins["concat"], types.Args(types.S, strs), types.S),
			wrapDyn(capped("concat", concat, concatCheck))),
		rego.FunctionDyn(decl(cappedBuiltins["sprintf"], types.Args(types.S, types.NewArray(nil, types.A)), types.S),
			wrapDyn(capped("sprintf", sprintf, sprintfCheck))),
		rego.FunctionDyn(decl(cappedBuiltins["json.marshal"], types.Args(types.A), types.S),
			wrapDyn(capped("json.marshal", marshal, sizeOf))),
	}
}

// wrapDyn adapts a topdown built-in to rego.BuiltinDyn (one result, or undefined).
func wrapDyn(f topdown.BuiltinFunc) rego.BuiltinDyn {
	return func(bctx rego.BuiltinContext, terms []*ast.Term) (*ast.Term, error) {
		var out *ast.Term
		err := f(bctx, terms, func(t *ast.Term) error {
			out = t
			return nil
		})
		return out, err
	}
}

// valueSize subtracts v's encoded size from budget and returns what is left, negative once
// the budget is spent. It stops walking as soon as that happens, so a huge value costs no more
// than the budget to measure.
func valueSize(v ast.Value, budget int) int {
	if budget < 0 {
		return budget
	}
	switch x := v.(type) {
	case ast.String:
		return budget - len(x) - 2
	case ast.Number:
		return budget - len(x)
	case *ast.Array:
		budget -= 2
		for i := 0; i < x.Len() && budget >= 0; i++ {
			budget = valueSize(x.Elem(i).Value, budget-1)
		}
		return budget
	case ast.Set:
		budget -= 2
		_ = x.Iter(func(t *ast.Term) error {
			if budget = valueSize(t.Value, budget-1); budget < 0 {
				return errBudgetSpent
			}
			return nil
		})
		return budget
	case ast.Object:
		budget -= 2
		_ = x.Iter(func(k, val *ast.Term) error {
			if budget = valueSize(k.Value, budget-2); budget >= 0 {
				budget = valueSize(val.Value, budget)
			}
			if budget < 0 {
				return errBudgetSpent
			}
			return nil
		})
		return budget
	}
	return budget - 8
}

var errBudgetSpent = fmt.Errorf("budget spent")

// checkFormat refuses sprintf widths and precisions over two digits and '*' widths taken from
// the arguments: "%999999999d" is a one-call gigabyte.
func checkFormat(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		for i < len(f) && strings.IndexByte("+-# 0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && (f[i] >= '0' && f[i] <= '9' || f[i] == '.' || f[i] == '*' || f[i] == '[' || f[i] == ']') {
			switch {
			case f[i] == '*' || f[i] == '[':
				return fmt.Errorf("format %q: '*' widths and argument indexes are not allowed", f)
			case f[i] == '.':
				digits = 0
			default:
				digits++
				if digits > 2 {
					return fmt.Errorf("format %q: widths and precisions over 99 are not allowed", f)
				}
			}
			i++
		}
	}
	return nil
}

// rewriteCapped points every call of a capped built-in at its capped version, in place.
func rewriteCapped(mod *ast.Module) {
	replace := map[string]ast.Ref{}
	for from, to := range cappedBuiltins {
		replace[builtinRef(from).String()] = builtinRef(to)
	}
	fix := func(op *ast.Term) {
		if ref, ok := op.Value.(ast.Ref); ok {
			if to, ok := replace[ref.String()]; ok {
				op.Value = to.Copy()
			}
		}
	}
	ast.WalkExprs(mod, func(e *ast.Expr) bool {
		if terms, ok := e.Terms.([]*ast.Term); ok && len(terms) > 0 {
			fix(terms[0])
		}
		return false
	})
	ast.WalkTerms(mod, func(t *ast.Term) bool {
		if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
			fix(call[0])
		}
		return false
	})
}

// builtinRef is the reference a call to the named built-in has as its operator.
func builtinRef(name string) ast.Ref {
	parts := strings.Split(name, ".")
	ref := ast.Ref{ast.VarTerm(parts[0])}
	for _, p := range parts[1:] {
		ref = append(ref, ast.StringTerm(p))
	}
	return ref
}
