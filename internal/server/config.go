package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
)

// Config is the server's configuration, loaded by internal/config (environment >
// appsettings.json > appsettings.local.json > appsettings.yaml > appsettings.local.yaml >
// these defaults). Keys are the json tags, e.g. STELLAOPS_AUTHORITY__ISSUER or
// {"authority": {"issuer": …}}.
type Config struct {
	Server    ServerConfig    `json:"server"`
	Storage   StorageConfig   `json:"storage"`
	Redis     RedisConfig     `json:"redis"`
	Authority AuthorityConfig `json:"authority"`
	Quota     QuotaConfig     `json:"quota"`
	// The product areas; each type lives in the area's mount_<area>.go.
	Scanner   ScannerConfig   `json:"scanner"`
	Policy    PolicyConfig    `json:"policy"`
	Runtime   RuntimeConfig   `json:"runtime"`
	Signing   SigningConfig   `json:"signing"`
	Concelier ConcelierConfig `json:"concelier"`
	// OfflineKit is the Offline Update Kit area's (mount_offlinekit.go).
	OfflineKit OfflineKitConfig `json:"offlineKit"`
}

// ScannerConfig is Scanner.WebService's and the worker's: the feature switches here, the scan
// settings in ScanConfig (mount_scans.go).
type ScannerConfig struct {
	Features ScannerFeatures `json:"features"`
	ScanConfig
}

// ScannerFeatures are the spec's feature flags.
type ScannerFeatures struct {
	// EnablePolicyPreview serves POST /api/v1/policy/preview (spec §2.3).
	EnablePolicyPreview bool `json:"enablePolicyPreview"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Listen string `json:"listen"`
	// Roles: api, worker, concelier, or all.
	Roles []string `json:"roles"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout time.Duration `json:"shutdownTimeout"`
	// TrustForwardedFor takes the client IP from X-Forwarded-For (behind a proxy).
	TrustForwardedFor bool `json:"trustForwardedFor"`
}

// StorageConfig selects the persistence backend.
type StorageConfig struct {
	// Driver is "sqlite" (the embedded default, a file in the data directory) or "postgres".
	Driver string `json:"driver"`
	// DSN is the PostgreSQL connection URL.
	DSN string `json:"dsn" secret:"true"`
	// SharedDirectory holds what replicas must see alike and no database holds: the advisory
	// snapshots scans match against (written by Concelier merges) and the exports (whose
	// delta runs start from the last full one). Replicas mount it from one shared volume.
	// Empty means the data directory.
	SharedDirectory string `json:"sharedDirectory"`
}

// RedisConfig selects Redis for counters (quota, rate limit); empty Addr keeps them in memory.
type RedisConfig struct {
	Addr     string `json:"addr"`
	Password string `json:"password" secret:"true"`
	DB       int    `json:"db"`
	// Prefix separates several installations sharing one Redis.
	Prefix string `json:"prefix"`
}

// AuthorityConfig is the token service.
type AuthorityConfig struct {
	// Issuer is the iss of tokens and the discovery base URL; replicas must agree on it.
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
	// AccessTokenLifetime is expires_in (default 1h).
	AccessTokenLifetime time.Duration `json:"accessTokenLifetime"`
	// OfflineMaxDays caps offline tokens (default 90).
	OfflineMaxDays int `json:"offlineMaxDays"`
	// SigningAlgorithm of a key generated on first start: ES256 (default) or EdDSA.
	SigningAlgorithm string `json:"signingAlgorithm"`
	// KeyDirectory holds signing keys (default <data>/keys); replicas must share it.
	KeyDirectory string `json:"keyDirectory"`
	// BootstrapKey guards /internal/*; empty disables the admin API.
	BootstrapKey string `json:"bootstrapKey" secret:"true"`
	// AllowAnonymousFallback serves scans without a token, under the per-IP quota.
	AllowAnonymousFallback bool                     `json:"allowAnonymousFallback"`
	PasswordPolicy         authority.PasswordPolicy `json:"passwordPolicy"`
}

// QuotaConfig is the daily scan quota and the rate limit.
type QuotaConfig struct {
	TokenDailyLimit     int `json:"tokenDailyLimit"`
	AnonymousDailyLimit int `json:"anonymousDailyLimit"`
	// HardLimit refuses scans beyond this many per day with 429 (0: only delay).
	HardLimit int `json:"hardLimit"`
	// RatePerSecond per token (default 40; negative disables).
	RatePerSecond int `json:"ratePerSecond"`
	// Salt is mixed into counter keys; replicas must agree on it.
	Salt string `json:"salt" secret:"true"`
}

// Defaults returns the configuration before any file or environment variable.
func Defaults() Config {
	c := Config{
		Server:  ServerConfig{Listen: ":8080", Roles: []string{"all"}, ShutdownTimeout: 20 * time.Second},
		Storage: StorageConfig{Driver: "sqlite"},
		Authority: AuthorityConfig{
			Audience: "stellaops", AccessTokenLifetime: time.Hour, OfflineMaxDays: 90, SigningAlgorithm: authority.AlgES256,
			PasswordPolicy: authority.BaselinePasswordPolicy,
		},
		Quota: QuotaConfig{TokenDailyLimit: 333, AnonymousDailyLimit: 33, RatePerSecond: 40},
	}
	c.Scanner.Features.EnablePolicyPreview = true
	c.Scanner.ScanConfig.defaults()
	c.Policy.defaults()
	c.Runtime.defaults()
	c.Signing.defaults()
	c.OfflineKit.defaults()
	c.Concelier.defaults()
	return c
}

// Roles the binary can take.
var knownRoles = []string{"all", "api", "concelier", "worker"}

// Validate checks the configuration and normalises roles.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Server.Roles) == 0 {
		c.Server.Roles = []string{"all"}
	}
	// Normalised in a copy: copies of one Config (replicas in tests) share the slice.
	c.Server.Roles = slices.Clone(c.Server.Roles)
	for i, r := range c.Server.Roles {
		r = strings.ToLower(strings.TrimSpace(r))
		c.Server.Roles[i] = r
		if !slices.Contains(knownRoles, r) {
			errs = append(errs, fmt.Errorf("server.roles: unknown role %q (api, worker, concelier, all)", r))
		}
	}
	switch c.Storage.Driver {
	case "sqlite":
	case "postgres":
		if c.Storage.DSN == "" {
			errs = append(errs, errors.New("storage.dsn is required with storage.driver postgres"))
		}
	default:
		errs = append(errs, fmt.Errorf("storage.driver %q: sqlite or postgres", c.Storage.Driver))
	}
	switch c.Authority.SigningAlgorithm {
	case authority.AlgES256, authority.AlgEdDSA:
	default:
		errs = append(errs, fmt.Errorf("authority.signingAlgorithm %q: ES256 or EdDSA", c.Authority.SigningAlgorithm))
	}
	if c.Authority.OfflineMaxDays < 1 || c.Authority.OfflineMaxDays > 3650 {
		errs = append(errs, errors.New("authority.offlineMaxDays must be between 1 and 3650"))
	}
	if c.Authority.AccessTokenLifetime < time.Minute || c.Authority.AccessTokenLifetime > 24*time.Hour {
		errs = append(errs, errors.New("authority.accessTokenLifetime must be between 1m and 24h"))
	}
	if c.Quota.TokenDailyLimit < 0 || c.Quota.AnonymousDailyLimit < 0 || c.Quota.HardLimit < 0 {
		errs = append(errs, errors.New("quota limits must not be negative"))
	}
	errs = append(errs, c.Scanner.ScanConfig.validate(), c.Policy.validate(), c.Runtime.validate(), c.Signing.validate(), c.Concelier.validate(), c.OfflineKit.validate())
	return errors.Join(errs...)
}

// sharedDir is storage.sharedDirectory, relative to the data directory unless absolute; the
// data directory itself when unset.
func (c *Config) sharedDir(dataDir string) string {
	d := c.Storage.SharedDirectory
	if d == "" {
		return dataDir
	}
	if !filepath.IsAbs(d) {
		return filepath.Join(dataDir, d)
	}
	return d
}

// HasRole reports whether the configuration runs role (or all).
func (c *Config) HasRole(role string) bool {
	return slices.Contains(c.Server.Roles, "all") || slices.Contains(c.Server.Roles, role)
}
