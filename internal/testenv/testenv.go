// Package testenv gives tests the backing services of scale mode: a PostgreSQL schema of
// their own, the Redis address and the removal of their Redis keys. Locally a missing
// service skips the test; in CI (CI=true) it fails it, because the backend suites must run
// there.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Environment variables naming the services.
const (
	PostgresEnv = "STELLAOPS_TEST_POSTGRES_DSN"
	RedisEnv    = "STELLAOPS_TEST_REDIS_ADDR"
)

func require(tb testing.TB, env, example string) string {
	tb.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("%s is not set: this backend suite must run in CI", env)
		}
		tb.Skipf("%s not set (e.g. %s)", env, example)
	}
	return v
}

// PostgresSchemaDSN creates a schema for one test, dropped when the test ends, and returns a
// DSN that puts it on every pooled connection's search_path, so parallel test packages and
// other components' tables never meet.
func PostgresSchemaDSN(tb testing.TB, prefix string) string {
	tb.Helper()
	dsn := require(tb, PostgresEnv, "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	schema := prefix + "_" + RandomHex(8)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Error(err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// RedisAddr returns the test Redis address.
func RedisAddr(tb testing.TB) string {
	tb.Helper()
	return require(tb, RedisEnv, "127.0.0.1:6379")
}

// RedisClient returns a new client, with a pool of its own, for the Redis at addr; it is
// closed when the test ends.
func RedisClient(tb testing.TB, addr string) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { c.Close() })
	return c
}

// DeleteRedisKeysAtCleanup deletes, when the test ends, every key on the Redis at addr that
// matches pattern (a SCAN MATCH glob), so a test's keys do not pile up between runs.
func DeleteRedisKeysAtCleanup(tb testing.TB, addr, pattern string) {
	tb.Helper()
	tb.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, pattern, 100).Iterator()
		for iter.Next(ctx) {
			if err := c.Del(ctx, iter.Val()).Err(); err != nil {
				tb.Errorf("cleanup %s: %v", pattern, err)
				return
			}
		}
		if err := iter.Err(); err != nil {
			tb.Errorf("cleanup %s: %v", pattern, err)
		}
	})
}

// RandomHex returns n random bytes in hex, for names that must not collide between runs.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
