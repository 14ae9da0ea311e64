package config

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Mask is what Masked and Show print in place of a secret that is set.
const Mask = "********"

// Masked returns the configuration struct v (or a pointer to one) as nested maps keyed by the
// declared key names, ready for json or yaml encoding, with every field tagged secret:"true"
// replaced by Mask. An empty secret stays empty, so "not set" remains visible. Durations and
// types with a MarshalText method are shown as text. Anything but a struct yields nil.
func Masked(v any) map[string]any {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || isText(rv.Type()) {
		return nil
	}
	m, _ := display(rv).(map[string]any)
	return m
}

// Show writes one line per key of the configuration struct v, in key order:
//
//	authority.url = "https://authority.example.org"  # env STELLAOPS_AUTHORITY__URL
//
// The value is JSON, masked as Masked does. The source comment is written when src is not nil.
func Show(w io.Writer, v any, src *Sources) error {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Errorf("config: Show needs a struct, got %T", v)
	}
	root, err := buildSchema(rv.Type())
	if err != nil {
		return err
	}
	leaves := root.leaves()
	byPath := make(map[string]*node, len(leaves))
	for _, n := range leaves {
		byPath[n.path] = n
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs with & stay readable
	for _, path := range sortedKeys(byPath) {
		n := byPath[path]
		var shown any // a leaf below a nil pointer section shows as null
		if f, ok := field(rv, n.index, false); ok {
			if n.secret {
				shown = masked(f)
			} else {
				shown = display(f)
			}
		}
		b.WriteString(path + " = ")
		if err := enc.Encode(shown); err != nil {
			return fmt.Errorf("config: show %s: %w", path, err)
		}
		if src != nil {
			b.Truncate(b.Len() - 1) // Encode's newline
			fmt.Fprintf(&b, "  # %s\n", src.ByKey[path])
		}
	}
	_, err = w.Write(b.Bytes())
	return err
}

// sortedKeys orders paths segment by segment, so that a section's keys stay together: plain
// byte order would put "a.z" after "a_b".
func sortedKeys(m map[string]*node) []string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		return slices.Compare(strings.Split(a, "."), strings.Split(b, "."))
	})
	return keys
}

func masked(v reflect.Value) any {
	if !v.IsValid() || v.IsZero() {
		return display(v)
	}
	return Mask
}

// display turns v into plain values for encoding: maps keyed by declared names, lists, text
// for durations and text marshalers, and the basic kinds as they are.
func display(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	t := v.Type()
	if t == durationType {
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return display(v.Elem())
	}
	if m, ok := textMarshaler(v); ok {
		text, err := m.MarshalText()
		if err != nil {
			return fmt.Sprintf("!(%v)", err)
		}
		return string(text)
	}
	switch v.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		displayFields(v, out)
		return out
	case reflect.Slice, reflect.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = display(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[fmt.Sprint(it.Key())] = display(it.Value())
		}
		return out
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	}
	return fmt.Sprint(v) // complex numbers and the like, which Load never fills
}

func textMarshaler(v reflect.Value) (encoding.TextMarshaler, bool) {
	if !v.CanInterface() {
		return nil, false
	}
	if v.Type().Implements(textMarshalerType) {
		return v.Interface().(encoding.TextMarshaler), true
	}
	if v.CanAddr() && reflect.PointerTo(v.Type()).Implements(textMarshalerType) {
		return v.Addr().Interface().(encoding.TextMarshaler), true
	}
	return nil, false
}

// displayFields adds v's fields to out, then the fields promoted from embedded structs that no
// shallower field hides, as Load resolves them.
func displayFields(v reflect.Value, out map[string]any) {
	t := v.Type()
	var embedded []reflect.Value
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" || skipped(sf.Type) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		f := v.Field(i)
		if sf.Anonymous && name == "" {
			if f.Kind() == reflect.Pointer {
				if f.IsNil() || !sf.IsExported() {
					continue
				}
				f = f.Elem()
			}
			if f.Kind() == reflect.Struct && !isText(f.Type()) {
				embedded = append(embedded, f)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if sf.Tag.Get("secret") == "true" {
			out[name] = masked(f)
		} else {
			out[name] = display(f)
		}
	}
	for _, e := range embedded {
		inner := map[string]any{}
		displayFields(e, inner)
		for k, x := range inner {
			if _, hidden := out[k]; !hidden {
				out[k] = x
			}
		}
	}
}
