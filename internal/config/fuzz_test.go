package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/config"
)

// FuzzLoad feeds arbitrary bytes as appsettings.json and appsettings.yaml. Whatever the
// input, Load must return (no panic, no hang), its errors must carry the config: prefix, and a
// configuration it accepts must show.
func FuzzLoad(f *testing.F) {
	seeds := [][2]string{
		{`{"StellaOps": {"Authority": {"Url": "https://a", "ClientSecret": "s"}}}`, "port: 8080\n"},
		{"{\n// comment\n\"registries\": [{\"host\": \"r\",},],\n}", "authority:\n  resilience:\n    retryDelays: 1s,00:00:02\n"},
		{`{"labels": {"a": 1}, "tls": null, "authority:scopes": ["x"]}`, "registries:\n  - &r {host: a}\n  - <<: *r\n"},
		{`{"authority": {"resilience": {"offlineCacheTolerance": "1.02:03:04.5"}}}`, "stellaops: {seed: 18446744073709551615}\n"},
		{"[", "a: [\n"},
		{`{"port": 70000}`, "- x\n"},
		{"/*", "---\n---\n"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, jsonText, yamlText []byte) {
		dir := t.TempDir()
		for name, data := range map[string][]byte{"appsettings.json": jsonText, "appsettings.yaml": yamlText} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cfg := defaults()
		src, err := config.Load(&cfg, config.Options{Dirs: []string{dir}})
		if err != nil {
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Fatalf("error line %q lacks the config: prefix", line)
				}
			}
			return
		}
		if config.Masked(&cfg) == nil {
			t.Fatal("Masked returned nil for a loaded configuration")
		}
		if err := config.Show(io.Discard, &cfg, &src); err != nil {
			t.Fatalf("Show: %v", err)
		}
	})
}
