// Package clientcfg is the configuration the client tools share (stella, stellaops-cli,
// stellopsctl): the spec §3 template ("StellaOps": ApiKey, BackendUrl, Authority…), loaded
// with the one configuration loader, and the authenticated pkg/client built from it, with the
// Authority token cache of `stellaops-cli auth login`.
package clientcfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/config"
	"github.com/stellaops/stellaops/pkg/client"
)

// Config is the spec §3 configuration file template, plus BootstrapKey for the admin tool.
type Config struct {
	// APIKey is a bearer token sent as is (env API_KEY or STELLAOPS_APIKEY).
	APIKey string `json:"apiKey" secret:"true"`
	// BackendURL is the StellaOps server (env STELLAOPS_BACKEND_URL).
	BackendURL string `json:"backendUrl"`
	// BootstrapKey authenticates the admin API (/internal/*): stellopsctl's users and clients
	// (env STELLAOPS_BOOTSTRAP_KEY).
	BootstrapKey                  string        `json:"bootstrapKey" secret:"true"`
	ScannerCacheDirectory         string        `json:"scannerCacheDirectory"`
	ResultsDirectory              string        `json:"resultsDirectory"`
	DefaultRunner                 string        `json:"defaultRunner"`
	ScannerSignaturePublicKeyPath string        `json:"scannerSignaturePublicKeyPath"`
	ScannerDownloadAttempts       int           `json:"scannerDownloadAttempts"`
	Offline                       OfflineConfig `json:"offline"`
	Authority                     Authority     `json:"authority"`
}

// OfflineConfig is where offline kits are kept and fetched from.
type OfflineConfig struct {
	KitsDirectory string `json:"kitsDirectory"`
	KitMirror     string `json:"kitMirror"`
}

// Authority is how the tools get a token: client credentials (ClientID + ClientSecret) or the
// password grant (Username + Password), cached in TokenCacheDirectory.
type Authority struct {
	// URL is the Authority; empty means BackendURL (the server hosts it).
	URL                 string     `json:"url"`
	ClientID            string     `json:"clientId"`
	ClientSecret        string     `json:"clientSecret" secret:"true"`
	Username            string     `json:"username"`
	Password            string     `json:"password" secret:"true"`
	Scope               string     `json:"scope"`
	TokenCacheDirectory string     `json:"tokenCacheDirectory"`
	Resilience          Resilience `json:"resilience"`
}

// Resilience is the spec's Authority client resilience table.
type Resilience struct {
	EnableRetries             bool            `json:"enableRetries"`
	RetryDelays               []time.Duration `json:"retryDelays"`
	AllowOfflineCacheFallback bool            `json:"allowOfflineCacheFallback"`
	OfflineCacheTolerance     time.Duration   `json:"offlineCacheTolerance"`
}

// Client is the pkg/client form.
func (r Resilience) Client() client.Resilience {
	return client.Resilience{EnableRetries: r.EnableRetries, RetryDelays: r.RetryDelays,
		AllowOfflineCacheFallback: r.AllowOfflineCacheFallback, OfflineCacheTolerance: r.OfflineCacheTolerance}
}

// Defaults are the spec's defaults: no key, no backend, cache folders under the working
// directory (scanners, results, offline-kits), tokens under ~/.stellaops/tokens.
func Defaults() Config {
	r := client.DefaultResilience()
	return Config{
		ScannerCacheDirectory:   "scanners",
		ResultsDirectory:        "results",
		DefaultRunner:           "self",
		ScannerDownloadAttempts: 3,
		Offline:                 OfflineConfig{KitsDirectory: "offline-kits"},
		Authority: Authority{Resilience: Resilience{EnableRetries: r.EnableRetries, RetryDelays: r.RetryDelays,
			AllowOfflineCacheFallback: r.AllowOfflineCacheFallback, OfflineCacheTolerance: r.OfflineCacheTolerance}},
	}
}

// aliases are the spec's variables outside the STELLAOPS_SECTION__KEY scheme.
var aliases = map[string]string{
	"API_KEY":                                          "apiKey",
	"STELLA_TOKEN":                                     "apiKey",
	"STELLAOPS_BACKEND_URL":                            "backendUrl",
	"STELLAOPS_BOOTSTRAP_KEY":                          "bootstrapKey",
	"STELLAOPS_AUTHORITY_ENABLE_RETRIES":               "authority.resilience.enableRetries",
	"STELLAOPS_AUTHORITY_RETRY_DELAYS":                 "authority.resilience.retryDelays",
	"STELLAOPS_AUTHORITY_ALLOW_OFFLINE_CACHE_FALLBACK": "authority.resilience.allowOfflineCacheFallback",
	"STELLAOPS_AUTHORITY_OFFLINE_CACHE_TOLERANCE":      "authority.resilience.offlineCacheTolerance",
	"STELLAOPS_OFFLINE_KITS_DIR":                       "offline.kitsDirectory",
	"STELLAOPS_OFFLINE_MIRROR_URL":                     "offline.kitMirror",
}

// Options say where Load looks.
type Options struct {
	// Environ is the environment in os.Environ's form.
	Environ []string
	// Dirs are searched for appsettings files, highest precedence first; nil means the
	// working directory, then the directory of the executable ("beside the binary").
	Dirs []string
}

// Load reads the configuration: environment > appsettings.json > appsettings.local.json >
// appsettings.yaml > appsettings.local.yaml > Defaults. Variables of the server's sections
// are skipped (they share the STELLAOPS_ prefix); unknown keys in files are refused.
func Load(o Options) (Config, config.Sources, error) {
	cfg := Defaults()
	dirs := o.Dirs
	if dirs == nil {
		if wd, err := os.Getwd(); err == nil {
			dirs = append(dirs, wd)
		}
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
	}
	src, err := config.Load(&cfg, config.Options{Dirs: dirs, Environ: o.Environ, Aliases: aliases, SkipUnknownEnv: true})
	if err != nil {
		return Config{}, src, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, src, err
	}
	return cfg, src, nil
}

// Lazy loads a command line's configuration on first use and keeps the outcome, error included,
// for the commands that ask again.
type Lazy struct {
	done bool
	cfg  *Config
	err  error
}

// Load returns the configuration of environ and configDir (see LoadCommandLine), loading it once.
func (l *Lazy) Load(environ []string, configDir string) (*Config, error) {
	if !l.done {
		l.done = true
		cfg, _, err := LoadCommandLine(environ, configDir)
		if err != nil {
			l.err = err
		} else {
			l.cfg = &cfg
		}
	}
	return l.cfg, l.err
}

// LoadCommandLine is Load for a command line: its environment and its --config-dir (empty
// means the default directories). A failure is a usage error (exit code 2).
func LoadCommandLine(environ []string, configDir string) (Config, config.Sources, error) {
	o := Options{Environ: environ}
	if configDir != "" {
		o.Dirs = []string{configDir}
	}
	cfg, src, err := Load(o)
	if err != nil {
		return cfg, src, cli.Usagef("configuration: %v", err)
	}
	return cfg, src, nil
}

// Validate checks the values Load cannot.
func (c *Config) Validate() error {
	var errs []error
	for _, u := range []struct{ key, v string }{{"backendUrl", c.BackendURL}, {"authority.url", c.Authority.URL}, {"offline.kitMirror", c.Offline.KitMirror}} {
		if u.v != "" && !strings.HasPrefix(u.v, "http://") && !strings.HasPrefix(u.v, "https://") {
			errs = append(errs, fmt.Errorf("%s %q: an http:// or https:// URL", u.key, u.v))
		}
	}
	if c.ScannerDownloadAttempts < 1 || c.ScannerDownloadAttempts > 10 {
		errs = append(errs, fmt.Errorf("scannerDownloadAttempts %d: between 1 and 10", c.ScannerDownloadAttempts))
	}
	switch c.DefaultRunner {
	case "self", "docker", "dotnet":
	default:
		errs = append(errs, fmt.Errorf("defaultRunner %q: docker, dotnet or self", c.DefaultRunner))
	}
	if c.Authority.ClientSecret != "" && c.Authority.ClientID == "" {
		errs = append(errs, errors.New("authority.clientSecret is set without authority.clientId"))
	}
	if (c.Authority.Username == "") != (c.Authority.Password == "") {
		errs = append(errs, errors.New("authority.username and authority.password go together"))
	}
	return errors.Join(errs...)
}

// AuthorityURL is the Authority's base URL: Authority.URL, else BackendURL.
func (c *Config) AuthorityURL() string {
	if c.Authority.URL != "" {
		return c.Authority.URL
	}
	return c.BackendURL
}

// TokenCacheDir is Authority.TokenCacheDirectory, else ~/.stellaops/tokens.
func (c *Config) TokenCacheDir() string {
	if c.Authority.TokenCacheDirectory != "" {
		return c.Authority.TokenCacheDirectory
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".stellaops", "tokens")
	}
	return filepath.Join(os.TempDir(), "stellaops-tokens")
}
