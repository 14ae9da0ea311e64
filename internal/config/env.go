package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// env takes the prefixed variables of o.Environ, the highest-precedence layer.
func (l *loader) env(o Options) {
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	base := strings.TrimRight(prefix, "_:")
	type setting struct {
		name, text string
	}
	set := map[*node]setting{}
	var order []*node
	vars := slices.Clone(o.Environ)
	slices.Sort(vars) // report in a stable order; Environ's order means nothing
	for _, kv := range vars {
		name, text, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			continue // Windows keeps "=C:=C:\\dir" entries; they are nobody's keys
		}
		src := Source{Kind: FromEnv, Name: name}
		var segs []string
		if path, alias := o.Aliases[name]; alias {
			segs = strings.Split(path, ".")
		} else {
			rest, ok := cutPrefix(name, base)
			if !ok || ignored(name, o.IgnoreEnv) {
				continue
			}
			segs = strings.Split(strings.ReplaceAll(rest, ":", "__"), "__")
		}
		n := l.root
		for i, seg := range segs {
			kid := n.byEnv[envFold(seg)]
			if !n.section || kid == nil {
				if o.SkipUnknownEnv {
					n = nil
					break
				}
				hint := ""
				if n.section {
					hint = envHint(n, segs[i:], prefix)
				}
				l.errs = append(l.errs, fmt.Errorf("config: %s: %w %q%s", src, ErrUnknownKey,
					join(n.path, strings.Join(segs[i:], ".")), hint))
				n = nil
				break
			}
			n = kid
		}
		prev, dup := set[n]
		switch {
		case n == nil:
		case n.section:
			l.errs = append(l.errs, fmt.Errorf("config: %s: %s is a section; set its keys, such as %s",
				src, n.path, envName(prefix, n.leavesOrSelf()[0].path)))
		case dup:
			// Two spellings of one key, say STELLAOPS_X__Y and StellaOps__X__Y. Environ's
			// order is no precedence, so differing values are an error.
			if prev.text != text {
				l.errs = append(l.errs, fmt.Errorf("config: %s and %s both set %s, to different values", prev.name, name, n.path))
			}
		default:
			set[n] = setting{name, text}
			order = append(order, n)
		}
	}
	for _, n := range order {
		s := set[n]
		src := Source{Kind: FromEnv, Name: s.name}
		v := &value{kind: scalar, text: s.text}
		if structured(n.typ, s.text) {
			// Lists of objects and maps have no flat form; the variable holds JSON.
			pv, err := parseJSON([]byte(s.text))
			if err != nil {
				detail := err.Error()
				if n.secret {
					detail = "not valid JSON"
				}
				l.errs = append(l.errs, fmt.Errorf("config: %s: %s: %w: want JSON: %s", src, n.path, ErrInvalidValue, detail))
				continue
			}
			if pv != nil {
				v = pv
			}
		}
		l.set(n, v, src)
	}
}

// cutPrefix strips base and the one or two underscores or the colon after it, all
// case-insensitively; ok is false for variables that are not ours.
func cutPrefix(name, base string) (rest string, ok bool) {
	if len(name) <= len(base) || !strings.EqualFold(name[:len(base)], base) {
		return "", false
	}
	rest = name[len(base):]
	switch {
	case strings.HasPrefix(rest, "__"):
		return rest[2:], true
	case rest[0] == '_' || rest[0] == ':':
		return rest[1:], true
	}
	return "", false // STELLAOPSX is someone else's
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if stem, ok := strings.CutSuffix(p, "*"); ok {
			if len(name) >= len(stem) && strings.EqualFold(name[:len(stem)], stem) {
				return true
			}
		} else if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// structured reports whether a variable for a key of type t is parsed as JSON: always for
// maps and lists of objects, and for lists of scalars when it starts with "[", so that
// elements may hold commas or blanks.
func structured(t reflect.Type, text string) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isScalar(t) {
		return false
	}
	if t.Kind() == reflect.Slice && isScalar(t.Elem()) {
		return strings.HasPrefix(strings.TrimSpace(text), "[")
	}
	return true
}

// envHint returns ` (did you mean NAME?)` for a near miss of segs below sec: a typo in a name,
// or a single underscore where sections need two (STELLAOPS_AUTHORITY_URL).
func envHint(sec *node, segs []string, prefix string) string {
	first := envFold(segs[0])
	k := closest(sec, first, envFold)
	rest := segs[1:]
	if k == nil {
		for _, kid := range sec.kids {
			if name := envFold(kid.name); kid.section && len(first) > len(name) && strings.HasPrefix(first, name) {
				k, rest = kid, append([]string{first[len(name):]}, rest...)
				break
			}
		}
	}
	if k == nil {
		return ""
	}
	for _, seg := range rest {
		if !k.section {
			break
		}
		next := k.byEnv[envFold(seg)]
		if next == nil {
			next = closest(k, envFold(seg), envFold)
		}
		if next == nil {
			break
		}
		k = next
	}
	return fmt.Sprintf(" (did you mean %s?)", envName(prefix, k.path))
}

// envName is the variable that sets key path.
func envName(prefix, path string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

func (sec *node) leavesOrSelf() []*node {
	if ls := sec.leaves(); len(ls) > 0 {
		return ls
	}
	return []*node{sec}
}
