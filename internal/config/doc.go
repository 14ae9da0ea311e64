// Package config is the one configuration loader of the StellaOps server and CLIs: it fills a
// caller's struct from appsettings files and environment variables, says where each value came
// from, and shows the result with secrets masked. It does not validate values (that is the
// caller's), and it never reads the process environment by itself.
//
// # Precedence
//
// Highest first, as the architecture's contract states for server and CLIs alike:
//
//  1. environment variables
//  2. appsettings.json
//  3. appsettings.local.json
//  4. appsettings.yaml
//  5. appsettings.local.yaml
//  6. defaults: the values the struct holds when Load is called
//
// The .local files rank below their non-local sibling. That is the contract taken literally,
// not the usual "local overrides" convention: a .local file fills in keys its sibling leaves
// out, and cannot override one it sets. For one file name, the copy in the earlier of
// [Options.Dirs] wins. A list or a map is one key, replaced whole by the winning source, not
// merged element by element as .NET does.
//
// # Keys
//
// A key is a field's json tag name, or its Go name when it has none, matched without regard
// to case, so the spec's "StellaOps:Authority:Url" and our "authority.url" name the same key.
// Struct fields are sections, whose keys are their fields; embedded structs' fields are
// promoted as encoding/json does. In files, sections are ordinary objects; a key may also be a
// .NET colon path ("Authority:Url": ...), and the whole file may sit in one top-level
// "StellaOps" object, as the spec's sample appsettings.json does. JSON files may hold comments
// and trailing commas, which .NET's reader allows.
//
// Environment variables start with the prefix (default STELLAOPS_, any case); "__" or ":"
// separates sections, and single underscores inside a name are ignored:
//
//	STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=true
//	StellaOps__Authority__AllowAnonymousFallback=true
//	STELLAOPS_AUTHORITY__ALLOW_ANONYMOUS_FALLBACK=true
//
// A key that is not in the struct is an error naming its file and line or its variable, with
// the closest key when one is near: typos must not pass silently. Prefixed variables that are
// not keys (STELLAOPS_DATA, say) go in [Options.IgnoreEnv].
//
// # Values
//
// Every value is text until it meets its field, as in .NET configuration:
//   - bool: true or false in any case (also 1, 0, t, f);
//   - integers: base 10, range-checked; floats: finite numbers;
//   - time.Duration: Go's "5s" or "1h30m", or a .NET TimeSpan "00:10:00", "1.02:03:04.5";
//   - types with an UnmarshalText method (netip.Addr, slog.Level, time.Time): that method;
//   - pointers: allocated when the key is set, nil for null;
//   - lists: a YAML or JSON list, or, for lists of scalars, one string split on commas and
//     blanks ("1s,2s 5s"); a variable for a list of objects or a map holds JSON, and one for
//     a list of scalars may too when it starts with "[" (for elements with commas or blanks);
//   - null sets the zero value.
//
// # Secrets
//
// A field tagged secret:"true" (and everything under it) is shown as [Mask] by [Masked] and
// [Show], empty when unset, and errors never quote its value.
//
// # Usage
//
//	cfg := app.DefaultConfig()
//	src, err := config.Load(&cfg, config.Options{
//		Dirs:      []string{dataDir, binDir},
//		Environ:   os.Environ(),
//		IgnoreEnv: []string{"STELLAOPS_DATA"},
//	})
//	if err != nil {
//		return err
//	}
//	for key, s := range src.All() {
//		log.DebugContext(ctx, "config", "key", key, "source", s.String())
//	}
//	return config.Show(stdout, cfg, &src) // stellaops-cli config show --sources
package config
