// Package servertest runs a real StellaOps server on a loopback port for the tests of other
// packages (the CLIs drive it through pkg/client, as users do).
package servertest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/bundled"
	"github.com/stellaops/stellaops/internal/concelier/jobs"
	"github.com/stellaops/stellaops/internal/concelier/store"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/server"
)

// BootstrapKey is the admin key of Config.
const BootstrapKey = "servertest-bootstrap-key-0123456789"

// Config is the server's defaults with BootstrapKey and a short shutdown.
func Config() server.Config {
	cfg := server.Defaults()
	cfg.Authority.BootstrapKey = BootstrapKey
	cfg.Server.ShutdownTimeout = 5 * time.Second
	return cfg
}

// Running is a server answering on URL until the test ends.
type Running struct {
	Srv  *server.Server
	URL  string
	stop context.CancelFunc
	done chan error
}

// Start runs cfg on a loopback port until tb ends. o.DataDir defaults to a new temporary
// directory; o.Logger to a discarding one.
func Start(tb testing.TB, cfg server.Config, o server.Options) *Running {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	if cfg.Authority.Issuer == "" {
		cfg.Authority.Issuer = url
	}
	if o.DataDir == "" {
		o.DataDir = tb.TempDir()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := server.New(context.Background(), cfg, o)
	if err != nil {
		ln.Close()
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{Srv: srv, URL: url, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- srv.Serve(ctx, ln) }()
	tb.Cleanup(func() {
		r.Stop(tb)
		srv.Close()
	})
	return r
}

// Stop shuts the server down (once), as a SIGTERM would; later requests fail to connect.
func (r *Running) Stop(tb testing.TB) {
	if r.stop == nil {
		return
	}
	// An idle pooled connection the server has never seen a request on would hold the
	// drain for 5 s; close the pool first.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	r.stop()
	r.stop = nil
	if err := <-r.done; err != nil {
		tb.Errorf("serve: %v", err)
	}
}

// bundledSnapshot is the bundled advisory snapshot (what `serve --dev` seeds), built once per
// machine into the temporary directory under a name that changes with the bundled data and
// the snapshot format, as a build cache is: later test binaries reuse it.
var bundledSnapshot = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("stellaops-test-bundled-snapshot-f%d-%d", snapshot.FormatVersion, bundled.CollectedAt.Unix()))
	open := func() (string, error) {
		if _, err := os.Stat(filepath.Join(dir, "current")); err != nil {
			return "", err
		}
		st, err := snapshot.OpenStore(dir)
		if err != nil {
			return "", err
		}
		p, err := st.CurrentPath()
		if err != nil {
			return "", err
		}
		s, err := snapshot.Open(p)
		if err != nil {
			return "", err
		}
		return p, s.Close()
	}
	if p, err := open(); err == nil {
		return p, nil
	}
	// Built aside and renamed into place, so a concurrent binary never sees half of it.
	tmp, err := os.MkdirTemp(os.TempDir(), "stellaops-test-bundled-snapshot-*")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	st, err := snapshot.OpenStore(tmp)
	if err != nil {
		return "", err
	}
	s, _, err := scan.EnsureSnapshot(context.Background(), st)
	if err != nil {
		return "", err
	}
	s.Close()
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return "", err
	}
	p, err := open()
	if err != nil {
		return "", fmt.Errorf("bundled snapshot in %s: %w", dir, err)
	}
	return p, nil
})

// OSVMirror lays out a Concelier mirror root holding osv/<ecosystem>/all.zip for each of
// ecosystems, copies of the real bundled OSV archives: the osv source then runs offline
// (concelier.mirrorRoot, concelier.sources.osv.mirror = <root>/osv).
func OSVMirror(tb testing.TB, ecosystems ...string) string {
	tb.Helper()
	root := tb.TempDir()
	for _, eco := range ecosystems {
		b, err := fs.ReadFile(bundled.OSV(), eco+"/all.zip")
		if err != nil {
			tb.Fatal(err)
		}
		dir := filepath.Join(root, "osv", eco)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "all.zip"), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

// BundledSnapshot is the path of the bundled snapshot's database file (built once).
func BundledSnapshot() (string, error) { return bundledSnapshot() }

// SnapshotDataDir is a new data directory whose snapshot store holds the bundled snapshot
// (hard-linked, 70 MB, built once), so scans need not build it.
func SnapshotDataDir(tb testing.TB) string {
	tb.Helper()
	src, err := bundledSnapshot()
	if err != nil {
		tb.Fatal(err)
	}
	data := tb.TempDir()
	dir := filepath.Join(data, "snapshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(src))
	if err := os.Link(src, dst); err != nil {
		b, rerr := os.ReadFile(src)
		if rerr != nil {
			tb.Fatal(rerr)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "current"), []byte(strings.TrimSuffix(filepath.Base(src), ".db")+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	return data
}

// EcosystemDataDir is a new data directory whose current snapshot holds only the bundled OSV
// advisories of ecosystem ("Go"), captured at a fixed time: a site whose feeds differ from what
// a fresh install ships with. It returns the directory and the snapshot's digest.
func EcosystemDataDir(tb testing.TB, ecosystem string) (string, string) {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	res, err := advisory.LoadOSVFS(ctx, "osv:"+ecosystem, bundled.OSV(), ecosystem+"/all.zip")
	if err != nil {
		tb.Fatal(err)
	}
	st, err := snapshot.OpenStore(filepath.Join(dir, "snapshots"))
	if err != nil {
		tb.Fatal(err)
	}
	meta, err := st.Publish(ctx, res.Advisories, []snapshot.SourceInfo{{Name: "osv:" + ecosystem, Documents: res.Documents, Advisories: len(res.Advisories)}},
		time.Date(2026, 11, 21, 4, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	return dir, meta.Digest
}

// HoldJobLease starts a run of kind on st, as `stellaops concelier run` would, and holds its
// lease until release is called; release returns the run's error. It returns once the run is
// recorded, with its record.
func HoldJobLease(tb testing.TB, st store.Store, kind string) (holding store.Job, release func() error) {
	tb.Helper()
	ctx := context.Background()
	started, stop, done := make(chan store.Job, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := jobs.New(st, "cli-host:4242").Run(ctx, kind, "cli:ops", nil, func(context.Context) (any, error) {
			running, _ := st.ListJobs(ctx, kind, 1)
			started <- running[0]
			<-stop
			return nil, nil
		})
		done <- err
	}()
	return <-started, func() error { close(stop); return <-done }
}
