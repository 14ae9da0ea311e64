package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/config"
)

func TestEnvNames(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		o       config.Options
		key     string // the key whose source is checked
		source  string // its source, "" for the default
		get     func(testConfig) any
		want    any
	}{
		{"double underscore", []string{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=true"}, config.Options{},
			"authority.allowAnonymousFallback", "STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK",
			func(c testConfig) any { return c.Authority.AllowAnonymousFallback }, true},
		{".NET style", []string{"StellaOps__Authority__Url=https://a"}, config.Options{},
			"authority.url", "StellaOps__Authority__Url", func(c testConfig) any { return c.Authority.URL }, "https://a"},
		{".NET colon", []string{"StellaOps:Authority:Resilience:EnableRetries=false"}, config.Options{},
			"authority.resilience.enableRetries", "StellaOps:Authority:Resilience:EnableRetries",
			func(c testConfig) any { return c.Authority.Resilience.EnableRetries }, false},
		{"lower case", []string{"stellaops_authority__clientid=cli"}, config.Options{},
			"authority.clientId", "stellaops_authority__clientid", func(c testConfig) any { return c.Authority.ClientID }, "cli"},
		{"underscores inside a name", []string{"STELLAOPS_BACKEND_URL=https://b"}, config.Options{},
			"backendUrl", "STELLAOPS_BACKEND_URL", func(c testConfig) any { return c.BackendURL }, "https://b"},
		{"underscores inside a nested name", []string{"STELLAOPS_AUTHORITY__RESILIENCE__OFFLINE_CACHE_TOLERANCE=00:00:30"}, config.Options{},
			"authority.resilience.offlineCacheTolerance", "STELLAOPS_AUTHORITY__RESILIENCE__OFFLINE_CACHE_TOLERANCE",
			func(c testConfig) any { return c.Authority.Resilience.OfflineCacheTolerance.String() }, "30s"},
		{"embedded field", []string{"STELLAOPS_REGION=ap"}, config.Options{},
			"region", "STELLAOPS_REGION", func(c testConfig) any { return c.Region }, "ap"},
		{"pointer section", []string{"STELLAOPS_TLS__CERTFILE=/c.pem"}, config.Options{},
			"tls.certFile", "STELLAOPS_TLS__CERTFILE", func(c testConfig) any { return *c.TLS }, tlsConfig{CertFile: "/c.pem"}},
		{"alias", []string{"STELLAOPS_AUTHORITY_ENABLE_RETRIES=false"},
			config.Options{Aliases: map[string]string{"STELLAOPS_AUTHORITY_ENABLE_RETRIES": "authority.resilience.enableRetries"}},
			"authority.resilience.enableRetries", "STELLAOPS_AUTHORITY_ENABLE_RETRIES",
			func(c testConfig) any { return c.Authority.Resilience.EnableRetries }, false},
		{"alias outside the prefix", []string{"API_KEY=k"}, config.Options{Aliases: map[string]string{"API_KEY": "authority.clientId"}},
			"authority.clientId", "API_KEY", func(c testConfig) any { return c.Authority.ClientID }, "k"},
		{"unknown variables skipped", []string{"STELLAOPS_STORAGE__DSN=postgres://x", "STELLAOPS_BACKEND_URL=https://b"}, config.Options{SkipUnknownEnv: true},
			"backendUrl", "STELLAOPS_BACKEND_URL", func(c testConfig) any { return c.BackendURL }, "https://b"},
		{"other variables ignored", []string{"PATH=/bin", "STELLAOPSX_PORT=1", "STELLAOPS=1", "=C:=C:\\", "HOME"}, config.Options{},
			"port", "", func(c testConfig) any { return c.Port }, uint16(0)},
		{"IgnoreEnv", []string{"STELLAOPS_DATA=/d", "STELLAOPS_SIGNING_KEY=k", "STELLAOPS_PORT=9"},
			config.Options{IgnoreEnv: []string{"stellaops_data", "STELLAOPS_SIGNING_*"}},
			"port", "STELLAOPS_PORT", func(c testConfig) any { return c.Port }, uint16(9)},
		{"own prefix", []string{"ACME__PORT=7", "STELLAOPS_NOT_OURS=1"}, config.Options{Prefix: "ACME_"},
			"port", "ACME__PORT", func(c testConfig) any { return c.Port }, uint16(7)},
		{"two spellings, one value", []string{"STELLAOPS_PORT=7", "StellaOps__Port=7"}, config.Options{},
			"port", "STELLAOPS_PORT", func(c testConfig) any { return c.Port }, uint16(7)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Environ = tc.environ
			cfg, src := mustLoad(t, o)
			if got := tc.get(cfg); got != tc.want {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
			want := config.Source{Kind: config.FromDefault}
			if tc.source != "" {
				want = config.Source{Kind: config.FromEnv, Name: tc.source}
			}
			if got := src.ByKey[tc.key]; got != want {
				t.Errorf("source of %s = %v, want %v", tc.key, got, want)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		is      error
		want    string
	}{
		{"bad bool names the variable", []string{"STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK=maybe"}, config.ErrInvalidValue,
			`config: env STELLAOPS_AUTHORITY__ALLOWANONYMOUSFALLBACK: authority.allowAnonymousFallback: invalid value "maybe": want true or false`},
		{"section", []string{"STELLAOPS_AUTHORITY=x"}, nil,
			"config: env STELLAOPS_AUTHORITY: authority is a section; set its keys, such as STELLAOPS_AUTHORITY__URL"},
		{"below a leaf", []string{"STELLAOPS_PORT__X=1"}, config.ErrUnknownKey, `config: env STELLAOPS_PORT__X: unknown key "port.X"`},
		{"two spellings, two values", []string{"STELLAOPS_PORT=7", "StellaOps__Port=8"}, nil,
			"config: STELLAOPS_PORT and StellaOps__Port both set port, to different values"},
		{"bad JSON for a list of objects", []string{"STELLAOPS_REGISTRIES=host=a"}, config.ErrInvalidValue,
			"config: env STELLAOPS_REGISTRIES: registries: invalid value: want JSON: line 1: invalid character 'h'"},
		{"secret not echoed", []string{"STELLAOPS_SEED=hunter2"}, config.ErrInvalidValue,
			"config: env STELLAOPS_SEED: seed: invalid value (secret, not shown): want a non-negative integer that fits in 64 bits"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, config.Options{Environ: tc.environ})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got  %q\nwant %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Error("the error shows a secret")
			}
		})
	}
}
