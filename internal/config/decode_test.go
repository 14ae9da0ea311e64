package config_test

import (
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/config"
)

// TestConversion sets one variable and checks the field it fills.
func TestConversion(t *testing.T) {
	tests := []struct {
		env  string
		get  func(testConfig) any
		want any
	}{
		{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=TRUE", func(c testConfig) any { return c.Authority.AllowAnonymousFallback }, true},
		{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK= 1 ", func(c testConfig) any { return c.Authority.AllowAnonymousFallback }, true},
		{"STELLAOPS_AUTHORITY__RESILIENCE__ENABLERETRIES=False", func(c testConfig) any { return c.Authority.Resilience.EnableRetries }, false},
		{"STELLAOPS_SCANNERDOWNLOADATTEMPTS=-2", func(c testConfig) any { return c.ScannerDownloadAttempts }, -2},
		{"STELLAOPS_SCANNERDOWNLOADATTEMPTS=010", func(c testConfig) any { return c.ScannerDownloadAttempts }, 10},
		{"STELLAOPS_PORT=65535", func(c testConfig) any { return c.Port }, uint16(65535)},
		{"STELLAOPS_RATIO=0.25", func(c testConfig) any { return c.Ratio }, 0.25},
		{"STELLAOPS_SEED=18446744073709551615", func(c testConfig) any { return c.Seed }, uint64(18446744073709551615)},
		{"STELLAOPS_BACKENDURL= spaced ", func(c testConfig) any { return c.BackendURL }, " spaced "},
		{"STELLAOPS_BACKENDURL=", func(c testConfig) any { return c.BackendURL }, ""},
		{"STELLAOPS_BACKENDURL=a=b", func(c testConfig) any { return c.BackendURL }, "a=b"},
		{"STELLAOPS_LISTEN=::1", func(c testConfig) any { return c.Listen }, netip.MustParseAddr("::1")},
		{"STELLAOPS_LOGLEVEL=warn", func(c testConfig) any { return c.LogLevel }, slog.LevelWarn},
		{"STELLAOPS_AUTHORITY__SCOPES=a, b  c,,d", func(c testConfig) any { return strings.Join(c.Authority.Scopes, "|") }, "a|b|c|d"},
		{`STELLAOPS_AUTHORITY__SCOPES=["a b", "c,d"]`, func(c testConfig) any { return strings.Join(c.Authority.Scopes, "|") }, "a b|c,d"},
		{"STELLAOPS_AUTHORITY__SCOPES=", func(c testConfig) any { return len(c.Authority.Scopes) }, 0},
		{"STELLAOPS_AUTHORITY__RESILIENCE__RETRYDELAYS=1s,2s 00:00:05", func(c testConfig) any { return c.Authority.Resilience.RetryDelays[2] }, 5 * time.Second},
		{`STELLAOPS_REGISTRIES=[{"Host": "r", "password": "p"}]`, func(c testConfig) any { return c.Registries[0] }, registry{Host: "r", Password: "p"}},
		{`STELLAOPS_LABELS={"a": "1", "b": 2}`, func(c testConfig) any { return c.Labels["b"] }, "2"},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			cfg, _ := mustLoad(t, config.Options{Environ: []string{tc.env}})
			if got := tc.get(cfg); got != tc.want {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestConversionErrors(t *testing.T) {
	tests := []struct {
		env, want string
	}{
		{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=yes", `authority.allowAnonymousFallback: invalid value "yes": want true or false`},
		{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=", `invalid value "": want true or false`},
		{"STELLAOPS_SCANNERDOWNLOADATTEMPTS=3.0", `scannerDownloadAttempts: invalid value "3.0": want an integer that fits in 64 bits`},
		{"STELLAOPS_SCANNERDOWNLOADATTEMPTS=0x10", `invalid value "0x10"`},
		{"STELLAOPS_PORT=65536", `port: invalid value "65536": want a non-negative integer that fits in 16 bits`},
		{"STELLAOPS_PORT=-1", `port: invalid value "-1"`},
		{"STELLAOPS_RATIO=NaN", `ratio: invalid value "NaN": want a number`},
		{"STELLAOPS_LISTEN=localhost", `listen: invalid value "localhost": ParseAddr`},
		{"STELLAOPS_AUTHORITY__RESILIENCE__RETRYDELAYS=1s,x", `authority.resilience.retryDelays[1]: invalid value "x": want a duration`},
		{`STELLAOPS_REGISTRIES=[{"host": "r", "pasword": "p"}]`, `unknown key "registries[0].pasword" (did you mean "registries[0].password"?)`},
		{`STELLAOPS_REGISTRIES=[{"host": ["r"]}]`, `registries[0].host: invalid value: want a string, got a list`},
		{`STELLAOPS_LABELS={"a": "1", "a": "2"}`, `labels: key "a" is set twice`},
		{`STELLAOPS_LABELS=a=1`, `labels: invalid value: want JSON`},
	}
	for _, tc := range tests {
		t.Run(tc.env, func(t *testing.T) {
			_, _, err := load(t, config.Options{Environ: []string{tc.env}})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !errors.Is(err, config.ErrInvalidValue) && !errors.Is(err, config.ErrUnknownKey) && !strings.Contains(tc.want, "twice") {
				t.Errorf("error %q wraps neither ErrInvalidValue nor ErrUnknownKey", err)
			}
			name, _, _ := strings.Cut(tc.env, "=")
			if !strings.HasPrefix(err.Error(), "config: env "+name+": ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got  %q\nwant config: env %s: ...%s", err, name, tc.want)
			}
		})
	}
}

// TestDurations covers Go durations and .NET TimeSpans, the form of the spec's defaults.
func TestDurations(t *testing.T) {
	ok := []struct {
		in   string
		want time.Duration
	}{
		{"5s", 5 * time.Second},
		{"1h30m", 90 * time.Minute},
		{"0", 0},
		{"-2m", -2 * time.Minute},
		{"00:10:00", 10 * time.Minute},
		{"00:01", time.Minute}, // .NET hh:mm
		{"23:59:59", 24*time.Hour - time.Second},
		{"1.02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"1:02:03:04", 26*time.Hour + 3*time.Minute + 4*time.Second},
		{"00:00:00.5", 500 * time.Millisecond},
		{"00:00:01.0000001", time.Second + 100*time.Nanosecond},
		{"-00:00:30", -30 * time.Second},
		{" 00:00:30 ", 30 * time.Second},
		{"106751.23:47:16.854775807", time.Duration(1<<63 - 1)},
	}
	for _, tc := range ok {
		t.Run(tc.in, func(t *testing.T) {
			cfg, _ := mustLoad(t, config.Options{Environ: []string{"STELLAOPS_AUTHORITY__RESILIENCE__OFFLINECACHETOLERANCE=" + tc.in}})
			if got := cfg.Authority.Resilience.OfflineCacheTolerance; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	bad := []string{"5", "10 s", "24:00:00", "00:60:00", "00:00:60", "00:00:00.", "00:00:00.1234567890", ":", "1:2:3:4:5",
		"1.2.3:00", ".01:00", "a:00", "-:00", "+00:01", "00:-1", "106751.23:47:16.854775808", "106752.00:00:00", "1e3s"}
	for _, in := range bad {
		t.Run("bad "+in, func(t *testing.T) {
			_, _, err := load(t, config.Options{Environ: []string{"STELLAOPS_AUTHORITY__RESILIENCE__OFFLINECACHETOLERANCE=" + in}})
			if !errors.Is(err, config.ErrInvalidValue) || !strings.Contains(err.Error(), "want a duration such as 5s, 1h30m or 00:10:00") {
				t.Errorf("got %v, want an invalid duration", err)
			}
		})
	}
}

// TestFileValueTypes: file values are text too, so quoted numbers and bare words both work,
// and YAML's exact text is kept (1.10 stays "1.10" in a string).
func TestFileValueTypes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.yaml", `
backendUrl: 1.10
port: "8080"
ratio: 1e-3
authority:
  allowAnonymousFallback: True
  scopes: a b
  resilience:
    retryDelays: "1s, 00:00:02"
labels:
  n: 10
  b: false
  s: ~
`)
	writeFile(t, dir, "appsettings.json", `{"scannerDownloadAttempts": "7", "seed": 12345678901234567890}`)
	cfg, _ := mustLoad(t, config.Options{Dirs: []string{dir}})
	want := defaults()
	want.BackendURL = "1.10"
	want.Port = 8080
	want.Ratio = 0.001
	want.ScannerDownloadAttempts = 7
	want.Seed = 12345678901234567890
	want.Authority.AllowAnonymousFallback = true
	want.Authority.Scopes = []string{"a", "b"}
	want.Authority.Resilience.RetryDelays = []time.Duration{time.Second, 2 * time.Second}
	want.Labels = map[string]string{"n": "10", "b": "false", "s": ""}
	if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestYAMLAliasesAndMerges(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.yaml", `
base: &base {host: registry.example.org, username: bot}
registries:
  - *base
  - <<: *base
    host: mirror.example.org
`)
	_, _, err := load(t, config.Options{Dirs: []string{dir}})
	if !errors.Is(err, config.ErrUnknownKey) || !strings.Contains(err.Error(), `unknown key "base"`) {
		t.Fatalf("got %v, want the unknown key base", err)
	}
	writeFile(t, dir, "appsettings.yaml", `
registries:
  - &base {host: registry.example.org, username: bot}
  - <<: *base
    host: mirror.example.org
`)
	cfg, _ := mustLoad(t, config.Options{Dirs: []string{dir}})
	want := []registry{{Host: "registry.example.org", Username: "bot"}, {Host: "mirror.example.org", Username: "bot"}}
	if diff := cmp.Diff(want, cfg.Registries); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestYAMLAliasBomb: a few lines of aliases must not expand into billions of values.
func TestYAMLAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.yaml", b.String())
	start := time.Now()
	_, _, err := load(t, config.Options{Dirs: []string{dir}})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}
