// Package redisstore is the Redis quota.Store of scale mode: every replica points at the same
// Redis, so counts are shared. Each operation is one Lua script, which Redis runs atomically,
// so concurrent replicas never lose an update and the cap check cannot race the increment.
//
// The store itself depends on no Redis client: it talks to Redis through Evaler, so tests and
// other clients can drive it too. Subpackage goredis adapts a go-redis client.
package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/stellaops/stellaops/internal/quota"
)

// Namespace prefixes every key this package writes.
const Namespace = "stellaops:quota:"

// Evaler runs a Lua script (EVAL script numkeys keys... args...) and returns the decoded reply:
// int64 for integers, string for bulk strings, []any for arrays, nil for a nil reply, and a
// non-nil error for error replies.
type Evaler interface {
	Eval(ctx context.Context, script string, keys []string, args ...any) (any, error)
}

var _ quota.Store = (*Store)(nil)

// Store is a quota.Store on Redis. It is safe for concurrent use if its Evaler is.
type Store struct {
	c      Evaler
	prefix string
}

// New returns a store on c. sub, if not empty, is inserted after Namespace (a tenant, or a
// per-test prefix) so that several users of one Redis do not share counters.
func New(c Evaler, sub string) *Store {
	p := Namespace
	if sub != "" {
		p += sub + ":"
	}
	return &Store{c: c, prefix: p}
}

// Prefix is the prefix of every key of s, for cleanup and inspection.
func (s *Store) Prefix() string { return s.prefix }

// incrScript increments KEYS[1] unless ARGV[2] > 0 and the counter reached it; the TTL is set
// when the key has none (its creation), so later increments do not extend a day key.
const incrScript = `
local max = tonumber(ARGV[2])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if max > 0 and n >= max then return {n, 0} end
n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, 1}`

const getScript = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
return tonumber(v)`

// Incr implements quota.Store. The TTL is relative and runs on Redis' clock; the limiter
// already put the day or second into key, so Redis' clock never decides a reset.
func (s *Store) Incr(ctx context.Context, key string, ttl time.Duration, max int64) (int64, bool, error) {
	ms := max64(ttl.Milliseconds(), 1)
	r, err := s.c.Eval(ctx, incrScript, []string{s.prefix + key}, ms, max)
	if err != nil {
		return 0, false, fmt.Errorf("redisstore: incr %s: %w", key, err)
	}
	arr, ok := r.([]any)
	if !ok || len(arr) != 2 {
		return 0, false, fmt.Errorf("redisstore: incr %s: unexpected reply %T", key, r)
	}
	n, ok1 := arr[0].(int64)
	flag, ok2 := arr[1].(int64)
	if !ok1 || !ok2 {
		return 0, false, fmt.Errorf("redisstore: incr %s: unexpected reply %v", key, arr)
	}
	return n, flag == 1, nil
}

// Get implements quota.Store.
func (s *Store) Get(ctx context.Context, key string) (int64, error) {
	r, err := s.c.Eval(ctx, getScript, []string{s.prefix + key})
	if err != nil {
		return 0, fmt.Errorf("redisstore: get %s: %w", key, err)
	}
	n, ok := r.(int64)
	if !ok {
		return 0, fmt.Errorf("redisstore: get %s: unexpected reply %T", key, r)
	}
	return n, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
