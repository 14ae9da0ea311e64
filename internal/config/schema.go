package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// node is one key of the configuration: a section (a struct, whose keys are its fields) or a
// leaf (anything else, set as a whole by the highest-precedence source).
type node struct {
	name    string       // as declared: the json tag name, else the Go field name
	path    string       // dotted declared names from the root, e.g. "authority.url"
	index   []int        // field indexes from the root struct, through pointers
	typ     reflect.Type // the field's type
	secret  bool         // tagged secret:"true"
	section bool
	depth   int // embedding depth, so that a shallower field hides a promoted one

	kids   []*node          // sections only, in declaration order
	byFold map[string]*node // lower-cased name -> kid, for file keys
	byEnv  map[string]*node // lower-cased name without underscores -> kid, for variable names
}

// buildSchema describes struct type t. Field types that can never come from text (func, chan,
// unsafe.Pointer) are skipped so that component configs holding hooks such as a clock can be
// embedded as they are; other unsupported types are an error, found on the first Load.
func buildSchema(t reflect.Type) (*node, error) {
	root := &node{typ: t, section: true}
	if err := addFields(root, t, nil, 0, map[reflect.Type]bool{t: true}); err != nil {
		return nil, err
	}
	return root, nil
}

func addFields(sec *node, t reflect.Type, index []int, depth int, seen map[reflect.Type]bool) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		idx := append(index[:len(index):len(index)], i)
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				if !sf.IsExported() {
					continue // reflect cannot allocate through an unexported embedded pointer
				}
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				if seen[et] {
					return fmt.Errorf("config: %s embeds itself", t)
				}
				seen[et] = true
				err := addFields(sec, et, idx, depth+1, seen)
				delete(seen, et)
				if err != nil {
					return err
				}
				continue
			}
		}
		if !sf.IsExported() || skipped(sf.Type) {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		kid := &node{name: name, path: join(sec.path, name), index: idx, typ: sf.Type,
			secret: sec.secret || sf.Tag.Get("secret") == "true", depth: depth}
		if st, ok := sectionType(sf.Type); ok {
			if seen[st] {
				return fmt.Errorf("config: %s: recursive type %s", kid.path, st)
			}
			kid.section = true
			seen[st] = true
			err := addFields(kid, st, idx, 0, seen)
			delete(seen, st)
			if err != nil {
				return err
			}
		} else if err := checkLeaf(sf.Type, map[reflect.Type]bool{}); err != nil {
			return fmt.Errorf("config: %s: %w", kid.path, err)
		}
		if err := sec.add(kid); err != nil {
			return err
		}
	}
	return nil
}

// add follows encoding/json's rule for promoted fields: the shallowest wins, a tie is an error
// (there it silently drops both, which here would hide a key).
func (sec *node) add(kid *node) error {
	if sec.byFold == nil {
		sec.byFold, sec.byEnv = map[string]*node{}, map[string]*node{}
	}
	fold, env := strings.ToLower(kid.name), envFold(kid.name)
	old := sec.byFold[fold]
	if old == nil {
		old = sec.byEnv[env]
	}
	if old != nil {
		switch {
		case old.depth < kid.depth:
			return nil
		case old.depth == kid.depth:
			return fmt.Errorf("config: keys %q and %q of %s differ only in case or underscores", old.name, kid.name, sec.typ)
		}
		for i, k := range sec.kids {
			if k == old {
				sec.kids = append(sec.kids[:i], sec.kids[i+1:]...)
				break
			}
		}
		delete(sec.byFold, strings.ToLower(old.name))
		delete(sec.byEnv, envFold(old.name))
	}
	sec.kids = append(sec.kids, kid)
	sec.byFold[fold], sec.byEnv[env] = kid, kid
	return nil
}

// leaves returns every leaf below sec in declaration order.
func (sec *node) leaves() []*node {
	var out []*node
	for _, k := range sec.kids {
		if k.section {
			out = append(out, k.leaves()...)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// envFold is how variable name segments compare: case-insensitive, and single underscores
// are word breaks, so STELLAOPS_BACKEND_URL reaches backendUrl.
func envFold(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "_", ""))
}

// sectionType reports whether t (or *t) is a struct whose fields are keys. Structs that parse
// themselves from text (time.Time, netip.Addr) are leaves.
func sectionType(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, t.Kind() == reflect.Struct && !isText(t)
}

func isText(t reflect.Type) bool {
	return reflect.PointerTo(t).Implements(textUnmarshalerType)
}

func skipped(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	}
	return false
}

// isScalar reports whether t is set from a single piece of text.
func isScalar(t reflect.Type) bool {
	if t == durationType || isText(t) {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	case reflect.Pointer:
		return isScalar(t.Elem())
	}
	return false
}

// checkLeaf rejects types that decode cannot fill, so that the mistake shows on the first Load
// rather than when some operator first sets the key.
func checkLeaf(t reflect.Type, seen map[reflect.Type]bool) error {
	if isScalar(t) {
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		return checkLeaf(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s: map keys must be strings", t)
		}
		return checkLeaf(t.Elem(), seen)
	case reflect.Struct:
		if seen[t] {
			return nil // recursion through a slice or map ends in data
		}
		seen[t] = true
		for i := range t.NumField() {
			sf := t.Field(i)
			if sf.Tag.Get("json") == "-" || skipped(sf.Type) || (!sf.IsExported() && !sf.Anonymous) {
				continue
			}
			if err := checkLeaf(sf.Type, seen); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported type %s", t)
}

// field returns the field at index below root, allocating nil pointers on the way when alloc
// is set; without alloc it reports false at the first nil pointer.
func field(root reflect.Value, index []int, alloc bool) (reflect.Value, bool) {
	v := root
	for _, i := range index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !alloc {
					return reflect.Value{}, false
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}
