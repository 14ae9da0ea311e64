package quota

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults from the free-tier design (product background §3.10) and the API spec §5.
const (
	DefaultTokenDailyLimit     = 333
	DefaultAnonymousDailyLimit = 33
	DefaultSoftDelay           = 5 * time.Second
	DefaultSoftDelayScans      = 30
	DefaultHardDelay           = 60 * time.Second
	DefaultRatePerSecond       = 40
)

// Config tunes a Limiter. Zero values take the defaults above.
type Config struct {
	// TokenDailyLimit applies to tokens whose maxScansPerDay claim is missing or zero.
	TokenDailyLimit int
	// AnonymousDailyLimit applies per client IP to unauthenticated scans.
	AnonymousDailyLimit int
	// HardLimit is the number of scans per day after which scans are refused with 429; 0
	// means never refuse (the free tier only delays).
	HardLimit int
	// SoftDelay is the wait of each of the first SoftDelayScans scans over the quota;
	// HardDelay is the wait of every scan after those.
	SoftDelay      time.Duration
	SoftDelayScans int
	HardDelay      time.Duration
	// RatePerSecond is the per-token request rate; negative disables the rate limit.
	RatePerSecond int
	// Salt is mixed into the hash of token ids and IPs so that keys in a shared Redis cannot
	// be reversed by hashing the IPv4 space.
	Salt string
	// Now is the clock; nil means time.Now. Tests inject a fake one.
	Now func() time.Time
	// Logger receives quota hits; nil means slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.TokenDailyLimit < 0 || c.AnonymousDailyLimit < 0 || c.HardLimit < 0 || c.SoftDelayScans < 0 {
		return c, errors.New("quota: limits must not be negative")
	}
	if c.SoftDelay < 0 || c.HardDelay < 0 {
		return c, errors.New("quota: delays must not be negative")
	}
	if c.TokenDailyLimit == 0 {
		c.TokenDailyLimit = DefaultTokenDailyLimit
	}
	if c.AnonymousDailyLimit == 0 {
		c.AnonymousDailyLimit = DefaultAnonymousDailyLimit
	}
	if c.SoftDelay == 0 {
		c.SoftDelay = DefaultSoftDelay
	}
	if c.SoftDelayScans == 0 {
		c.SoftDelayScans = DefaultSoftDelayScans
	}
	if c.HardDelay == 0 {
		c.HardDelay = DefaultHardDelay
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
