package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// decoder turns the plain JSON tree into a Document, collecting every error with its path
// instead of stopping at the first: an author fixing a policy wants the whole list.
type decoder struct {
	t    *tree
	errs []ValidationError
}

func (d *decoder) fail(path, code, format string, args ...any) {
	d.errs = append(d.errs, ValidationError{Path: path, Line: d.t.line(path), Code: code, Msg: fmt.Sprintf(format, args...)})
}

var (
	documentKeys = []string{"version", "description", "rules", "scoring", "rego"}
	ruleKeys     = []string{"name", "description", "severity", "environments", "sources", "vendors", "packages",
		"vulnerabilities", "licenses", "tags", "action", "quiet", "justification", "expires"}
	actionKeys     = []string{"type", "justification", "quiet", "requireVex"}
	requireVexKeys = []string{"vendors", "justifications"}
	scoringKeys    = []string{"severityWeights", "trustWeights", "reachabilityWeights"}

	versionRE = regexp.MustCompile(`^1(\.[0-9]+)?$`)
)

func (d *decoder) document(v any) *Document {
	obj, ok := d.object(v, "$")
	if !ok {
		return nil
	}
	d.unknownKeys(obj, "$", documentKeys)
	doc := &Document{Rules: []Rule{}}
	if s, ok := d.str(obj, "version", "$", true); ok {
		if !versionRE.MatchString(s) {
			d.fail("$.version", codeVersion, "Unsupported version '%s': policy-schema@1 documents are version \"1.0\"", s)
		}
		doc.Version = s
	}
	doc.Description, _ = d.str(obj, "description", "$", false)
	if raw, ok := obj["rules"]; ok && raw != nil {
		arr, ok := raw.([]any)
		if !ok {
			d.fail("$.rules", codeFieldType, "Expected a list of rules, got %s", typeName(raw))
		}
		for i, r := range arr {
			doc.Rules = append(doc.Rules, d.rule(r, pathIndex("$.rules", i)))
		}
		d.duplicateNames(doc.Rules)
	}
	if raw, ok := obj["scoring"]; ok {
		doc.Scoring = d.scoring(raw, "$.scoring")
	}
	doc.Rego, _ = d.str(obj, "rego", "$", false)
	return doc
}

func (d *decoder) rule(v any, path string) Rule {
	var r Rule
	obj, ok := d.object(v, path)
	if !ok {
		return r
	}
	d.unknownKeys(obj, path, ruleKeys)
	if s, ok := d.str(obj, "name", path, true); ok {
		r.Name = strings.TrimSpace(s)
		if r.Name == "" {
			d.fail(pathKey(path, "name"), codeFieldRequired, "Rule name must not be empty")
		}
	}
	r.Description, _ = d.str(obj, "description", path, false)
	for _, s := range d.strList(obj, "severity", path) {
		if l, ok := ParseLevel(s); ok {
			r.Severity = append(r.Severity, l)
		} else {
			// The spec's message and path: the list, not the item ($.rules[0].severity).
			d.fail(pathKey(path, "severity"), codeLevel, "Invalid level '%s'", s)
		}
	}
	r.Environments = d.strList(obj, "environments", path)
	r.Sources = d.strList(obj, "sources", path)
	r.Vendors = d.strList(obj, "vendors", path)
	r.Packages = d.strList(obj, "packages", path)
	for i, p := range r.Packages {
		if !strings.HasPrefix(p, "pkg:") || len(p) < 5 || strings.ContainsAny(p, " \t\r\n") {
			d.fail(pathIndex(pathKey(path, "packages"), i), codePackage,
				"Invalid package pattern '%s': want a purl such as pkg:npm/lodash@4.* ('*' matches anything)", p)
		}
	}
	r.Vulnerabilities = d.strList(obj, "vulnerabilities", path)
	r.Licenses = d.strList(obj, "licenses", path)
	r.Tags = d.strList(obj, "tags", path)
	if raw, ok := obj["action"]; ok {
		r.Action = d.action(raw, pathKey(path, "action"))
	} else {
		d.fail(path, codeFieldRequired, "Missing required field 'action'")
	}
	r.Quiet = d.boolPtr(obj, "quiet", path)
	r.Justification, _ = d.str(obj, "justification", path, false)
	if s, ok := d.str(obj, "expires", path, false); ok {
		if _, err := parseExpiry(s); err != nil {
			d.fail(pathKey(path, "expires"), codeExpires, "Invalid date '%s': use YYYY-MM-DD or an RFC 3339 time", s)
		}
		r.Expires = s
	}
	if r.Quiet != nil && r.Action.Quiet != nil && *r.Quiet != *r.Action.Quiet {
		d.fail(pathKey(path, "quiet"), codeQuietConflict, "Rule quiet is %v but its action's quiet is %v", *r.Quiet, *r.Action.Quiet)
	}
	return r
}

func (d *decoder) action(v any, path string) Action {
	var a Action
	if s, ok := v.(string); ok {
		a.Type = d.actionType(s, path)
		return a
	}
	obj, ok := v.(map[string]any)
	if !ok {
		d.fail(path, codeFieldType, "Expected an action name or mapping, got %s", typeName(v))
		return a
	}
	d.unknownKeys(obj, path, actionKeys)
	if s, ok := d.str(obj, "type", path, false); ok {
		a.Type = d.actionType(s, pathKey(path, "type"))
	}
	a.Justification, _ = d.str(obj, "justification", path, false)
	a.Quiet = d.boolPtr(obj, "quiet", path)
	if raw, ok := obj["requireVex"]; ok {
		rp := pathKey(path, "requireVex")
		if o, ok := d.object(raw, rp); ok {
			d.unknownKeys(o, rp, requireVexKeys)
			a.RequireVex = &RequireVex{Vendors: d.strList(o, "vendors", rp), Justifications: d.strList(o, "justifications", rp)}
		}
		switch a.Type {
		case "":
			a.Type = ActionRequireVex
		case ActionRequireVex:
		default:
			d.fail(pathKey(path, "type"), codeAction, "Action type '%s' cannot take requireVex settings; use type requireVex", a.Type)
		}
	}
	if _, has := obj["type"]; !has && a.Type == "" {
		d.fail(path, codeFieldRequired, "Missing required field 'type'")
	}
	return a
}

func (d *decoder) actionType(s, path string) ActionType {
	t := ActionType(s)
	if !slices.Contains(actionTypes, t) {
		d.fail(path, codeAction, "Invalid action '%s' (want block, warn, ignore, escalate or requireVex)", s)
		return ""
	}
	return t
}

func (d *decoder) scoring(v any, path string) *Scoring {
	obj, ok := d.object(v, path)
	if !ok {
		return nil
	}
	d.unknownKeys(obj, path, scoringKeys)
	s := &Scoring{}
	if raw, ok := obj["severityWeights"]; ok {
		sp := pathKey(path, "severityWeights")
		for _, k := range sortedKeysOf(raw, d, sp) {
			l, ok := ParseLevel(k)
			if !ok {
				d.fail(sp, codeLevel, "Invalid level '%s'", k)
				continue
			}
			if w, ok := d.weight(raw.(map[string]any)[k], pathKey(sp, k), 100); ok {
				if s.SeverityWeights == nil {
					s.SeverityWeights = map[Level]float64{}
				}
				s.SeverityWeights[l] = w
			}
		}
	}
	s.TrustWeights = d.weights(obj, "trustWeights", path)
	s.ReachabilityWeights = d.weights(obj, "reachabilityWeights", path)
	return s
}

// weights reads a name → weight mapping whose names are compared case-insensitively.
func (d *decoder) weights(obj map[string]any, key, path string) map[string]float64 {
	raw, ok := obj[key]
	if !ok {
		return nil
	}
	p := pathKey(path, key)
	var out map[string]float64
	seen := map[string]string{}
	for _, k := range sortedKeysOf(raw, d, p) {
		kp := pathKey(p, k)
		if strings.TrimSpace(k) == "" {
			d.fail(kp, codeWeight, "Weight names must not be empty")
			continue
		}
		if prev, dup := seen[strings.ToLower(k)]; dup {
			d.fail(kp, codeWeight, "'%s' and '%s' differ only in case", prev, k)
			continue
		}
		seen[strings.ToLower(k)] = k
		if w, ok := d.weight(raw.(map[string]any)[k], kp, 10); ok {
			if out == nil {
				out = map[string]float64{}
			}
			out[k] = w
		}
	}
	return out
}

func (d *decoder) weight(v any, path string, maxWeight float64) (float64, bool) {
	var w float64
	switch n := v.(type) {
	case int64:
		w = float64(n)
	case float64:
		w = n
	default:
		d.fail(path, codeFieldType, "Expected a number, got %s", typeName(v))
		return 0, false
	}
	if w < 0 || w > maxWeight {
		d.fail(path, codeWeight, "Weight %v is outside 0..%v", w, maxWeight)
		return 0, false
	}
	return w, true
}

// sortedKeysOf returns a mapping's keys sorted, so errors come out in a stable order.
func sortedKeysOf(v any, d *decoder, path string) []string {
	obj, ok := d.object(v, path)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (d *decoder) duplicateNames(rules []Rule) {
	first := map[string]int{}
	for i, r := range rules {
		if r.Name == "" {
			continue
		}
		k := strings.ToLower(r.Name)
		if j, dup := first[k]; dup {
			d.fail(pathKey(pathIndex("$.rules", i), "name"), codeDuplicateName,
				"Duplicate rule name '%s' (also $.rules[%d]): verdicts name the rule that decided them", r.Name, j)
			continue
		}
		first[k] = i
	}
}

func (d *decoder) object(v any, path string) (map[string]any, bool) {
	obj, ok := v.(map[string]any)
	if !ok {
		d.fail(path, codeFieldType, "Expected a mapping, got %s", typeName(v))
	}
	return obj, ok
}

func (d *decoder) unknownKeys(obj map[string]any, path string, known []string) {
	var unknown []string
	for k := range obj {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		d.fail(pathKey(path, k), codeFieldUnknown, "Unknown field '%s'", k)
	}
}

// str reads an optional or required string field; ok reports a string was there.
func (d *decoder) str(obj map[string]any, key, path string, required bool) (string, bool) {
	raw, present := obj[key]
	if !present {
		if required {
			d.fail(path, codeFieldRequired, "Missing required field '%s'", key)
		}
		return "", false
	}
	s, ok := raw.(string)
	if !ok {
		d.fail(pathKey(path, key), codeFieldType, "Expected a string, got %s", typeName(raw))
	}
	return s, ok
}

func (d *decoder) boolPtr(obj map[string]any, key, path string) *bool {
	raw, present := obj[key]
	if !present {
		return nil
	}
	b, ok := raw.(bool)
	if !ok {
		d.fail(pathKey(path, key), codeFieldType, "Expected true or false, got %s", typeName(raw))
		return nil
	}
	return &b
}

// strList reads a list of non-empty strings.
func (d *decoder) strList(obj map[string]any, key, path string) []string {
	raw, present := obj[key]
	if !present {
		return nil
	}
	p := pathKey(path, key)
	arr, ok := raw.([]any)
	if !ok {
		d.fail(p, codeFieldType, "Expected a list, got %s", typeName(raw))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, item := range arr {
		s, ok := item.(string)
		if !ok || strings.TrimSpace(s) == "" {
			d.fail(pathIndex(p, i), codeFieldType, "Expected a non-empty string, got %s", typeName(item))
			continue
		}
		out = append(out, s)
	}
	return out
}

func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if strings.TrimSpace(x) == "" {
			return "an empty string"
		}
		return "string"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}

// parseExpiry reads an expires value: a date means the end of that day, UTC.
func parseExpiry(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Add(24 * time.Hour), nil
	}
	return time.Parse(time.RFC3339, s)
}
