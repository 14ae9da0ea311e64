package authority

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifyCache remembers tokens whose signature verified, keyed by the token's SHA-256, so that
// a client calling many times with one token pays for one ECDSA verification (≈200 µs here,
// two thirds of an authenticated request) instead of one per call. Everything that can change
// is still checked on a hit: expiry against the clock, the signing key against the current
// key set, revocation against the store.
type verifyCache struct {
	mu  sync.Mutex
	m   map[[32]byte]cachedClaims
	max int
	ttl time.Duration
}

type cachedClaims struct {
	c     Claims
	until time.Time
}

func newVerifyCache(max int, ttl time.Duration) *verifyCache {
	return &verifyCache{m: make(map[[32]byte]cachedClaims, 64), max: max, ttl: ttl}
}

func (v *verifyCache) get(key [32]byte, now time.Time) (Claims, bool) {
	v.mu.Lock()
	e, ok := v.m[key]
	v.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return Claims{}, false
	}
	return e.c, true
}

func (v *verifyCache) put(key [32]byte, c Claims, now time.Time) {
	until := now.Add(v.ttl)
	v.mu.Lock()
	defer v.mu.Unlock()
	// Full: drop arbitrary entries (map order is random) rather than keep an LRU list; a miss
	// costs only one verification.
	for k := range v.m {
		if len(v.m) < v.max {
			break
		}
		delete(v.m, k)
	}
	v.m[key] = cachedClaims{c: c, until: until}
}

func tokenKey(raw string) [32]byte { return sha256.Sum256([]byte(raw)) }
