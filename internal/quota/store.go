package quota

import (
	"context"
	"time"
)

// Store holds the counters. Implementations must be safe for concurrent use and every method
// must be atomic on the backend, because several replicas may count the same key at once.
type Store interface {
	// Incr adds one to key unless max > 0 and the counter already reached max. It returns the
	// counter after the call and whether it was incremented. A counter created by Incr expires
	// ttl after its creation; the limiter puts the period (day, second) into the key, so the
	// TTL only reclaims space and never decides a reset.
	Incr(ctx context.Context, key string, ttl time.Duration, max int64) (n int64, incremented bool, err error)
	// Get returns the counter of key, 0 if it does not exist or has expired.
	Get(ctx context.Context, key string) (int64, error)
}
