package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// Charge asks a token bucket for Cost tokens. The bucket holds at most Burst tokens and gains
// Rate per second.
//
// A charge larger than the burst (a 256-event batch against the default burst of 200) would
// never fit, so a bucket admits a charge once it holds min(Cost, Burst) tokens and then goes
// into debt by the rest: the next charge waits until the debt is paid back. Over any interval
// T a bucket admits at most Burst + Rate·T tokens plus one charge's excess.
type Charge struct {
	Key   string
	Rate  float64
	Burst float64
	Cost  float64
}

// need is what a bucket must hold to admit c.
func (c Charge) need() float64 { return math.Min(c.Cost, c.Burst) }

// Buckets are token buckets. Take is atomic over all its charges: either every bucket admits
// its charge and all are taken, or none is and wait says how long until all would admit
// them, with the index of the charge that waits longest. Implementations are safe for
// concurrent use.
type Buckets interface {
	Take(ctx context.Context, now time.Time, charges []Charge) (wait time.Duration, limiting int, err error)
}

// BucketKey hashes the parts of a bucket's identity (tenant, node) into a fixed-size key, so
// that whatever characters an observer puts in them, keys stay short and opaque.
func BucketKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{':'})
		h.Write([]byte(p))
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// MemoryBuckets keep the buckets of one process (the embedded mode).
type MemoryBuckets struct {
	mu        sync.Mutex
	m         map[string]*bucket
	nextPurge time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
	// full is when the bucket is full again if nothing takes from it; from then on it is
	// the same as no bucket, so purge drops it.
	full time.Time
}

var _ Buckets = (*MemoryBuckets)(nil)

// NewMemoryBuckets returns empty buckets.
func NewMemoryBuckets() *MemoryBuckets { return &MemoryBuckets{m: map[string]*bucket{}} }

// purgeEvery bounds how often full buckets are dropped; the call that finds the interval
// elapsed does it, so there is no goroutine to stop.
const purgeEvery = time.Minute

// Take implements Buckets.
func (b *MemoryBuckets) Take(ctx context.Context, now time.Time, charges []Charge) (time.Duration, int, error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !now.Before(b.nextPurge) {
		for k, v := range b.m {
			if !now.Before(v.full) {
				delete(b.m, k)
			}
		}
		b.nextPurge = now.Add(purgeEvery)
	}
	tokens := make([]float64, len(charges))
	var wait time.Duration
	limiting := -1
	for i, c := range charges {
		tokens[i] = c.Burst
		if v, ok := b.m[c.Key]; ok {
			tokens[i] = v.tokens
			if now.After(v.at) {
				tokens[i] = math.Min(c.Burst, v.tokens+now.Sub(v.at).Seconds()*c.Rate)
			}
		}
		if need := c.need(); tokens[i] < need {
			if w := refill(need-tokens[i], c.Rate); w > wait || limiting < 0 {
				wait, limiting = w, i
			}
		}
	}
	if limiting >= 0 {
		return wait, limiting, nil
	}
	for i, c := range charges {
		left := tokens[i] - c.Cost
		v, ok := b.m[c.Key]
		if !ok {
			v = &bucket{}
			b.m[c.Key] = v
		}
		at := now
		if v.at.After(now) { // another clock ran ahead: never move a bucket back in time
			at = v.at
		}
		v.tokens, v.at, v.full = left, at, at.Add(refill(c.Burst-left, c.Rate))
	}
	return 0, 0, nil
}

// Len returns the number of buckets held, for tests.
func (b *MemoryBuckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// refill is how long rate takes to add tokens, rounded up to the millisecond (less a hair, so
// that float error in a whole number of milliseconds does not add one).
func refill(tokens, rate float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	ms := math.Ceil(tokens/rate*1000 - 1e-6)
	if ms > float64(math.MaxInt64/int64(time.Millisecond)) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// Evaler runs a Lua script on Redis (EVAL script numkeys keys... args...) and returns the
// decoded reply (int64 for integers, []any for arrays). internal/quota/redisstore/goredis's
// Evaler satisfies it.
type Evaler interface {
	Eval(ctx context.Context, script string, keys []string, args ...any) (any, error)
}

// RedisBuckets keep the buckets in Redis, shared by every replica: one Lua script reads,
// checks and charges all the buckets of a batch, and Redis runs it atomically. Time comes from
// the callers' clock (so it can be injected); a replica whose clock runs behind never moves a
// bucket back.
type RedisBuckets struct {
	c      Evaler
	prefix string
}

var _ Buckets = (*RedisBuckets)(nil)

// NewRedisBuckets returns buckets under keys prefix+"<kind>:<hash>".
func NewRedisBuckets(c Evaler, prefix string) *RedisBuckets {
	return &RedisBuckets{c: c, prefix: prefix}
}

// takeScript: KEYS are the buckets (hashes with t = tokens, at = ms); ARGV[1] is now in ms,
// then rate, burst and cost per key. It returns {0, 0} when it charged every bucket, or
// {wait ms, 1-based index of the limiting key} when it charged none. A bucket's key expires
// when it would be full again, which is the same as not existing; the TTL is relative
// (Redis' clock) since the callers' clock may be injected.
const takeScript = `
local now = tonumber(ARGV[1])
local tok, at = {}, {}
local wait, limiting = 0, 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[3*i-1])
  local burst = tonumber(ARGV[3*i])
  local cost = tonumber(ARGV[3*i+1])
  local v = redis.call('HMGET', KEYS[i], 't', 'at')
  local t, a = tonumber(v[1]), tonumber(v[2])
  if t == nil or a == nil then
    t, a = burst, now
  elseif now > a then
    t = math.min(burst, t + (now - a) * rate / 1000)
    a = now
  end
  tok[i], at[i] = t, a
  local need = math.min(cost, burst)
  if t < need then
    local w = math.ceil((need - t) * 1000 / rate - 1e-6)
    if w > wait or limiting == 0 then wait, limiting = w, i end
  end
end
if limiting > 0 then return {wait, limiting} end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[3*i-1])
  local burst = tonumber(ARGV[3*i])
  local left = tok[i] - tonumber(ARGV[3*i+1])
  redis.call('HSET', KEYS[i], 't', string.format('%.6f', left), 'at', string.format('%d', at[i]))
  redis.call('PEXPIRE', KEYS[i], math.ceil((burst - left) * 1000 / rate) + 1000)
end
return {0, 0}`

// Take implements Buckets.
func (b *RedisBuckets) Take(ctx context.Context, now time.Time, charges []Charge) (time.Duration, int, error) {
	if len(charges) == 0 {
		return 0, 0, nil
	}
	keys := make([]string, len(charges))
	args := make([]any, 0, 1+3*len(charges))
	args = append(args, now.UnixMilli())
	for i, c := range charges {
		keys[i] = b.prefix + c.Key
		args = append(args, fmtFloat(c.Rate), fmtFloat(c.Burst), fmtFloat(c.Cost))
	}
	r, err := b.c.Eval(ctx, takeScript, keys, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("runtime: token buckets: %w", err)
	}
	arr, ok := r.([]any)
	if !ok || len(arr) != 2 {
		return 0, 0, fmt.Errorf("runtime: token buckets: unexpected reply %v", r)
	}
	wait, ok1 := arr[0].(int64)
	idx, ok2 := arr[1].(int64)
	if !ok1 || !ok2 || idx < 0 || idx > int64(len(charges)) {
		return 0, 0, fmt.Errorf("runtime: token buckets: unexpected reply %v", arr)
	}
	if idx == 0 {
		return 0, 0, nil
	}
	return time.Duration(wait) * time.Millisecond, int(idx - 1), nil
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
