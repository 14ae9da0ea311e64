package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// DefaultPrefix is the prefix of the environment variables Load reads when Options.Prefix is
// empty.
const DefaultPrefix = "STELLAOPS_"

// fileNames are the files Load reads from each directory, highest precedence first, as the
// architecture's contract orders them.
var fileNames = [...]string{"appsettings.json", "appsettings.local.json", "appsettings.yaml", "appsettings.local.yaml"}

// Errors that Load's errors wrap, for errors.Is.
var (
	ErrUnknownKey   = errors.New("unknown key")
	ErrInvalidValue = errors.New("invalid value")
	ErrMalformed    = errors.New("malformed file")
)

// Options say where Load looks.
type Options struct {
	// Dirs are searched for the appsettings files, highest precedence first, as in PATH: for
	// each file name, the copy in an earlier directory wins. Missing directories and files
	// and empty entries are skipped; a repeated directory is read once.
	Dirs []string
	// Environ is the environment in os.Environ's form ("NAME=value"). Load never reads the
	// process environment itself, so tests and embedders pass exactly what applies.
	Environ []string
	// Prefix selects the variables that are configuration keys; empty means DefaultPrefix.
	// It is matched case-insensitively and may be followed by one or two underscores or a
	// colon: STELLAOPS_AUTHORITY__URL, StellaOps__Authority__Url, StellaOps:Authority:Url.
	Prefix string
	// IgnoreEnv names prefixed variables that are read elsewhere and are not keys, such as
	// STELLAOPS_DATA; a trailing * matches any suffix (STELLAOPS_TEST_*). Without it every
	// prefixed variable must name a key.
	IgnoreEnv []string
	// Aliases are variables outside the prefix scheme that set a key, by the key's path
	// ("authority.resilience.enableRetries"): the spec's API_KEY or
	// STELLAOPS_AUTHORITY_ENABLE_RETRIES. Names match case-sensitively, as environments do.
	Aliases map[string]string
	// SkipUnknownEnv skips prefixed variables that name no key instead of refusing them: a
	// client tool shares its environment with the server's variables. Files stay strict.
	SkipUnknownEnv bool
}

// SourceKind says which layer set a key.
type SourceKind int

// The layers, lowest precedence first.
const (
	FromDefault SourceKind = iota
	FromFile
	FromEnv
)

// Source is where a key's value came from.
type Source struct {
	Kind SourceKind
	// Name is the file's path or the variable's name; empty for FromDefault.
	Name string
	// Line is the line of the file that set the key; 0 when not known.
	Line int
}

// String is "default", "env NAME" or "PATH:LINE".
func (s Source) String() string {
	switch s.Kind {
	case FromEnv:
		return "env " + s.Name
	case FromFile:
		if s.Line > 0 {
			return fmt.Sprintf("%s:%d", s.Name, s.Line)
		}
		return s.Name
	}
	return "default"
}

// Sources tells where each key's winning value came from.
type Sources struct {
	// Files are the appsettings files that were read, highest precedence first.
	Files []string
	// ByKey maps each key of the struct Load filled, by its dotted path of declared names
	// ("authority.url"), to its source. A list or map is one key.
	ByKey map[string]Source
}

// All yields the keys and their sources in key order.
func (s Sources) All() iter.Seq2[string, Source] {
	return func(yield func(string, Source) bool) {
		for _, k := range slices.Sorted(maps.Keys(s.ByKey)) {
			if !yield(k, s.ByKey[k]) {
				return
			}
		}
	}
}

// Load fills the struct dst points to from the appsettings files in o.Dirs and the prefixed
// variables of o.Environ, leaving every key that no source sets at the value it already holds
// (its default). See the package documentation for precedence and key matching.
//
// Every source is checked, including those that lose to a higher one: an unknown key, a value
// that does not parse or a malformed file is an error naming the variable or the file and
// line, and then dst is left unchanged. Several problems are reported together.
func Load(dst any, o Options) (Sources, error) {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return Sources{}, fmt.Errorf("config: Load needs a non-nil pointer to a struct, got %T", dst)
	}
	root, err := buildSchema(rv.Elem().Type())
	if err != nil {
		return Sources{}, err
	}
	l := &loader{root: root, winners: map[*node]winner{}}
	files, err := l.files(o.Dirs)
	if err != nil {
		return Sources{}, err
	}
	l.env(o)
	if len(l.errs) > 0 {
		return Sources{}, errors.Join(l.errs...)
	}

	src := Sources{Files: files, ByKey: map[string]Source{}}
	for _, leaf := range root.leaves() {
		src.ByKey[leaf.path] = Source{Kind: FromDefault}
	}
	for _, leaf := range root.leaves() { // declaration order, so that allocations are stable
		w, ok := l.winners[leaf]
		if !ok {
			continue
		}
		f, _ := field(rv.Elem(), leaf.index, true)
		f.Set(w.val)
		src.ByKey[leaf.path] = w.src
	}
	return src, nil
}

// loader gathers the sources' values, lowest precedence first, so that a later one replaces
// an earlier one.
type loader struct {
	root    *node
	dec     decoder
	winners map[*node]winner
	errs    []error
}

type winner struct {
	val reflect.Value
	src Source
}

// files reads the appsettings files, lowest precedence first, and returns the paths read,
// highest first.
func (l *loader) files(dirs []string) ([]string, error) {
	var uniq []string
	for _, d := range dirs {
		if d == "" {
			continue // an unset directory, not the working directory that Clean would make of it
		}
		if d = filepath.Clean(d); !slices.Contains(uniq, d) {
			uniq = append(uniq, d)
		}
	}
	var read []string
	for i := len(fileNames) - 1; i >= 0; i-- {
		for j := len(uniq) - 1; j >= 0; j-- {
			path := filepath.Join(uniq[j], fileNames[i])
			v, err := readFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, err
			}
			read = append(read, path)
			if v != nil {
				l.layer(v, Source{Kind: FromFile, Name: path})
			}
		}
	}
	slices.Reverse(read)
	return read, nil
}

func readFile(path string) (*value, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err) // a directory named appsettings.json lands here
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s: %w: larger than %d bytes", path, ErrMalformed, maxFileSize)
	}
	var v *value
	if strings.HasSuffix(path, ".json") {
		v, err = parseJSON(data)
	} else {
		v, err = parseYAML(data)
	}
	if err != nil {
		var pe *posError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("config: %s:%d: %w: %w", path, pe.line, ErrMalformed, pe.err)
		}
		return nil, fmt.Errorf("config: %s: %w: %w", path, ErrMalformed, err)
	}
	if v != nil && v.kind != object && v.kind != null {
		return nil, fmt.Errorf("config: %s: %w: the top level must be an object, not %s", path, ErrMalformed, v.kind)
	}
	return v, nil
}

// layer takes the keys of one file. A top-level "StellaOps" object (any case) is unwrapped,
// as the spec's sample appsettings.json nests everything in one, unless the struct has a key
// of that name.
func (l *loader) layer(v *value, src Source) {
	set := map[*node]Source{}
	for _, m := range v.obj {
		segs := strings.Split(m.key, ":")
		if strings.EqualFold(segs[0], "stellaops") && l.root.byFold["stellaops"] == nil {
			if len(segs) == 1 {
				if m.val.kind != object && m.val.kind != null {
					l.errs = append(l.errs, fmt.Errorf("config: %s: %w: %s must be an object, not %s",
						at(src, m.line), ErrInvalidValue, m.key, m.val.kind))
					continue
				}
				for _, mm := range m.val.obj {
					l.member(l.root, strings.Split(mm.key, ":"), mm, src, set)
				}
				continue
			}
			segs = segs[1:]
		}
		l.member(l.root, segs, m, src, set)
	}
}

// member resolves one file key below sec. A key may hold a .NET colon path
// ("Authority:Url"), which is the same as nested objects.
func (l *loader) member(sec *node, segs []string, m member, src Source, set map[*node]Source) {
	here := at(src, m.line)
	n := sec
	for i, seg := range segs {
		kid := n.byFold[strings.ToLower(seg)]
		if !n.section || kid == nil {
			rest := strings.Join(segs[i:], ".")
			hint := ""
			if n.section {
				hint = suggest(n, seg, n.path)
			}
			l.errs = append(l.errs, fmt.Errorf("config: %s: %w %q%s", here, ErrUnknownKey, join(n.path, rest), hint))
			return
		}
		n = kid
	}
	if n.section {
		switch m.val.kind {
		case null:
		case object:
			for _, mm := range m.val.obj {
				l.member(n, strings.Split(mm.key, ":"), mm, src, set)
			}
		default:
			l.errs = append(l.errs, fmt.Errorf("config: %s: %s: %w: want an object, got %s", here, n.path, ErrInvalidValue, m.val.kind))
		}
		return
	}
	if prev, dup := set[n]; dup {
		l.errs = append(l.errs, fmt.Errorf("config: %s: %s is set twice (lines %d and %d)", src.Name, n.path, prev.Line, m.line))
		return
	}
	set[n] = here
	l.set(n, m.val, here)
}

// set decodes v for leaf n and makes it the winner so far. A value that loses later is still
// decoded, so that a bad value anywhere is reported.
func (l *loader) set(n *node, v *value, src Source) {
	f := reflect.New(n.typ).Elem()
	if err := l.dec.decode(v, f, n.path, n.secret); err != nil {
		var le *lineError
		if src.Kind == FromFile && errors.As(err, &le) {
			src.Line = le.line
		}
		l.errs = append(l.errs, fmt.Errorf("config: %s: %w", src, err))
		return
	}
	l.winners[n] = winner{f, src}
}

func at(src Source, line int) Source {
	src.Line = line
	return src
}

// suggest returns ` (did you mean "x"?)` for a kid of sec close to the mistyped name; path
// is sec's path as the error shows it.
func suggest(sec *node, name, path string) string {
	c := closest(sec, strings.ToLower(name), strings.ToLower)
	if c == nil {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", join(path, c.name))
}

// closest returns the kid of sec whose folded name is within two edits of name, if any.
func closest(sec *node, name string, fold func(string) string) *node {
	if len(name) > 64 {
		return nil // not a typo, and distance is quadratic
	}
	var best *node
	bestD := 3 // more than two edits is not a typo
	for _, k := range sec.kids {
		if d := distance(name, fold(k.name)); d < bestD && d < len(name) {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance, enough to catch a typo.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
