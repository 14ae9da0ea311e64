package config_test

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/config"
)

// testConfig has the shape of the spec's CLI settings plus every kind of field Load fills.
type testConfig struct {
	Common
	APIKey                  string            `json:"apiKey" secret:"true"`
	BackendURL              string            `json:"backendUrl"`
	ScannerDownloadAttempts int               `json:"scannerDownloadAttempts"`
	Port                    uint16            `json:"port"`
	Ratio                   float64           `json:"ratio"`
	Seed                    uint64            `json:"seed" secret:"true"`
	Listen                  netip.Addr        `json:"listen"`
	LogLevel                slog.Level        `json:"logLevel"`
	Authority               authority         `json:"authority"`
	Registries              []registry        `json:"registries"`
	Labels                  map[string]string `json:"labels"`
	TLS                     *tlsConfig        `json:"tls"`
	Ignored                 string            `json:"-"`
	Now                     func() time.Time  // hooks are not configuration
}

// Common is embedded: its keys are promoted to the top level.
type Common struct {
	Region string `json:"region"`
}

type authority struct {
	URL                    string     `json:"url"`
	ClientID               string     `json:"clientId"`
	ClientSecret           string     `json:"clientSecret" secret:"true"`
	Scopes                 []string   `json:"scopes"`
	AllowAnonymousFallback bool       `json:"allowAnonymousFallback"`
	Resilience             resilience `json:"resilience"`
}

type resilience struct {
	EnableRetries         bool            `json:"enableRetries"`
	RetryDelays           []time.Duration `json:"retryDelays"`
	OfflineCacheTolerance time.Duration   `json:"offlineCacheTolerance"`
}

type registry struct {
	Host     string `json:"host"`
	Username string `json:"username"`
	Password string `json:"password" secret:"true"`
}

type tlsConfig struct {
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// defaults are the spec's defaults for the keys that have one.
func defaults() testConfig {
	return testConfig{
		Common:                  Common{Region: "eu"},
		BackendURL:              "default",
		ScannerDownloadAttempts: 3,
		Authority: authority{
			Resilience: resilience{
				EnableRetries:         true,
				RetryDelays:           []time.Duration{time.Second, 2 * time.Second, 5 * time.Second},
				OfflineCacheTolerance: 10 * time.Minute,
			},
		},
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func load(t *testing.T, o config.Options) (testConfig, config.Sources, error) {
	t.Helper()
	cfg := defaults()
	src, err := config.Load(&cfg, o)
	if err != nil && !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("error %q lacks the config: prefix", err)
	}
	return cfg, src, err
}

func mustLoad(t *testing.T, o config.Options) (testConfig, config.Sources) {
	t.Helper()
	cfg, src, err := load(t, o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg, src
}

// TestPrecedence sets backendUrl at every level and removes levels from the top down: each
// time the next level must win, and keys set only at lower levels must still come through.
func TestPrecedence(t *testing.T) {
	levels := []struct {
		name, file, content string
	}{
		{"env", "", ""},
		{"json", "appsettings.json", `{"backendUrl": "json", "authority": {"url": "https://json"}}`},
		{"local.json", "appsettings.local.json", `{"backendUrl": "local.json", "authority": {"clientId": "local.json"}}`},
		{"yaml", "appsettings.yaml", "backendUrl: yaml\nport: 8443\n"},
		{"local.yaml", "appsettings.local.yaml", "backendUrl: local.yaml\nscannerDownloadAttempts: 5\n"},
	}
	for top := range len(levels) + 1 {
		name := "default"
		if top < len(levels) {
			name = levels[top].name
		}
		t.Run(name+" wins", func(t *testing.T) {
			dir := t.TempDir()
			o := config.Options{Dirs: []string{dir}}
			want := config.Source{Kind: config.FromDefault}
			for i, l := range levels[top:] {
				if l.file == "" {
					o.Environ = []string{"STELLAOPS_BACKENDURL=env", "PATH=/bin"}
					want = config.Source{Kind: config.FromEnv, Name: "STELLAOPS_BACKENDURL"}
					continue
				}
				path := writeFile(t, dir, l.file, l.content)
				if i == 0 {
					want = config.Source{Kind: config.FromFile, Name: path, Line: 1}
				}
			}
			cfg, src := mustLoad(t, o)
			if cfg.BackendURL != name {
				t.Errorf("backendUrl = %q, want %q", cfg.BackendURL, name)
			}
			if got := src.ByKey["backendUrl"]; got != want {
				t.Errorf("source of backendUrl = %v, want %v", got, want)
			}
			// Keys that only a lower level sets still arrive from it.
			if top <= 4 && cfg.ScannerDownloadAttempts != 5 {
				t.Errorf("scannerDownloadAttempts = %d, want 5 from appsettings.local.yaml", cfg.ScannerDownloadAttempts)
			}
			if top <= 3 && cfg.Port != 8443 {
				t.Errorf("port = %d, want 8443 from appsettings.yaml", cfg.Port)
			}
			if top <= 2 && cfg.Authority.ClientID != "local.json" {
				t.Errorf("authority.clientId = %q, want it from appsettings.local.json", cfg.Authority.ClientID)
			}
			if top <= 1 && cfg.Authority.URL != "https://json" {
				t.Errorf("authority.url = %q, want it from appsettings.json", cfg.Authority.URL)
			}
			if top == 5 && cfg.ScannerDownloadAttempts != 3 {
				t.Errorf("scannerDownloadAttempts = %d, want the default 3", cfg.ScannerDownloadAttempts)
			}
		})
	}
}

// TestLocalRanksBelowSibling pins the contract's literal order: a .local file loses to its
// non-local sibling and only fills in what the sibling leaves out.
func TestLocalRanksBelowSibling(t *testing.T) {
	tests := []struct {
		name, main, local, mainFile, localFile string
	}{
		{"json", `{"backendUrl": "main"}`, `{"backendUrl": "local", "region": "local"}`, "appsettings.json", "appsettings.local.json"},
		{"yaml", "backendUrl: main\n", "backendUrl: local\nregion: local\n", "appsettings.yaml", "appsettings.local.yaml"},
		{"local json over plain yaml", `{"backendUrl": "main"}`, "backendUrl: local\nregion: local\n", "appsettings.local.json", "appsettings.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.mainFile, tc.main)
			localPath := writeFile(t, dir, tc.localFile, tc.local)
			cfg, src := mustLoad(t, config.Options{Dirs: []string{dir}})
			if cfg.BackendURL != "main" {
				t.Errorf("backendUrl = %q, want main: %s must not override %s", cfg.BackendURL, tc.localFile, tc.mainFile)
			}
			if cfg.Region != "local" || src.ByKey["region"].Name != localPath {
				t.Errorf("region = %q from %v, want local from %s", cfg.Region, src.ByKey["region"], localPath)
			}
		})
	}
}

func TestDirs(t *testing.T) {
	first, second, missing := t.TempDir(), t.TempDir(), filepath.Join(t.TempDir(), "none")
	p1 := writeFile(t, first, "appsettings.json", `{"backendUrl": "first"}`)
	p2 := writeFile(t, second, "appsettings.json", `{"backendUrl": "second", "region": "second"}`)
	p3 := writeFile(t, second, "appsettings.yaml", "region: yaml\n")
	cfg, src := mustLoad(t, config.Options{Dirs: []string{missing, first, second, first}})
	if cfg.BackendURL != "first" || cfg.Region != "second" {
		t.Errorf("backendUrl, region = %q, %q; want first, second", cfg.BackendURL, cfg.Region)
	}
	if diff := cmp.Diff([]string{p1, p2, p3}, src.Files); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

// TestWrapper covers the spec's sample layout: everything under one "StellaOps" object, with
// .NET PascalCase keys, and .NET colon paths as keys.
func TestWrapper(t *testing.T) {
	tests := []struct {
		name, file, content string
	}{
		{"spec sample json", "appsettings.json", `{
  "StellaOps": {
    "ApiKey": "your-api-token",
    "BackendUrl": "https://feedser.example.org",
    "ScannerDownloadAttempts": 4,
    "Authority": {
      "Url": "https://authority.example.org",
      "ClientId": "feedser-cli",
      "ClientSecret": "REDACTED",
      "Scopes": "feedser.jobs.trigger"
    }
  }
}`},
		{"lower-case yaml", "appsettings.yaml", `stellaops:
  apiKey: your-api-token
  backendUrl: https://feedser.example.org
  scannerDownloadAttempts: 4
  authority:
    url: https://authority.example.org
    clientId: feedser-cli
    clientSecret: REDACTED
    scopes: [feedser.jobs.trigger]
`},
		{"colon paths", "appsettings.json", `{
  "StellaOps:ApiKey": "your-api-token",
  "StellaOps:BackendUrl": "https://feedser.example.org",
  "StellaOps:ScannerDownloadAttempts": "4",
  "StellaOps:Authority:Url": "https://authority.example.org",
  "Authority:ClientId": "feedser-cli",
  "StellaOps": {"Authority:ClientSecret": "REDACTED", "authority": {"scopes": ["feedser.jobs.trigger"]}}
}`},
		{"wrapper and bare keys mixed", "appsettings.yaml", `apiKey: your-api-token
StellaOps:
  BackendUrl: https://feedser.example.org
  ScannerDownloadAttempts: 4
authority:
  url: https://authority.example.org
STELLAOPS:
  authority: {clientId: feedser-cli, clientSecret: REDACTED, scopes: feedser.jobs.trigger}
`},
	}
	want := defaults()
	want.APIKey = "your-api-token"
	want.BackendURL = "https://feedser.example.org"
	want.ScannerDownloadAttempts = 4
	want.Authority.URL = "https://authority.example.org"
	want.Authority.ClientID = "feedser-cli"
	want.Authority.ClientSecret = "REDACTED"
	want.Authority.Scopes = []string{"feedser.jobs.trigger"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, tc.file, tc.content)
			cfg, _ := mustLoad(t, config.Options{Dirs: []string{dir}})
			if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

var cmpConfig = cmp.Options{
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b func() time.Time) bool { return (a == nil) == (b == nil) }),
}

func TestWrapperYieldsToARealKey(t *testing.T) {
	type withKey struct {
		StellaOps string `json:"stellaops"`
	}
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.json", `{"StellaOps": "a value"}`)
	var cfg withKey
	if _, err := config.Load(&cfg, config.Options{Dirs: []string{dir}}); err != nil || cfg.StellaOps != "a value" {
		t.Errorf("got %q, %v; want the key set", cfg.StellaOps, err)
	}
}

// TestNested fills sections, a pointer section, an embedded struct's key, a list of objects and
// a map from one file, with keys in any case and comments that .NET's JSON reader allows.
func TestNested(t *testing.T) {
	files := map[string]string{
		"appsettings.json": `{
  // .NET allows comments and trailing commas in appsettings.json.
  "Region": "us", /* embedded Common.Region */
  "TLS": {"CertFile": "/etc/cert.pem", "keyfile": "/etc/key.pem",},
  "labels": {"Team": "scanner", "tier": "1"},
}`,
		"appsettings.yaml": `authority:
  resilience:
    RetryDelays: [00:00:01, 3s]
    offlineCacheTolerance: 00:05:00
registries:
  - HOST: registry.example.org
    username: bot
    password: s3cret
  - host: mirror.example.org
`,
	}
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	cfg, src := mustLoad(t, config.Options{Dirs: []string{dir}})
	want := defaults()
	want.Region = "us"
	want.TLS = &tlsConfig{CertFile: "/etc/cert.pem", KeyFile: "/etc/key.pem"}
	want.Labels = map[string]string{"Team": "scanner", "tier": "1"}
	want.Authority.Resilience.RetryDelays = []time.Duration{time.Second, 3 * time.Second}
	want.Authority.Resilience.OfflineCacheTolerance = 5 * time.Minute
	want.Registries = []registry{{Host: "registry.example.org", Username: "bot", Password: "s3cret"}, {Host: "mirror.example.org"}}
	if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s := src.ByKey["registries"]; s.Kind != config.FromFile || s.Line != 5 {
		t.Errorf("source of registries = %v, want appsettings.yaml:5", s)
	}
	if s := src.ByKey["tls.keyFile"]; s.Line != 4 {
		t.Errorf("source of tls.keyFile = %v, want line 4", s)
	}
}

// TestListsReplaceWhole: a higher source's list replaces a lower one's, never merged by index.
func TestListsReplaceWhole(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.yaml", "registries: [{host: a}, {host: b}]\nauthority: {scopes: [x, y, z]}\n")
	writeFile(t, dir, "appsettings.json", `{"registries": [{"host": "c"}]}`)
	cfg, _ := mustLoad(t, config.Options{Dirs: []string{dir}, Environ: []string{"STELLAOPS_AUTHORITY__SCOPES=q"}})
	if len(cfg.Registries) != 1 || cfg.Registries[0].Host != "c" {
		t.Errorf("registries = %+v, want only c", cfg.Registries)
	}
	if diff := cmp.Diff([]string{"q"}, cfg.Authority.Scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
}

func TestNullSetsZero(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.yaml", "backendUrl: set\nauthority:\n  resilience:\n    retryDelays:\n")
	writeFile(t, dir, "appsettings.json", `{"backendUrl": null, "tls": null, "authority": null}`)
	cfg, _ := mustLoad(t, config.Options{Dirs: []string{dir}})
	if cfg.BackendURL != "" || cfg.Authority.Resilience.RetryDelays != nil || !cfg.Authority.Resilience.EnableRetries {
		t.Errorf("got backendUrl %q, retryDelays %v, enableRetries %v; want \"\", nil, true",
			cfg.BackendURL, cfg.Authority.Resilience.RetryDelays, cfg.Authority.Resilience.EnableRetries)
	}
}

func TestEmptyFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.json", "  \n")
	writeFile(t, dir, "appsettings.yaml", "# nothing yet\n")
	writeFile(t, dir, "appsettings.local.json", "\xef\xbb\xbf{}")
	cfg, src := mustLoad(t, config.Options{Dirs: []string{dir}})
	if diff := cmp.Diff(defaults(), cfg, cmpConfig); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if len(src.Files) != 3 {
		t.Errorf("Files = %v, want the three files", src.Files)
	}
}

// TestFileErrors: every problem in a file names the file and, where known, the line.
func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		is                  error
		want                []string // substrings of the error, after the file's path
	}{
		{"json syntax", "appsettings.json", "{\n  \"backendUrl\": \"x\"\n  \"port\": 1\n}", config.ErrMalformed, []string{":3: malformed file: invalid character '\"' after object key:value pair"}},
		{"json truncated", "appsettings.json", "{\"authority\": {\"url\": \"x\"", config.ErrMalformed, []string{":1: malformed file: unexpected EOF"}},
		{"json bad token at a line start", "appsettings.json", "[\n1,\n2\n3]", config.ErrMalformed, []string{":4: malformed file: invalid character '3' after array element"}},
		{"json bad key at a line start", "appsettings.json", "{\"port\": 1\n\"x\": 2}\n", config.ErrMalformed, []string{":2: malformed file: invalid character '\"'"}},
		{"json newline in a string", "appsettings.json", "{\"url\": \"a\nb\"}", config.ErrMalformed, []string{":1: malformed file: invalid character '\\n' in string literal"}},
		{"json bad number", "appsettings.json", "{\n\"port\": -}", config.ErrMalformed, []string{":2: malformed file: invalid character '}' in numeric literal"}},
		{"json two values", "appsettings.json", "{} {}", config.ErrMalformed, []string{"after the top-level value"}},
		{"json unterminated comment", "appsettings.json", "{\n/* port: 1\n}", config.ErrMalformed, []string{":2: malformed file: unterminated /* comment"}},
		{"json top-level list", "appsettings.json", "[1]", config.ErrMalformed, []string{"must be an object"}},
		{"json deep", "appsettings.json", strings.Repeat("[", 100) + strings.Repeat("]", 100), config.ErrMalformed, []string{"nested deeper"}},
		{"yaml syntax", "appsettings.yaml", "backendUrl: x\nauthority:\n  url: [\n", config.ErrMalformed, []string{"yaml: line"}},
		{"yaml tab", "appsettings.local.yaml", "authority:\n\turl: x\n", config.ErrMalformed, []string{"line 2"}},
		{"yaml two documents", "appsettings.yaml", "port: 1\n---\nport: 2\n", config.ErrMalformed, []string{"line 2: only one document"}},
		{"yaml scalar top", "appsettings.yaml", "just text\n", config.ErrMalformed, []string{"must be an object"}},
		{"bad value in yaml", "appsettings.yaml", "authority:\n  allowAnonymousFallback: maybe\n", config.ErrInvalidValue,
			[]string{`:2: authority.allowAnonymousFallback: invalid value "maybe": want true or false`}},
		{"bad duration in json", "appsettings.json", "{\"authority\": {\"resilience\": {\n\"offlineCacheTolerance\": \"10\"}}}", config.ErrInvalidValue,
			[]string{":2: authority.resilience.offlineCacheTolerance: invalid value \"10\": want a duration"}},
		{"object for a scalar", "appsettings.json", `{"port": {"value": 1}}`, config.ErrInvalidValue, []string{"port: invalid value: want a non-negative integer that fits in 16 bits, got an object"}},
		{"scalar for a section", "appsettings.yaml", "authority: https://x\n", config.ErrInvalidValue, []string{":1: authority: invalid value: want an object, got a scalar"}},
		{"scalar for a list of objects", "appsettings.yaml", "registries: a,b\n", config.ErrInvalidValue, []string{"registries: invalid value: want a list, got a scalar"}},
		{"wrapper not an object", "appsettings.json", `{"StellaOps": 1}`, config.ErrInvalidValue, []string{"StellaOps must be an object"}},
		{"unknown key", "appsettings.yaml", "authority:\n  urll: x\n", config.ErrUnknownKey, []string{`:2: unknown key "authority.urll" (did you mean "authority.url"?)`}},
		{"unknown key below a leaf", "appsettings.json", `{"backendUrl:host": "x"}`, config.ErrUnknownKey, []string{`unknown key "backendUrl.host"`}},
		{"unknown key in a list element", "appsettings.yaml", "registries:\n  - host: a\n    pasword: b\n", config.ErrUnknownKey,
			[]string{`:3: unknown key "registries[0].pasword" (did you mean "registries[0].password"?)`}},
		{"key twice", "appsettings.json", "{\"backendUrl\": \"a\",\n \"BackendURL\": \"b\"}", nil, []string{"backendUrl is set twice (lines 1 and 2)"}},
		{"key twice through the wrapper", "appsettings.yaml", "port: 1\nStellaOps:\n  Port: 2\n", nil, []string{"port is set twice (lines 1 and 3)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, tc.file, tc.content)
			cfg, _, err := load(t, config.Options{Dirs: []string{dir}})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), "config: "+path) {
				t.Errorf("error %q does not start with config: %s", err, path)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if diff := cmp.Diff(defaults(), cfg, cmpConfig); diff != "" {
				t.Errorf("dst changed despite the error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "appsettings.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(t, config.Options{Dirs: []string{dir}}); err == nil || !strings.Contains(err.Error(), "appsettings.json") {
		t.Errorf("got %v, want an error naming appsettings.json", err)
	}
}

// TestUnknownKeysListed: all unknown keys of all sources come back at once, each with its
// source, so one run shows every typo.
func TestUnknownKeysListed(t *testing.T) {
	dir := t.TempDir()
	jsonPath := writeFile(t, dir, "appsettings.json", "{\n  \"StellaOps\": {\"Authority\": {\"ClientSecrt\": \"x\"}}\n}")
	yamlPath := writeFile(t, dir, "appsettings.local.yaml", "backendUrl: a\nbackend: b\n")
	_, _, err := load(t, config.Options{Dirs: []string{dir}, Environ: []string{
		"STELLAOPS_AUTHORITY__URL=https://ok",
		"STELLAOPS_AUTHORTY__URL=https://typo",
		"STELLAOPS_AUTHORITY_URL=https://single-underscore",
		"STELLAOPS_=x",
	}})
	if !errors.Is(err, config.ErrUnknownKey) {
		t.Fatalf("got %v, want ErrUnknownKey", err)
	}
	want := strings.Join([]string{
		`config: ` + yamlPath + `:2: unknown key "backend"`,
		`config: ` + jsonPath + `:2: unknown key "authority.ClientSecrt" (did you mean "authority.clientSecret"?)`,
		`config: env STELLAOPS_: unknown key ""`,
		`config: env STELLAOPS_AUTHORITY_URL: unknown key "AUTHORITY_URL" (did you mean STELLAOPS_AUTHORITY__URL?)`,
		`config: env STELLAOPS_AUTHORTY__URL: unknown key "AUTHORTY.URL" (did you mean STELLAOPS_AUTHORITY__URL?)`,
	}, "\n")
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLoadNeedsPointerToStruct(t *testing.T) {
	var n int
	for _, dst := range []any{nil, defaults(), &n, (*testConfig)(nil)} {
		if _, err := config.Load(dst, config.Options{}); err == nil {
			t.Errorf("Load(%T) succeeded", dst)
		}
	}
}

func TestUnsupportedTypes(t *testing.T) {
	tests := []struct {
		name string
		dst  any
		want string
	}{
		{"interface", &struct{ X any }{}, "config: X: unsupported type interface {}"},
		{"int map key", &struct{ M map[int]string }{}, "map keys must be strings"},
		{"in a list element", &struct{ L []struct{ C complex128 } }{}, "unsupported type complex128"},
		{"recursive", &recursive{}, "recursive type"},
		{"case clash", &struct {
			A string `json:"url"`
			B string `json:"URL"`
		}{}, "differ only in case"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(tc.dst, config.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

type recursive struct {
	Next *recursive `json:"next"`
}
