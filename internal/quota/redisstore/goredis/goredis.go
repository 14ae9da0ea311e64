// Package goredis adapts a go-redis client to redisstore.Evaler. It is kept apart from
// redisstore so that the store itself has no third-party dependency.
package goredis

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/stellaops/stellaops/internal/quota/redisstore"
)

// Evaler runs scripts through a go-redis client (single node, cluster or sentinel).
type Evaler struct{ C redis.Scripter }

var _ redisstore.Evaler = Evaler{}

// Eval implements redisstore.Evaler.
func (e Evaler) Eval(ctx context.Context, script string, keys []string, args ...any) (any, error) {
	return e.C.Eval(ctx, script, keys, args...).Result()
}
