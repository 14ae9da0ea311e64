package server_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/testenv"
)

// topology is how a suite deploys the server. The area walk-throughs run on each, so the same
// assertions hold for `serve --dev` and for the documented production shape.
type topology string

const (
	// embedded is one process with every role: SQLite in the data directory, the in-process
	// queue, in-memory counters.
	embedded topology = "embedded"
	// scale is two API replicas and two worker replicas (worker and Concelier roles) sharing
	// one PostgreSQL schema, one Redis and one key directory, each with its own data directory.
	scale topology = "scale"
)

// forTopologies runs fn once per topology, as subtests.
func forTopologies(t *testing.T, fn func(t *testing.T, topo topology)) {
	for _, topo := range []topology{embedded, scale} {
		t.Run(string(topo), func(t *testing.T) { fn(t, topo) })
	}
}

// deployment is a running topology: the replicas clients talk to, and the processes that run
// the workers (the same single server when embedded).
type deployment struct {
	topo    topology
	apis    []*running
	workers []*running
	// dsn, redisAddr and redisPrefix are the shared backends of a scale deployment.
	dsn, redisAddr, redisPrefix string
	// dataDirs are the replicas' data directories: apis first, then workers (one when embedded).
	dataDirs []string
	// shared is the directory every replica sees (storage.sharedDirectory in scale, the one
	// data directory when embedded): advisory snapshots and exports.
	shared string
}

// api returns API replica i, wrapping around: callers spread requests with api(0), api(1)…
func (d *deployment) api(i int) *running { return d.apis[i%len(d.apis)] }

// deploy starts cfg in topology topo. o is every replica's options, with DataDir from
// dataDir (t.TempDir when nil) so each replica has its own.
func deploy(t *testing.T, topo topology, cfg server.Config, o server.Options, dataDir func(testing.TB) string) *deployment {
	t.Helper()
	if dataDir == nil {
		dataDir = func(tb testing.TB) string { return tb.TempDir() }
	}
	d := &deployment{topo: topo}
	replica := func(roles ...string) *running {
		c := cfg
		// Validate normalises Roles in place: each replica has its own slice, as separate
		// processes would.
		c.Server.Roles = roles
		ro := o
		ro.DataDir = dataDir(t)
		d.dataDirs = append(d.dataDirs, ro.DataDir)
		return start(t, c, ro)
	}
	if topo == embedded {
		r := replica("all")
		d.apis, d.workers, d.shared = []*running{r}, []*running{r}, d.dataDirs[0]
		return d
	}
	d.dsn = testenv.PostgresSchemaDSN(t, "server_deploy")
	addr := testenv.RedisAddr(t)
	prefix := "test-" + testenv.RandomHex(6)
	d.redisAddr, d.redisPrefix = addr, prefix
	for _, pattern := range []string{"stellaops:quota:" + prefix + ":*", "{stellaops:queue:*" + prefix + "}:*", "{stellaops:runtime:" + prefix + "}:*"} {
		testenv.DeleteRedisKeysAtCleanup(t, addr, pattern)
	}
	cfg.Storage = server.StorageConfig{Driver: "postgres", DSN: d.dsn}
	cfg.Redis = server.RedisConfig{Addr: addr, Prefix: prefix}
	// Tokens and signatures must verify on every replica: one issuer, shared key directories.
	if cfg.Authority.Issuer == "" {
		cfg.Authority.Issuer = "https://stellaops.test"
	}
	if cfg.Authority.KeyDirectory == "" {
		cfg.Authority.KeyDirectory = t.TempDir()
	}
	if cfg.Signing.Key == "" && cfg.Signing.KeyFile == "" && cfg.Signing.KeyDirectory == "" {
		cfg.Signing.KeyDirectory = t.TempDir()
	}
	// The shared volume, made as a data directory is (with the bundled snapshot where the
	// caller's data directories have it).
	if cfg.Storage.SharedDirectory == "" {
		cfg.Storage.SharedDirectory = dataDir(t)
	}
	d.shared = cfg.Storage.SharedDirectory
	for range 2 {
		d.apis = append(d.apis, replica("api"))
	}
	for range 2 {
		d.workers = append(d.workers, replica("worker", "concelier"))
	}
	return d
}
