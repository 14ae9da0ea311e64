package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// decoder fills Go values from parsed values. It caches the schemas of struct types met
// inside lists and maps.
type decoder struct {
	schemas map[reflect.Type]*node
}

// lineError carries the file line of the value an error is about, which inside a list or an
// object is more precise than the line of the key being set.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return e.err.Error() }
func (e *lineError) Unwrap() error { return e.err }

// decode sets dst, which must be settable, from v. path names dst in errors ("registries[1].url");
// secret keeps the text of a rejected value out of the error.
func (d *decoder) decode(v *value, dst reflect.Value, path string, secret bool) error {
	err := d.decodeValue(v, dst, path, secret)
	var le *lineError
	if err == nil || v.line == 0 || errors.As(err, &le) {
		return err
	}
	return &lineError{v.line, err}
}

func (d *decoder) decodeValue(v *value, dst reflect.Value, path string, secret bool) error {
	if v.kind == null {
		dst.SetZero()
		return nil
	}
	t := dst.Type()
	if t.Kind() == reflect.Pointer {
		p := reflect.New(t.Elem())
		if err := d.decode(v, p.Elem(), path, secret); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	if isScalar(t) {
		if v.kind != scalar {
			return fmt.Errorf("%s: %w: want %s, got %s", path, ErrInvalidValue, want(t), v.kind)
		}
		return d.scalar(v.text, dst, path, secret)
	}
	switch t.Kind() {
	case reflect.Slice:
		var elems []*value
		switch {
		case v.kind == list:
			elems = v.list
		case v.kind == scalar && isScalar(t.Elem()):
			// "1s,2s 5s": the spec's form for lists in one environment variable.
			for _, f := range strings.FieldsFunc(v.text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
				elems = append(elems, &value{kind: scalar, text: f, line: v.line})
			}
		default:
			return fmt.Errorf("%s: %w: want a list, got %s", path, ErrInvalidValue, v.kind)
		}
		s := reflect.MakeSlice(t, len(elems), len(elems))
		for i, e := range elems {
			if err := d.decode(e, s.Index(i), fmt.Sprintf("%s[%d]", path, i), secret); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.Map:
		if v.kind != object {
			return fmt.Errorf("%s: %w: want an object, got %s", path, ErrInvalidValue, v.kind)
		}
		m := reflect.MakeMapWithSize(t, len(v.obj))
		for _, mem := range v.obj {
			k := reflect.ValueOf(mem.key).Convert(t.Key())
			if m.MapIndex(k).IsValid() {
				return fmt.Errorf("%s: key %q is set twice", path, mem.key)
			}
			e := reflect.New(t.Elem()).Elem()
			if err := d.decode(mem.val, e, join(path, mem.key), secret); err != nil {
				return err
			}
			m.SetMapIndex(k, e)
		}
		dst.Set(m)
		return nil
	case reflect.Struct:
		return d.object(v, dst, path, secret)
	}
	return fmt.Errorf("%s: unsupported type %s", path, t) // checkLeaf keeps this from happening
}

// object fills a struct met inside a list or map, matching keys as the top level does.
func (d *decoder) object(v *value, dst reflect.Value, path string, secret bool) error {
	if v.kind != object {
		return fmt.Errorf("%s: %w: want an object, got %s", path, ErrInvalidValue, v.kind)
	}
	sec, err := d.schema(dst.Type())
	if err != nil {
		return err
	}
	fresh := reflect.New(dst.Type()).Elem()
	seen := map[*node]bool{}
	for _, mem := range v.obj {
		n := sec.byFold[strings.ToLower(mem.key)]
		if n == nil {
			return &lineError{mem.line, fmt.Errorf("%w %q%s", ErrUnknownKey, join(path, mem.key), suggest(sec, mem.key, path))}
		}
		if seen[n] {
			return &lineError{mem.line, fmt.Errorf("%s: key %q is set twice", path, n.name)}
		}
		seen[n] = true
		f, _ := field(fresh, n.index, true)
		err := d.decode(mem.val, f, join(path, n.name), secret || n.secret)
		if err != nil {
			return err
		}
	}
	dst.Set(fresh)
	return nil
}

func (d *decoder) schema(t reflect.Type) (*node, error) {
	if s, ok := d.schemas[t]; ok {
		return s, nil
	}
	s, err := buildSchema(t)
	if err != nil {
		return nil, err
	}
	if d.schemas == nil {
		d.schemas = map[reflect.Type]*node{}
	}
	d.schemas[t] = s
	return s, nil
}

func (d *decoder) scalar(text string, dst reflect.Value, path string, secret bool) error {
	t := dst.Type()
	bad := func(cause error) error {
		shown := strconv.Quote(text)
		if secret {
			shown = "(secret, not shown)"
		}
		if cause != nil {
			return fmt.Errorf("%s: %w %s: %v", path, ErrInvalidValue, shown, cause)
		}
		return fmt.Errorf("%s: %w %s: want %s", path, ErrInvalidValue, shown, want(t))
	}
	if t == durationType {
		dur, err := parseDuration(text)
		if err != nil {
			return bad(nil)
		}
		dst.SetInt(int64(dur))
		return nil
	}
	if isText(t) {
		if err := dst.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(text)); err != nil {
			if secret {
				err = nil // its message may quote the value
			}
			return bad(err)
		}
		return nil
	}
	s := strings.TrimSpace(text)
	switch t.Kind() {
	case reflect.String:
		dst.SetString(text) // untrimmed: leading or trailing blanks may be meant
	case reflect.Bool:
		b, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return bad(nil)
		}
		dst.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(s, 10, t.Bits()) // base 10: a leading 0 is not octal here
		if err != nil {
			return bad(nil)
		}
		dst.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(s, 10, t.Bits())
		if err != nil {
			return bad(nil)
		}
		dst.SetUint(u)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(s, t.Bits())
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad(nil)
		}
		dst.SetFloat(f)
	default:
		return bad(nil)
	}
	return nil
}

// want describes what a field of type t accepts, for errors.
func want(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 5s, 1h30m or 00:10:00"
	}
	if isText(t) {
		return "text for " + t.String()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer that fits in %d bits", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer that fits in %d bits", t.Bits())
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	}
	return "an object"
}

func (k kind) String() string {
	return [...]string{"null", "a scalar", "a list", "an object"}[k]
}

// parseDuration accepts Go durations ("5s", "1h30m") and .NET TimeSpans ("00:10:00",
// "1.02:03:04.5"), the form of the spec's defaults. A bare number is refused: .NET reads "5"
// as five days, Go as an error, and guessing would be worse than either.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, ":") {
		return parseTimeSpan(s)
	}
	return time.ParseDuration(s)
}

var errTimeSpan = errors.New("not a [-][d.]hh:mm[:ss[.fffffff]] time span")

// parseTimeSpan parses .NET's constant format, [-][d.]hh:mm[:ss[.f…]], and its general
// format with days as a fourth colon-separated field, [-]d:hh:mm:ss[.f…].
func parseTimeSpan(s string) (time.Duration, error) {
	rest, neg := strings.CutPrefix(s, "-")
	parts := strings.Split(rest, ":")
	days, hasDays := "", false
	switch len(parts) {
	case 4:
		days, parts, hasDays = parts[0], parts[1:], true
	case 2, 3:
		days, parts[0], hasDays = strings.Cut(parts[0], ".")
		if !hasDays {
			days, parts[0] = "", days
		}
	default:
		return 0, errTimeSpan
	}
	type part struct {
		text string
		max  int64
		unit time.Duration
	}
	ps := []part{{parts[0], 23, time.Hour}, {parts[1], 59, time.Minute}}
	if hasDays {
		ps = append(ps, part{days, 106751, 24 * time.Hour}) // the most days a Duration holds
	}
	if len(parts) == 3 {
		sec, frac, hasFrac := strings.Cut(parts[2], ".")
		ps = append(ps, part{sec, 59, time.Second})
		if hasFrac {
			if frac == "" || len(frac) > 9 {
				return 0, errTimeSpan
			}
			ps = append(ps, part{(frac + "000000000")[:9], 999999999, time.Nanosecond})
		}
	}
	var total int64
	for _, p := range ps {
		if p.text == "" || len(p.text) > 9 || strings.Trim(p.text, "0123456789") != "" {
			return 0, errTimeSpan
		}
		n, _ := strconv.ParseInt(p.text, 10, 64) // at most 9 digits: cannot fail
		if n > p.max || n*int64(p.unit) > math.MaxInt64-total {
			return 0, errTimeSpan
		}
		total += n * int64(p.unit)
	}
	if neg {
		total = -total
	}
	return time.Duration(total), nil
}
