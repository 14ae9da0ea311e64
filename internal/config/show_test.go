package config_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/config"
)

func shownConfig() testConfig {
	c := defaults()
	c.APIKey = "tok-123"
	c.BackendURL = "https://feedser.example.org/?a=1&b=2"
	c.Listen = netip.MustParseAddr("127.0.0.1")
	c.Authority.URL = "https://authority.example.org"
	c.Authority.ClientSecret = "" // empty secrets stay empty
	c.Registries = []registry{{Host: "r", Username: "bot", Password: "pw"}, {Host: "m"}}
	c.Labels = map[string]string{"team": "scanner"}
	c.Now = time.Now
	return c
}

func TestMasked(t *testing.T) {
	c := shownConfig()
	got := config.Masked(&c)
	want := map[string]any{
		"region":                  "eu",
		"apiKey":                  config.Mask,
		"backendUrl":              "https://feedser.example.org/?a=1&b=2",
		"scannerDownloadAttempts": int64(3),
		"port":                    uint64(0),
		"ratio":                   0.0,
		"seed":                    uint64(0),
		"listen":                  "127.0.0.1",
		"logLevel":                "INFO",
		"authority": map[string]any{
			"url":                    "https://authority.example.org",
			"clientId":               "",
			"clientSecret":           "",
			"scopes":                 []any{},
			"allowAnonymousFallback": false,
			"resilience": map[string]any{
				"enableRetries":         true,
				"retryDelays":           []any{"1s", "2s", "5s"},
				"offlineCacheTolerance": "10m0s",
			},
		},
		"registries": []any{
			map[string]any{"host": "r", "username": "bot", "password": config.Mask},
			map[string]any{"host": "m", "username": "", "password": ""},
		},
		"labels": map[string]any{"team": "scanner"},
		"tls":    nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("Masked's result does not encode: %v", err)
	}
	if c.APIKey != "tok-123" || c.Registries[0].Password != "pw" {
		t.Error("Masked changed its argument")
	}
	for _, v := range []any{nil, 3, "s", (*testConfig)(nil), netip.Addr{}} {
		if m := config.Masked(v); m != nil {
			t.Errorf("Masked(%#v) = %v, want nil", v, m)
		}
	}
}

func TestShow(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "appsettings.yaml", "region: us\nregistries:\n  - {host: r, password: pw}\n")
	c := defaults()
	src, err := config.Load(&c, config.Options{Dirs: []string{dir}, Environ: []string{"STELLAOPS_APIKEY=tok-123"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := config.Show(&b, &c, &src); err != nil {
		t.Fatal(err)
	}
	want := `apiKey = "********"  # env STELLAOPS_APIKEY
authority.allowAnonymousFallback = false  # default
authority.clientId = ""  # default
authority.clientSecret = ""  # default
authority.resilience.enableRetries = true  # default
authority.resilience.offlineCacheTolerance = "10m0s"  # default
authority.resilience.retryDelays = ["1s","2s","5s"]  # default
authority.scopes = []  # default
authority.url = ""  # default
backendUrl = "default"  # default
labels = {}  # default
listen = ""  # default
logLevel = "INFO"  # default
port = 0  # default
ratio = 0  # default
region = "us"  # ` + path + `:1
registries = [{"host":"r","password":"********","username":""}]  # ` + path + `:2
scannerDownloadAttempts = 3  # default
seed = 0  # default
tls.certFile = null  # default
tls.keyFile = null  # default
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if strings.Contains(b.String(), "tok-123") || strings.Contains(b.String(), "pw\"") {
		t.Error("Show leaks a secret")
	}

	b.Reset()
	if err := config.Show(&b, c, nil); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(b.String(), "\n"); first != `apiKey = "********"` {
		t.Errorf("first line without sources = %q", first)
	}
}

func TestSourcesAll(t *testing.T) {
	s := config.Sources{ByKey: map[string]config.Source{
		"b":   {Kind: config.FromEnv, Name: "STELLAOPS_B"},
		"a.z": {Kind: config.FromFile, Name: "/etc/appsettings.json", Line: 3},
		"a":   {},
	}}
	var got []string
	for k, src := range s.All() {
		got = append(got, k+" "+src.String())
	}
	want := []string{"a default", "a.z /etc/appsettings.json:3", "b env STELLAOPS_B"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
