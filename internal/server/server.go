// Package server assembles a StellaOps process from its configuration: the stores (SQLite or
// PostgreSQL), the counters (memory or Redis), the Authority and the HTTP API, and runs it
// with a graceful shutdown. The embedded (--dev) and scale modes differ only in configuration.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/authority/pgstore"
	"github.com/stellaops/stellaops/internal/authority/sqlitestore"
	"github.com/stellaops/stellaops/internal/queue"
	"github.com/stellaops/stellaops/internal/queue/memqueue"
	"github.com/stellaops/stellaops/internal/queue/redisqueue"
	"github.com/stellaops/stellaops/internal/quota"
	"github.com/stellaops/stellaops/internal/quota/memstore"
	"github.com/stellaops/stellaops/internal/quota/redisstore"
	"github.com/stellaops/stellaops/internal/quota/redisstore/goredis"
)

// Options are the process-level inputs besides Config.
type Options struct {
	// DataDir holds the SQLite files, keys and dev credentials.
	DataDir string
	// Dev creates development credentials on first start and prints them to Stdout.
	Dev bool
	// Stdout receives the one-time dev credentials banner.
	Stdout io.Writer
	Logger *slog.Logger
	Now    func() time.Time
}

// Server is one assembled process.
type Server struct {
	cfg      Config
	opts     Options
	log      *slog.Logger
	API      *api.Server
	Auth     *authority.Service
	Registry *prometheus.Registry
	// Queue is the scan job queue: in-process, or Redis when redis.addr is set.
	Queue queue.Queue
	// DevCredentials is set in dev mode.
	DevCredentials *DevCredentials

	// redis is the shared client in scale mode, nil when embedded.
	redis *redis.Client
	// background are the loops (workers, sweepers) Serve runs until shutdown.
	background []backgroundTask
	// areas are the services product areas offer each other.
	areas areaServices

	closers  []func() error
	draining atomic.Bool
}

// New builds the server. Close releases what it opened.
func New(ctx context.Context, cfg Config, o Options) (s *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.DataDir == "" {
		return nil, errors.New("server: a data directory is required")
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data directory: %w", err)
	}
	s = &Server{cfg: cfg, opts: o, log: o.Logger, Registry: prometheus.NewRegistry()}
	// A failing New returns a nil s, so the cleanup holds its own reference to close what was
	// opened.
	built := s
	defer func() {
		if err != nil {
			built.Close()
		}
	}()

	var dev *DevCredentials
	if o.Dev {
		if dev, err = loadDevCredentials(o.DataDir); err != nil {
			return nil, err
		}
		if cfg.Authority.BootstrapKey == "" {
			cfg.Authority.BootstrapKey = dev.BootstrapKey
		}
	}
	if cfg.Authority.Issuer == "" {
		cfg.Authority.Issuer = issuerFromListen(cfg.Server.Listen)
		if !o.Dev {
			s.log.Warn("authority.issuer is not set; using the listen address, which replicas behind a load balancer will not agree on", "issuer", cfg.Authority.Issuer)
		}
	}

	s.cfg = cfg
	store, err := s.openAuthorityStore(ctx)
	if err != nil {
		return nil, err
	}
	keyDir := cfg.Authority.KeyDirectory
	if keyDir == "" {
		keyDir = filepath.Join(o.DataDir, "keys")
	}
	pol := cfg.Authority.PasswordPolicy
	s.Auth, err = authority.New(store, authority.Config{
		Issuer: cfg.Authority.Issuer, Audience: cfg.Authority.Audience, AccessTokenLifetime: cfg.Authority.AccessTokenLifetime,
		OfflineMaxDays: cfg.Authority.OfflineMaxDays, DefaultMaxScansPerDay: cfg.Quota.TokenDailyLimit, PasswordPolicy: &pol,
		KeyDir: keyDir, Now: o.Now, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	kid, err := s.Auth.EnsureSigningKey(ctx, cfg.Authority.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	s.log.Info("authority ready", "issuer", cfg.Authority.Issuer, "activeKey", kid)

	rc, err := s.openRedis(ctx)
	if err != nil {
		return nil, err
	}
	s.redis = rc
	var qstore quota.Store = memstore.New(o.Now)
	if rc != nil {
		qstore = redisstore.New(goredis.Evaler{C: rc}, cfg.Redis.Prefix)
		s.Queue, err = redisqueue.New(rc, redisqueue.DefaultPrefix+redisPrefix(cfg.Redis.Prefix), queue.Config{})
	} else {
		s.Queue, err = memqueue.New(queue.Config{Now: o.Now})
	}
	if err != nil {
		return nil, fmt.Errorf("server: queue: %w", err)
	}
	s.closers = append(s.closers, s.Queue.Close)
	s.Registry.MustRegister(newQueueCollector(s.Queue))
	limiter, err := quota.New(qstore, quota.Config{
		TokenDailyLimit: cfg.Quota.TokenDailyLimit, AnonymousDailyLimit: cfg.Quota.AnonymousDailyLimit, HardLimit: cfg.Quota.HardLimit,
		RatePerSecond: cfg.Quota.RatePerSecond, Salt: cfg.Quota.Salt, Now: o.Now, Logger: o.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.API, err = api.New(api.Config{
		BootstrapKey: cfg.Authority.BootstrapKey, AllowAnonymousFallback: cfg.Authority.AllowAnonymousFallback,
		TrustForwardedFor: cfg.Server.TrustForwardedFor, Ready: s.ready, Now: o.Now, Logger: o.Logger,
	}, s.Auth, limiter, s.Registry)
	if err != nil {
		return nil, err
	}
	if err := s.mount(ctx); err != nil {
		return nil, err
	}
	if o.Dev {
		if s.DevCredentials, err = s.ensureDevCredentials(ctx, dev); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// issuerFromListen turns ":8080" into http://localhost:8080.
func issuerFromListen(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func (s *Server) openAuthorityStore(ctx context.Context) (authority.Store, error) {
	var st authority.Store
	var err error
	switch s.cfg.Storage.Driver {
	case "postgres":
		st, err = pgstore.Open(ctx, s.cfg.Storage.DSN)
	default:
		st, err = sqlitestore.Open(ctx, filepath.Join(s.opts.DataDir, "authority.db"))
	}
	if err != nil {
		return nil, fmt.Errorf("server: authority store: %w", err)
	}
	s.closers = append(s.closers, st.Close)
	return st, nil
}

// openRedis connects to Redis when one is configured; nil means the embedded mode.
func (s *Server) openRedis(ctx context.Context) (*redis.Client, error) {
	if s.cfg.Redis.Addr == "" {
		return nil, nil
	}
	rc := redis.NewClient(&redis.Options{Addr: s.cfg.Redis.Addr, Password: s.cfg.Redis.Password, DB: s.cfg.Redis.DB})
	s.closers = append(s.closers, rc.Close)
	if err := rc.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("server: redis %s: %w", s.cfg.Redis.Addr, err)
	}
	return rc, nil
}

// redisPrefix separates installations sharing one Redis.
func redisPrefix(p string) string {
	if p == "" {
		return ""
	}
	return ":" + p
}

// ready is /readyz: not while draining, and only when the stores answer.
func (s *Server) ready(ctx context.Context) error {
	if s.draining.Load() {
		return errors.New("shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := s.Auth.Store().IsRevoked(ctx, "readiness-probe"); err != nil {
		return fmt.Errorf("authority store: %w", err)
	}
	if _, err := s.API.Limiter().Peek(ctx, quota.Anonymous("127.0.0.1")); err != nil {
		return fmt.Errorf("counter store: %w", err)
	}
	if _, err := s.Queue.Depth(ctx); err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	return nil
}

// Serve answers on ln until ctx ends, then stops taking connections, reports not-ready and
// drains in-flight requests for up to ShutdownTimeout.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.API.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	bgCtx, stopBackground := context.WithCancel(ctx)
	bgDone := s.startBackground(bgCtx)
	s.log.Info("listening", "addr", ln.Addr().String(), "roles", strings.Join(s.cfg.Server.Roles, ","))
	select {
	case err := <-errc:
		stopBackground()
		<-bgDone
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	s.draining.Store(true)
	s.log.Info("shutting down: draining requests", "timeout", s.cfg.Server.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	// Background loops are told first, so a worker gives its lease back rather than start a job
	// the process will not finish, and event streams end; the HTTP drain runs meanwhile, so a
	// loop slow to stop does not eat the requests' share of the timeout.
	stopBackground()
	herr := hs.Shutdown(sctx)
	if err := waitBackground(sctx, bgDone); err != nil {
		s.log.Warn("background tasks did not stop in time", "err", err)
	}
	if herr != nil {
		_ = hs.Close()
		return fmt.Errorf("server: shutdown: %w", herr)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Close releases stores and clients, last opened first.
func (s *Server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
