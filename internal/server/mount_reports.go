package server

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/attest"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policyinput"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/report/reportstore"
	reportpg "github.com/stellaops/stellaops/internal/report/reportstore/pgstore"
	reportsqlite "github.com/stellaops/stellaops/internal/report/reportstore/sqlitestore"
	"github.com/stellaops/stellaops/internal/signing"
	"github.com/stellaops/stellaops/internal/tlog"
	tlogpg "github.com/stellaops/stellaops/internal/tlog/pgstore"
	tlogsqlite "github.com/stellaops/stellaops/internal/tlog/sqlitestore"
)

// The reports and signer area (spec §2.7 and §2.4): signed policy reports, the Signer's DSSE
// and referrer endpoints, and the Attestor with its transparency log.
//
//	POST /api/v1/reports                 scanner.reports  evaluate the active policy, sign, log, store
//	POST /api/v1/signer/sign/dsse        signer.sign      sign a payload or an in-toto statement
//	GET  /api/v1/signer/verify/referrers signer.sign      verify an image's DSSE referrers in its registry
//	GET  /api/v1/signer/keys             public           the keys that verify reports and tree heads
//	POST /attest                         attestor.write   accept a statement or a Signer envelope, log it
//	GET  /attest/{id}                    stella.api       the attestation, re-verified
//	GET  /rekor/log/{id}                 stella.api       entry, inclusion proof and signed tree head
//
// Every envelope this area signs or accepts is appended to the local transparency log; its
// entry id (the RFC 6962 leaf hash of the encoded envelope) is the attestation id, so the same
// envelope is one entry and one attestation.

// SigningConfig is the reports and signer area's configuration (the "signing" section).
//
// The report signing key is, in order: Key or KeyFile (with KeyID), else the keyring in
// KeyDirectory, whose first key is generated on first start when GenerateKey is set (the
// default; the Authority's key works the same way). Generated keys are Algorithm (default
// ed25519, whose public half GET /api/v1/signer/keys publishes for offline verification).
// The transparency log signs its tree heads with an ed25519 key of its own, kept in
// KeyDirectory/tlog and generated on first start. Replicas must share KeyDirectory.
type SigningConfig struct {
	// Key is the signing key itself: PKCS#8 PEM (ed25519, ecdsa-p256) or a base64 hs256 secret.
	Key string `json:"key" secret:"true"`
	// KeyFile is a file holding the key instead (PEM, or an hs256 secret raw or in base64).
	KeyFile string `json:"keyFile"`
	// KeyID is written into signatures; required with Key or KeyFile.
	KeyID string `json:"keyId"`
	// Algorithm is hs256, ed25519 or ecdsa-p256: the configured key's (inferred when empty) or
	// the generated key's (default ed25519).
	Algorithm string `json:"algorithm"`
	// KeyDirectory holds generated keys (default <data>/signing).
	KeyDirectory string `json:"keyDirectory"`
	// GenerateKey creates the first key in KeyDirectory when no key is configured.
	GenerateKey bool `json:"generateKey"`
	// LogOrigin names the transparency log in its signed tree heads (default stellaops.local/tlog).
	LogOrigin string `json:"logOrigin"`
	// MaxReportBytes bounds the body of POST /api/v1/reports.
	MaxReportBytes int64 `json:"maxReportBytes"`
	// MaxAttestationBytes bounds the bodies of POST /attest and POST /api/v1/signer/sign/dsse.
	MaxAttestationBytes int64 `json:"maxAttestationBytes"`
	// ReleaseKeys are the keys trusted by GET /api/v1/signer/verify/referrers: keyId → public key
	// file (PKIX PEM). Empty trusts the report signing keys.
	ReleaseKeys map[string]string `json:"releaseKeys"`
	// Referrers bounds the registry calls of GET /api/v1/signer/verify/referrers.
	Referrers ReferrersConfig `json:"referrers"`
}

// ReferrersConfig bounds the referrer check.
type ReferrersConfig struct {
	// Timeout bounds one check, every registry call included.
	Timeout time.Duration `json:"timeout"`
	// MaxReferrers is how many referrers are examined; more are reported as truncated.
	MaxReferrers int `json:"maxReferrers"`
	// MaxEnvelopeBytes bounds one DSSE layer.
	MaxEnvelopeBytes int64 `json:"maxEnvelopeBytes"`
	// AllowedRegistries limits the registries a check may reach (host[:port], as in the image
	// reference). Empty allows any registry at a public address; a listed registry may also be
	// at a loopback, private or link-local one (a registry inside the site).
	AllowedRegistries []string `json:"allowedRegistries"`
}

func (c *SigningConfig) defaults() {
	c.GenerateKey = true
	c.MaxReportBytes = 8 << 20
	c.MaxAttestationBytes = 16 << 20
	c.Referrers = ReferrersConfig{Timeout: 30 * time.Second, MaxReferrers: 32, MaxEnvelopeBytes: 4 << 20}
}

func (c *SigningConfig) validate() error {
	var errs []error
	if c.Key != "" && c.KeyFile != "" {
		errs = append(errs, errors.New("signing: set key or keyFile, not both"))
	}
	if (c.Key != "" || c.KeyFile != "") && c.KeyID == "" {
		errs = append(errs, errors.New("signing.keyId is required with signing.key or signing.keyFile"))
	}
	if c.Algorithm != "" {
		if _, err := signing.ParseAlgorithm(c.Algorithm); err != nil {
			errs = append(errs, fmt.Errorf("signing.algorithm: %w", err))
		}
	}
	if c.LogOrigin != "" && !validLogOrigin(c.LogOrigin) {
		errs = append(errs, fmt.Errorf("signing.logOrigin %.80q: printable ASCII without spaces or '+', at most 255 bytes", c.LogOrigin))
	}
	if c.MaxReportBytes < 1<<10 || c.MaxReportBytes > 1<<30 {
		errs = append(errs, errors.New("signing.maxReportBytes must be between 1 KiB and 1 GiB"))
	}
	if c.MaxAttestationBytes < 1<<10 || c.MaxAttestationBytes > 1<<30 {
		errs = append(errs, errors.New("signing.maxAttestationBytes must be between 1 KiB and 1 GiB"))
	}
	for id, file := range c.ReleaseKeys {
		if id == "" || file == "" {
			errs = append(errs, errors.New("signing.releaseKeys: every entry needs a keyId and a file"))
		}
	}
	r := c.Referrers
	if r.Timeout < time.Second || r.Timeout > 10*time.Minute {
		errs = append(errs, errors.New("signing.referrers.timeout must be between 1s and 10m"))
	}
	if r.MaxReferrers < 1 || r.MaxReferrers > 1000 {
		errs = append(errs, errors.New("signing.referrers.maxReferrers must be between 1 and 1000"))
	}
	if r.MaxEnvelopeBytes < 1<<10 || r.MaxEnvelopeBytes > 64<<20 {
		errs = append(errs, errors.New("signing.referrers.maxEnvelopeBytes must be between 1 KiB and 64 MiB"))
	}
	return errors.Join(errs...)
}

// validLogOrigin is tlog's rule for a log name (C2SP note key names).
func validLogOrigin(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '+' {
			return false
		}
	}
	return true
}

// Constants of the area.
const (
	// reportKeyIDPrefix starts the keyIds of generated report keys, after the spec's example
	// keyId "scanner-report-signing".
	reportKeyIDPrefix = "scanner-report-signing"
	// dsseMediaType is the OCI media type of a DSSE envelope layer.
	dsseMediaType = "application/vnd.dsse.envelope.v1+json"
	// maxFindingIDBytes bounds a posted finding's id; maxEnvironmentBytes the environment.
	maxFindingIDBytes   = 1024
	maxEnvironmentBytes = 256
)

// reportsArea holds the area's stores and keys; its methods are the handlers.
type reportsArea struct {
	s       *Server
	cfg     SigningConfig
	log     *slog.Logger
	now     func() time.Time
	keys    signing.KeyProvider
	dir     *signing.Dir // the key directory, when the keys come from it
	release signing.KeyProvider
	tlog    *tlog.Log
	// tlogStore is the log's store, kept until openKeys builds the log on it.
	tlogStore tlog.Store
	store     reportstore.Store
	engine    *policy.Engine
}

// mountReports opens the area's stores and keys, sets the image evidence service and puts the
// routes on the API.
func (s *Server) mountReports(ctx context.Context) error {
	if !s.cfg.HasRole("api") {
		return nil
	}
	a := &reportsArea{s: s, cfg: s.cfg.Signing, log: s.log, now: s.opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	// Diagnostics only lint the active policy, which the policy area accepted under its own
	// size limit: a generous one here keeps a large policy from being reported as too large.
	a.engine = policy.New(policy.Config{Now: a.now, Limits: policy.Limits{MaxPolicyBytes: 1 << 30}})
	if err := a.openStores(ctx); err != nil {
		return err
	}
	if err := a.openKeys(ctx); err != nil {
		return err
	}
	s.areas.imageEvidence = a.imageEvidence
	s.areas.signingKeys = a.keys
	for _, r := range a.routes() {
		if err := s.API.Handle(r); err != nil {
			return err
		}
	}
	return nil
}

func (a *reportsArea) routes() []api.Route {
	return []api.Route{
		{Method: "POST", Path: "/api/v1/reports", Scope: authority.ScopeReports, Audit: true, MaxBody: a.cfg.MaxReportBytes,
			Summary: "Assemble a signed policy report", Handler: a.postReport},
		{Method: "POST", Path: "/api/v1/signer/sign/dsse", Scope: authority.ScopeSignerSign, Audit: true, MaxBody: a.cfg.MaxAttestationBytes,
			Summary: "Sign a DSSE envelope", Handler: a.signDsse},
		{Method: "GET", Path: "/api/v1/signer/verify/referrers", Scope: authority.ScopeSignerSign, Audit: true,
			Summary: "Verify an image's DSSE referrers", Handler: a.verifyReferrers},
		{Method: "GET", Path: "/api/v1/signer/keys", Auth: api.AuthPublic, Summary: "Report and transparency-log verification keys", Handler: a.publicKeys},
		{Method: "POST", Path: "/attest", Scope: authority.ScopeAttestorWrite, Audit: true, MaxBody: a.cfg.MaxAttestationBytes,
			Summary: "Submit an attestation", Handler: a.postAttestation},
		{Method: "GET", Path: "/attest/{id}", Scope: authority.ScopeAPI, Summary: "An attestation and its verification", Handler: a.getAttestation},
		{Method: "GET", Path: "/rekor/log/{id}", Scope: authority.ScopeAPI, Summary: "Transparency-log entry with its inclusion proof", Handler: a.getLogEntry},
	}
}

// openStores opens the report store and the transparency log's store on the configured backend.
func (a *reportsArea) openStores(ctx context.Context) error {
	var (
		rs  reportstore.Store
		ts  tlog.Store
		err error
	)
	switch a.s.cfg.Storage.Driver {
	case "postgres":
		if rs, err = reportpg.Open(ctx, a.s.cfg.Storage.DSN); err == nil {
			a.s.closers = append(a.s.closers, rs.Close)
			ts, err = tlogpg.Open(ctx, a.s.cfg.Storage.DSN)
		}
	default:
		if rs, err = reportsqlite.Open(ctx, filepath.Join(a.s.opts.DataDir, "reports.db")); err == nil {
			a.s.closers = append(a.s.closers, rs.Close)
			ts, err = tlogsqlite.Open(ctx, filepath.Join(a.s.opts.DataDir, "tlog.db"))
		}
	}
	if err != nil {
		return fmt.Errorf("reports store: %w", err)
	}
	a.s.closers = append(a.s.closers, ts.Close)
	a.store = rs
	a.tlogStore = ts
	return nil
}

// openKeys loads (or, on first start, generates) the report signing key and the log's key,
// builds the transparency log and the release trust.
func (a *reportsArea) openKeys(ctx context.Context) error {
	keyDir := a.cfg.KeyDirectory
	if keyDir == "" {
		keyDir = filepath.Join(a.s.opts.DataDir, signing.DataSubdir)
	}
	generated := false
	source := "configuration"
	if a.cfg.Key != "" || a.cfg.KeyFile != "" {
		// signing.Env parses and checks the key the way the CLI's STELLAOPS_SIGNING_* variables
		// are; the values come from this section, which the configuration loader filled.
		vals := map[string]string{"KEY": a.cfg.Key, "KEY_FILE": a.cfg.KeyFile, "KEY_ID": a.cfg.KeyID, "ALGORITHM": a.cfg.Algorithm}
		a.keys = signing.NewEnv(func(n string) (string, bool) {
			v := vals[strings.TrimPrefix(n, signing.DefaultEnvPrefix)]
			return v, v != ""
		}, "")
	} else {
		alg := signing.Ed25519
		if a.cfg.Algorithm != "" {
			alg = signing.Algorithm(a.cfg.Algorithm)
		}
		opts := []signing.DirOption{signing.WithAlgorithm(alg), signing.WithKeyIDPrefix(reportKeyIDPrefix), signing.WithClock(a.now)}
		if a.cfg.GenerateKey {
			opts = append(opts, signing.CreateOnFirstUse())
		}
		a.dir = signing.NewDir(keyDir, opts...)
		_, err := a.dir.Keys(ctx)
		generated = errors.Is(err, signing.ErrNoKeys) && a.cfg.GenerateKey
		a.keys, source = a.dir, keyDir
	}
	kr, err := a.keys.Keyring(ctx)
	if err != nil {
		if errors.Is(err, signing.ErrNoKeys) {
			return fmt.Errorf("report signing key: %w (set signing.keyFile or signing.key with signing.keyId, or signing.generateKey)", err)
		}
		return fmt.Errorf("report signing key: %w", err)
	}
	active, err := kr.Active()
	if err != nil {
		return fmt.Errorf("report signing key: %w", err)
	}
	a.log.Info("report signing key ready", "keyId", active.KeyID(), "algorithm", active.Algorithm(), "source", source)
	if generated {
		attrs := []any{"keyId", active.KeyID(), "algorithm", active.Algorithm(), "directory", keyDir}
		if pem, err := signing.ExportPublicKey(active); err == nil {
			attrs = append(attrs, "publicKey", string(pem))
		}
		a.log.Info("generated a report signing key; GET /api/v1/signer/keys publishes its public key", attrs...)
		if a.s.cfg.Storage.Driver == "postgres" {
			a.log.Warn("the report signing key was generated in this replica's key directory; replicas must share signing.keyDirectory", "directory", keyDir)
		}
	}

	// The log's key is ed25519 (what tlog signs tree heads with), in a key directory of its own.
	td := signing.NewDir(filepath.Join(keyDir, "tlog"), signing.WithAlgorithm(signing.Ed25519),
		signing.WithKeyIDPrefix("stellaops-tlog"), signing.WithClock(a.now), signing.CreateOnFirstUse())
	tkr, err := td.Keyring(ctx)
	if err != nil {
		return fmt.Errorf("transparency log key: %w", err)
	}
	tk, err := tkr.Active()
	if err != nil {
		return fmt.Errorf("transparency log key: %w", err)
	}
	k, ok := tk.(*signing.Key)
	pub, pubOK := ed25519.PublicKey(nil), false
	if ok {
		pub, pubOK = k.Public().(ed25519.PublicKey)
	}
	if !pubOK {
		return fmt.Errorf("transparency log key %s: not an ed25519 key", tk.KeyID())
	}
	origin := a.cfg.LogOrigin
	if origin == "" {
		origin = tlog.DefaultConfig().Origin
	}
	if a.tlog, err = tlog.New(a.tlogStore, tlogSigner{k: k, pub: pub}, tlog.Config{Origin: origin, Now: a.now}); err != nil {
		return fmt.Errorf("transparency log: %w", err)
	}
	a.log.Info("transparency log ready", "origin", origin, "keyId", a.tlog.KeyID())

	a.release = a.keys
	if len(a.cfg.ReleaseKeys) > 0 {
		if a.release, err = trustedKeyring(ctx, "signing.releaseKeys", a.cfg.ReleaseKeys); err != nil {
			return err
		}
	}
	return nil
}

// trustedKeyring is a verify-only keyring of public key files by key id (a configuration
// section's keyId: path map, named by key in errors).
func trustedKeyring(ctx context.Context, key string, files map[string]string) (*signing.Keyring, error) {
	ids := make([]string, 0, len(files))
	for id := range files {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	vs := make([]signing.Verifier, 0, len(ids))
	for _, id := range ids {
		v, err := signing.LoadVerifierFile(ctx, files[id], id, "")
		if err != nil {
			return nil, fmt.Errorf("%s[%s]: %w", key, id, err)
		}
		vs = append(vs, v)
	}
	kr, err := signing.NewKeyring(nil, vs...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return kr, nil
}

// tlogSigner lets the log sign tree heads through the signing package's key: pure Ed25519
// over the message, which is what tlog asks for (crypto.Hash(0)).
type tlogSigner struct {
	k   signing.Signer
	pub ed25519.PublicKey
}

func (t tlogSigner) Public() crypto.PublicKey { return t.pub }

func (t tlogSigner) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.Hash(0) {
		return nil, errors.New("transparency log key: signs whole messages, not digests")
	}
	return t.k.Sign(context.Background(), msg)
}

// internalError logs err with the request's trace id and answers 500.
func (a *reportsArea) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.ErrorContext(r.Context(), what, "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusInternalServerError, api.ProbInternal, what)
}

// invalid answers 400 with the field errors; the detail is the first one.
func invalid(w http.ResponseWriter, r *http.Request, errs []api.FieldError) {
	detail := errs[0].Path + ": " + errs[0].Msg
	if len(errs) > 1 {
		detail += fmt.Sprintf(" (and %d more)", len(errs)-1)
	}
	api.WriteProblemValue(w, r, api.Problem{Type: api.ProbValidation, Status: http.StatusBadRequest, Detail: detail, Errors: errs})
}

// readJSON reads a JSON body as it is (for bodies whose nesting the domain parsers bound
// themselves): the content type must be JSON, and an oversized body answers 413.
func readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType, "the body must be application/json")
			return nil, false
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the body exceeds %d bytes", mbe.Limit))
		} else {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the body: "+err.Error())
		}
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "the body is empty")
		return nil, false
	}
	return body, true
}

// validDigest checks an image digest as the spec writes them: "<algorithm>:<lower-case hex>"
// (the spec's examples are short, "sha256:deadbeef", so the length is not the algorithm's).
func validDigest(d string) string {
	alg, hx, ok := strings.Cut(d, ":")
	switch {
	case !ok || alg == "" || hx == "":
		return "must be <algorithm>:<hex>, e.g. sha256:…"
	case len(alg) > 32 || len(hx) > 128:
		return "is too long"
	}
	for _, c := range alg {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return "the algorithm must be lower-case letters and digits"
		}
	}
	for _, c := range hx {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "the digest must be lower-case hex"
		}
	}
	return ""
}

// validLogID reports whether s is a transparency-log entry id: 64 lower-case hex digits.
func validLogID(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && strings.ToLower(s) == s
}

// reportRequest is the body of POST /api/v1/reports: the policy preview's inputs (§2.3: image
// digest and findings), or a stored scan's id. policy and baseline are preview fields that a
// report refuses by name rather than as unknown fields.
type reportRequest struct {
	ImageDigest string           `json:"imageDigest"`
	Findings    []policy.Finding `json:"findings"`
	ScanID      string           `json:"scanId"`
	Environment string           `json:"environment"`
	Policy      json.RawMessage  `json:"policy"`
	Baseline    json.RawMessage  `json:"baseline"`
}

// reportResponse is the §2.7 response: the report and its DSSE envelope.
type reportResponse struct {
	Report *report.PolicyReport `json:"report"`
	DSSE   *signing.Envelope    `json:"dsse"`
}

func (a *reportsArea) postReport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req reportRequest
	if !api.DecodeJSON(w, r, &req) {
		return
	}
	var errs []api.FieldError
	bad := func(path, msg string) { errs = append(errs, api.FieldError{Path: path, Msg: msg}) }
	if req.Policy != nil {
		bad("$.policy", "reports evaluate the active policy; preview a staged policy with POST /api/v1/policy/preview")
	}
	if req.Baseline != nil {
		bad("$.baseline", "reports have no baseline; compare verdicts with POST /api/v1/policy/preview")
	}
	if len(req.Environment) > maxEnvironmentBytes {
		bad("$.environment", fmt.Sprintf("at most %d bytes", maxEnvironmentBytes))
	}
	if req.ScanID != "" {
		if req.Findings != nil {
			bad("$.findings", "give findings or scanId, not both")
		}
		if !validScanID(req.ScanID) {
			bad("$.scanId", "must be 1 to 128 letters, digits, '.', '_' or '-'")
		}
	} else {
		if req.ImageDigest == "" {
			bad("$.imageDigest", "is required (or give scanId)")
		}
		if req.Findings == nil {
			bad("$.findings", "is required (an empty list for an image without findings), or give scanId")
		}
	}
	if req.ImageDigest != "" {
		if msg := validDigest(req.ImageDigest); msg != "" {
			bad("$.imageDigest", msg)
		}
	}
	seen := make(map[string]int, len(req.Findings))
	for i, f := range req.Findings {
		p := fmt.Sprintf("$.findings[%d].id", i)
		switch j, dup := seen[f.ID]; {
		case f.ID == "":
			bad(p, "is required")
		case len(f.ID) > maxFindingIDBytes:
			bad(p, fmt.Sprintf("at most %d bytes", maxFindingIDBytes))
		case dup:
			bad(p, fmt.Sprintf("%.80q repeats $.findings[%d].id", f.ID, j))
		default:
			seen[f.ID] = i
		}
		if len(errs) >= 20 {
			break
		}
	}
	if len(errs) > 0 {
		invalid(w, r, errs)
		return
	}

	pol, rev, ok := a.activePolicy(w, r)
	if !ok {
		return
	}
	imageDigest, findings := req.ImageDigest, req.Findings
	if req.ScanID != "" {
		sc, ok := a.storedScan(w, r, req.ScanID)
		if !ok {
			return
		}
		if imageDigest != "" && imageDigest != sc.ImageDigest {
			invalid(w, r, []api.FieldError{{Path: "$.imageDigest", Msg: fmt.Sprintf("scan %s is of %s, not %s", req.ScanID, sc.ImageDigest, imageDigest)}})
			return
		}
		imageDigest, findings = sc.ImageDigest, policyinput.Findings(sc.Result.Findings, policyinput.RecordedVEX(sc.Result.Findings))
	}
	res, err := pol.Evaluate(ctx, policy.Input{ImageDigest: imageDigest, Environment: req.Environment, Findings: findings})
	switch {
	case errors.Is(err, policy.ErrInputTooLarge):
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
		return
	case errors.Is(err, policy.ErrTimeBudget):
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the active policy ran past its evaluation time budget: "+err.Error())
		return
	case err != nil:
		if ctx.Err() != nil {
			return // the client went away
		}
		a.internalError(w, r, "evaluating the active policy failed", err)
		return
	}
	issues, err := a.policyIssues(ctx, pol)
	if err != nil {
		a.internalError(w, r, "diagnosing the active policy failed", err)
		return
	}
	rep, canon, err := report.AssemblePolicyReport(imageDigest, report.PolicyRef{RevisionID: rev.RevisionID, Digest: pol.Digest()}, res, issues)
	if err != nil {
		a.internalError(w, r, "assembling the report failed", err)
		return
	}
	env, stored, ok := a.signAndLog(w, r, report.PayloadType, canon)
	if !ok {
		return
	}
	_, err = a.store.PutReport(ctx, reportstore.Report{
		ReportID: rep.ReportID, ImageDigest: rep.ImageDigest, Verdict: rep.Verdict, PolicyRevision: rep.Policy.RevisionID,
		PolicyDigest: rep.Policy.Digest, ScanID: req.ScanID, KeyID: env.Signatures[0].KeyID, Envelope: stored.Body,
		LogID: stored.ID(), LogIndex: stored.Index, AssembledAt: a.now(),
	})
	if err != nil {
		a.internalError(w, r, "storing the report failed", err)
		return
	}
	w.Header().Set("Link", "</rekor/log/"+stored.ID()+`>; rel="https://stella-ops.org/rels/transparency-log"`)
	api.WriteJSON(w, http.StatusOK, reportResponse{Report: rep, DSSE: env})
}

// validScanID admits plain ids (the scans area's are hex), so an id can go into a detail or
// a log line as it is.
func validScanID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// activePolicy returns the policy the policy area activated. There is no built-in default
// policy (internal/policy has none, and signing a verdict of a policy nobody chose would be
// worse than none), so without one the answer is 409.
func (a *reportsArea) activePolicy(w http.ResponseWriter, r *http.Request) (*policy.Policy, policy.Revision, bool) {
	get := a.s.areas.activePolicy
	if get == nil {
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, "no active policy: this server has no policy store, so reports cannot be assembled")
		return nil, policy.Revision{}, false
	}
	p, rev, err := get(r.Context())
	switch {
	case errors.Is(err, ErrNoActivePolicy) || (err == nil && p == nil):
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, "no active policy: import one (POST /api/v1/policy/import) before assembling reports")
		return nil, policy.Revision{}, false
	case err != nil:
		a.log.ErrorContext(r.Context(), "reading the active policy failed", "err", err, "traceId", api.TraceID(r.Context()))
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the policy store is unavailable")
		return nil, policy.Revision{}, false
	}
	return p, rev, true
}

// storedScan returns a finished scan of the scans area; unknown scans (and every scan while
// this server has no scans area) answer the §2.7 404.
func (a *reportsArea) storedScan(w http.ResponseWriter, r *http.Request, id string) (StoredScan, bool) {
	notFound := func() (StoredScan, bool) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("scan %s not found", id))
		return StoredScan{}, false
	}
	get := a.s.areas.storedScan
	if get == nil {
		return notFound()
	}
	sc, err := get(r.Context(), id)
	switch {
	case errors.Is(err, ErrScanNotFound):
		return notFound()
	case err != nil:
		a.log.ErrorContext(r.Context(), "reading a stored scan failed", "scanId", id, "err", err, "traceId", api.TraceID(r.Context()))
		api.WriteProblem(w, r, http.StatusServiceUnavailable, api.ProbUnavailable, "the scan store is unavailable")
		return StoredScan{}, false
	case sc.Result == nil:
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s has no result yet", id))
		return StoredScan{}, false
	case validDigest(sc.ImageDigest) != "":
		api.WriteProblem(w, r, http.StatusConflict, api.ProbConflict, fmt.Sprintf("scan %s has no image digest to report on", id))
		return StoredScan{}, false
	}
	return sc, true
}

// policyIssues are the active policy's diagnostics warnings and errors, the report's issues:
// a reader of the signed report learns that the policy that decided had overrides worth a look.
func (a *reportsArea) policyIssues(ctx context.Context, p *policy.Policy) ([]policy.Issue, error) {
	d, err := a.engine.Diagnose(ctx, p.Source())
	if err != nil {
		return nil, err
	}
	var out []policy.Issue
	for _, is := range d.Issues {
		if is.Severity != policy.SeverityInfo {
			out = append(out, is)
		}
	}
	return out, nil
}

// signAndLog signs payload with the active key and appends the encoded envelope to the
// transparency log. The log is idempotent by content, so a retry after a later failure finds
// the same entry.
func (a *reportsArea) signAndLog(w http.ResponseWriter, r *http.Request, payloadType string, payload []byte) (*signing.Envelope, tlog.Entry, bool) {
	kr, err := a.keys.Keyring(r.Context())
	if err != nil {
		a.internalError(w, r, "loading the signing key failed", err)
		return nil, tlog.Entry{}, false
	}
	env, err := kr.Sign(r.Context(), payloadType, payload)
	if err != nil {
		a.internalError(w, r, "signing failed", err)
		return nil, tlog.Entry{}, false
	}
	e, ok := a.logEnvelope(w, r, env)
	return env, e, ok
}

func (a *reportsArea) logEnvelope(w http.ResponseWriter, r *http.Request, env *signing.Envelope) (tlog.Entry, bool) {
	body, err := env.Encode()
	if err != nil {
		a.internalError(w, r, "encoding the envelope failed", err)
		return tlog.Entry{}, false
	}
	ap, err := a.tlog.Append(r.Context(), body)
	if errors.Is(err, tlog.ErrInvalid) {
		api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, "the envelope is too large for the transparency log: "+err.Error())
		return tlog.Entry{}, false
	}
	if err != nil {
		a.internalError(w, r, "appending to the transparency log failed", err)
		return tlog.Entry{}, false
	}
	return ap.Entry, true
}

// signDsseRequest is the body of POST /api/v1/signer/sign/dsse: a payload with its type, or
// the parts of an in-toto Statement v1 (subject, predicateType, predicate), which the Signer
// assembles and validates as internal/attest does before signing it as application/vnd.in-toto+json.
type signDsseRequest struct {
	PayloadType   string          `json:"payloadType"`
	Payload       *string         `json:"payload"`
	Subject       json.RawMessage `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// signDsseResponse is its answer.
type signDsseResponse struct {
	DSSE      *signing.Envelope `json:"dsse"`
	KeyID     string            `json:"keyId"`
	Algorithm signing.Algorithm `json:"algorithm"`
	// PayloadDigest is "sha256:<hex>" of the signed (canonical) payload.
	PayloadDigest string `json:"payloadDigest"`
}

func (a *reportsArea) signDsse(w http.ResponseWriter, r *http.Request) {
	body, ok := readJSON(w, r)
	if !ok {
		return
	}
	var req signDsseRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || dec.More() {
		msg := "data after the JSON value"
		if err != nil {
			msg = err.Error()
		}
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "malformed JSON body: "+msg)
		return
	}
	statement := req.Subject != nil || req.PredicateType != "" || req.Predicate != nil
	var payloadType string
	var payload []byte
	switch {
	case statement && (req.PayloadType != "" || req.Payload != nil):
		invalid(w, r, []api.FieldError{{Path: "$", Msg: "give payloadType and payload, or subject, predicateType and predicate, not both"}})
		return
	case statement:
		b, err := json.Marshal(struct {
			Type          string          `json:"_type"`
			Subject       json.RawMessage `json:"subject"`
			PredicateType string          `json:"predicateType"`
			Predicate     json.RawMessage `json:"predicate,omitempty"`
		}{attest.StatementType, req.Subject, req.PredicateType, req.Predicate})
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "statement: "+err.Error())
			return
		}
		st, err := attest.Parse(b, attest.Config{MaxBytes: int(a.cfg.MaxAttestationBytes)})
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
			return
		}
		payloadType, payload = attest.PayloadType, st.Bytes()
	default:
		var errs []api.FieldError
		if mt, _, err := mime.ParseMediaType(req.PayloadType); err != nil || len(req.PayloadType) > 256 {
			errs = append(errs, api.FieldError{Path: "$.payloadType", Msg: "must be a media type of at most 256 bytes"})
		} else if mt == report.PayloadType {
			// The report key's signature on a report means the server evaluated the policy.
			errs = append(errs, api.FieldError{Path: "$.payloadType", Msg: "reports are signed by POST /api/v1/reports, which evaluates the policy itself"})
		}
		if req.Payload == nil || *req.Payload == "" {
			errs = append(errs, api.FieldError{Path: "$.payload", Msg: "is required (standard base64)"})
		} else if p, err := base64.StdEncoding.Strict().DecodeString(*req.Payload); err != nil {
			errs = append(errs, api.FieldError{Path: "$.payload", Msg: "is not standard base64: " + err.Error()})
		} else {
			payload = p
		}
		if len(errs) > 0 {
			invalid(w, r, errs)
			return
		}
		payloadType = req.PayloadType
	}
	kr, err := a.keys.Keyring(r.Context())
	if err != nil {
		a.internalError(w, r, "loading the signing key failed", err)
		return
	}
	env, err := kr.Sign(r.Context(), payloadType, payload)
	if err != nil {
		// Sign refuses only what is wrong with the input here: a JSON type whose payload is not JSON.
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
		return
	}
	sum := sha256.Sum256(env.Payload)
	api.WriteJSON(w, http.StatusOK, signDsseResponse{DSSE: env, KeyID: env.Signatures[0].KeyID, Algorithm: env.Signatures[0].Algorithm,
		PayloadDigest: "sha256:" + hex.EncodeToString(sum[:])})
}

// attestAccepted is the 202 answer of POST /attest.
type attestAccepted struct {
	ID string `json:"id"`
	// Status is "logged": the envelope is in the transparency log; GET /attest/{id} verifies it.
	Status        string `json:"status"`
	Location      string `json:"location"`
	Created       bool   `json:"created"`
	PredicateType string `json:"predicateType"`
	LogIndex      uint64 `json:"logIndex"`
	Rekor         string `json:"rekor"`
}

// postAttestation accepts an in-toto statement, which it signs with the active key, or a DSSE
// envelope around one that a trusted key (the Signer's) signed, logs the envelope and stores
// the attestation. It answers 202 with Location /attest/{id}, where it is verified.
func (a *reportsArea) postAttestation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, ok := readJSON(w, r)
	if !ok {
		return
	}
	var probe struct {
		Type        json.RawMessage `json:"_type"`
		PayloadType json.RawMessage `json:"payloadType"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "malformed JSON body: "+err.Error())
		return
	}
	acfg := attest.Config{MaxBytes: int(a.cfg.MaxAttestationBytes)}
	var (
		env   *signing.Envelope
		st    *attest.Statement
		keyID string
		err   error
	)
	switch {
	case probe.Type != nil && probe.PayloadType != nil:
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "the body is both a statement (_type) and an envelope (payloadType)")
		return
	case probe.Type != nil:
		if st, err = attest.Parse(body, acfg); err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
			return
		}
		kr, err := a.keys.Keyring(ctx)
		if err != nil {
			a.internalError(w, r, "loading the signing key failed", err)
			return
		}
		if env, err = kr.Sign(ctx, attest.PayloadType, st.Bytes()); err != nil {
			a.internalError(w, r, "signing the statement failed", err)
			return
		}
		keyID = env.Signatures[0].KeyID
	case probe.PayloadType != nil:
		lim := signing.DefaultLimits()
		lim.MaxEnvelopeBytes = int(a.cfg.MaxAttestationBytes)
		if env, err = signing.DecodeWithLimits(body, lim); err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
			return
		}
		kr, err := a.keys.Keyring(ctx)
		if err != nil {
			a.internalError(w, r, "loading the signing key failed", err)
			return
		}
		// The Attestor takes envelopes from the Signer only: one of its keys must have signed.
		v, err := signing.Verify(ctx, env, kr)
		if err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "envelope: "+err.Error())
			return
		}
		if st, err = attest.ParsePayload(v.PayloadType, v.Payload, acfg); err != nil {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, err.Error())
			return
		}
		keyID = v.KeyID
	default:
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation,
			"the body must be an in-toto Statement v1 (with _type) or a DSSE envelope of one (with payloadType)")
		return
	}
	entry, ok := a.logEnvelope(w, r, env)
	if !ok {
		return
	}
	var subjects []string
	for _, sub := range st.Subjects() {
		for alg, hx := range sub.Digest {
			subjects = append(subjects, alg+":"+hx)
		}
	}
	stored, created, err := a.store.PutAttestation(ctx, reportstore.Attestation{
		ID: entry.ID(), LogIndex: entry.Index, PredicateType: st.PredicateType(), Subjects: subjects,
		StatementDigest: st.Digest(), KeyID: keyID, Envelope: entry.Body, CreatedAt: a.now(),
	})
	if err != nil {
		a.internalError(w, r, "storing the attestation failed", err)
		return
	}
	loc := "/attest/" + stored.ID
	w.Header().Set("Location", loc)
	api.WriteJSON(w, http.StatusAccepted, attestAccepted{ID: stored.ID, Status: "logged", Location: loc, Created: created,
		PredicateType: stored.PredicateType, LogIndex: stored.LogIndex, Rekor: "/rekor/log/" + stored.ID})
}

// attestationView is GET /attest/{id}: the attestation and its verification, done when asked:
// the envelope's signature against the current keys (retired ones included) and its inclusion
// in the log against a freshly signed tree head.
type attestationView struct {
	ID              string            `json:"id"`
	Status          string            `json:"status"`
	PredicateType   string            `json:"predicateType"`
	Subjects        []string          `json:"subjects"`
	StatementDigest string            `json:"statementDigest"`
	CreatedAt       policy.Timestamp  `json:"createdAt"`
	Signature       signatureCheck    `json:"signature"`
	TransparencyLog logCheck          `json:"transparencyLog"`
	DSSE            *signing.Envelope `json:"dsse"`
}

type signatureCheck struct {
	KeyID     string            `json:"keyId"`
	Algorithm signing.Algorithm `json:"algorithm,omitempty"`
	Verified  bool              `json:"verified"`
	Error     string            `json:"error,omitempty"`
}

type logCheck struct {
	UUID           string           `json:"uuid"`
	LogIndex       uint64           `json:"logIndex"`
	IntegratedTime policy.Timestamp `json:"integratedTime"`
	TreeSize       uint64           `json:"treeSize"`
	RootHash       string           `json:"rootHash"`
	Verified       bool             `json:"verified"`
	Error          string           `json:"error,omitempty"`
	Location       string           `json:"location"`
}

func (a *reportsArea) getAttestation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	if !validLogID(id) {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "the attestation id is 64 lower-case hex digits")
		return
	}
	at, err := a.store.Attestation(ctx, id)
	if errors.Is(err, reportstore.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "attestation "+id+" not found")
		return
	}
	if err != nil {
		a.internalError(w, r, "reading the attestation failed", err)
		return
	}
	env, err := signing.Decode(at.Envelope)
	if err != nil {
		a.internalError(w, r, "the stored envelope does not decode", err)
		return
	}
	view := attestationView{ID: at.ID, PredicateType: at.PredicateType, Subjects: at.Subjects, StatementDigest: at.StatementDigest,
		CreatedAt: policy.Timestamp(at.CreatedAt), DSSE: env, Signature: signatureCheck{KeyID: at.KeyID}}
	view.Signature.Verified, view.Signature.Algorithm, view.Signature.Error = a.verifyEnvelope(ctx, env)
	lc, err := a.checkInclusion(ctx, id)
	if err != nil {
		a.internalError(w, r, "reading the transparency log failed", err)
		return
	}
	view.TransparencyLog = lc
	view.Status = "verified"
	if !view.Signature.Verified || !lc.Verified {
		view.Status = "failed"
	}
	api.WriteJSON(w, http.StatusOK, view)
}

// verifyEnvelope checks env against the current keys.
func (a *reportsArea) verifyEnvelope(ctx context.Context, env *signing.Envelope) (ok bool, alg signing.Algorithm, problem string) {
	kr, err := a.keys.Keyring(ctx)
	if err != nil {
		return false, "", "loading the signing keys: " + err.Error()
	}
	v, err := signing.Verify(ctx, env, kr)
	if err != nil {
		return false, "", err.Error()
	}
	return true, v.Algorithm, ""
}

// checkInclusion builds the entry's proof bundle and verifies it offline with the log's key.
// The error is for a log that cannot be read; a proof that does not verify is reported.
func (a *reportsArea) checkInclusion(ctx context.Context, id string) (logCheck, error) {
	b, err := a.tlog.Bundle(ctx, id)
	if err != nil {
		return logCheck{}, err
	}
	lc := logCheck{UUID: id, LogIndex: b.Entry.Index, IntegratedTime: policy.Timestamp(b.Entry.IntegratedTime),
		TreeSize: b.TreeHead.TreeSize, RootHash: b.TreeHead.RootHash.String(), Location: "/rekor/log/" + id, Verified: true}
	if err := tlog.VerifyInclusion(b, a.tlog.PublicKey()); err != nil {
		lc.Verified, lc.Error = false, err.Error()
	}
	return lc, nil
}

// getLogEntry serves the proof bundle of a log entry (an attestation's or a report's): the
// entry, its inclusion proof and a signed tree head, in tlog's canonical bundle JSON, which
// tlog.DecodeBundle and tlog.VerifyInclusion check offline with the log's public key.
func (a *reportsArea) getLogEntry(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validLogID(id) {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "the entry id is 64 lower-case hex digits (the entry's RFC 6962 leaf hash)")
		return
	}
	b, err := a.tlog.Bundle(r.Context(), id)
	if errors.Is(err, tlog.ErrNotFound) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "log entry "+id+" not found")
		return
	}
	if err != nil {
		a.internalError(w, r, "reading the transparency log failed", err)
		return
	}
	enc, err := b.Encode()
	if err != nil {
		a.internalError(w, r, "encoding the proof bundle failed", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(enc, '\n'))
}

// publicKeys is GET /api/v1/signer/keys: what an offline verifier needs, the public keys of the
// report signing keyring (active first; hs256 keys are listed without one, their secret is not
// published) and the transparency log's key.
type publicKeys struct {
	Keys            []publicKey `json:"keys"`
	TransparencyLog logKey      `json:"transparencyLog"`
}

type publicKey struct {
	KeyID     string            `json:"keyId"`
	Algorithm signing.Algorithm `json:"algorithm"`
	Status    string            `json:"status"`
	PublicKey string            `json:"publicKey,omitempty"`
}

type logKey struct {
	Origin    string `json:"origin"`
	KeyID     string `json:"keyId"`
	PublicKey string `json:"publicKey"`
}

func (a *reportsArea) publicKeys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	kr, err := a.keys.Keyring(ctx)
	if err != nil {
		a.internalError(w, r, "loading the signing keys failed", err)
		return
	}
	out := publicKeys{Keys: []publicKey{}}
	active, err := kr.Active()
	if err != nil {
		a.internalError(w, r, "loading the signing keys failed", err)
		return
	}
	pk := publicKey{KeyID: active.KeyID(), Algorithm: active.Algorithm(), Status: "active"}
	if pem, err := signing.ExportPublicKey(active); err == nil {
		pk.PublicKey = string(pem)
	}
	out.Keys = append(out.Keys, pk)
	if a.dir != nil {
		// Retired keys keep verifying what they signed; their public halves come from the
		// directory's files (the keyring hands out no retired verifiers).
		entries, err := a.dir.Keys(ctx)
		if err != nil {
			a.internalError(w, r, "loading the signing keys failed", err)
			return
		}
		for _, e := range entries {
			if e.RetiredAt == nil {
				continue
			}
			pk := publicKey{KeyID: e.KeyID, Algorithm: e.Algorithm, Status: "retired"}
			if e.Algorithm != signing.HS256 {
				v, err := signing.LoadVerifierFile(ctx, filepath.Join(a.dir.Path(), e.File), e.KeyID, e.Algorithm)
				if err != nil {
					a.internalError(w, r, "loading a retired signing key failed", err)
					return
				}
				pem, err := signing.ExportPublicKey(v)
				if err != nil {
					a.internalError(w, r, "exporting a retired signing key failed", err)
					return
				}
				pk.PublicKey = string(pem)
			}
			out.Keys = append(out.Keys, pk)
		}
	}
	lpub, err := signing.NewPublicKey("tlog", a.tlog.PublicKey())
	if err == nil {
		var pem []byte
		if pem, err = lpub.PEM(); err == nil {
			out.TransparencyLog = logKey{Origin: a.tlog.Origin(), KeyID: a.tlog.KeyID(), PublicKey: string(pem)}
		}
	}
	if err != nil {
		a.internalError(w, r, "exporting the transparency log key failed", err)
		return
	}
	api.WriteJSON(w, http.StatusOK, out)
}

// referrersReport is GET /api/v1/signer/verify/referrers: the image's DSSE referrers and which
// of them a trusted key signed for it. Trusted is true when at least one did: the check fails
// closed, an image with no verified referrer is not trusted.
type referrersReport struct {
	Image     string           `json:"image"`
	Subject   string           `json:"subject"`
	Trusted   bool             `json:"trusted"`
	Truncated bool             `json:"truncated"`
	Referrers []referrerResult `json:"referrers"`
}

type referrerResult struct {
	// Digest is the referrer manifest's; Envelope the DSSE layer's.
	Digest       string   `json:"digest"`
	ArtifactType string   `json:"artifactType,omitempty"`
	Envelope     string   `json:"envelope,omitempty"`
	PayloadType  string   `json:"payloadType,omitempty"`
	KeyID        string   `json:"keyId,omitempty"`
	Algorithm    string   `json:"algorithm,omitempty"`
	Subjects     []string `json:"subjects,omitempty"`
	Verified     bool     `json:"verified"`
	Error        string   `json:"error,omitempty"`
}

// maxReferrerManifest bounds a referrer's manifest (they list a layer or two).
const maxReferrerManifest = 1 << 20

func (a *reportsArea) verifyReferrers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "image" {
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("unknown query parameter %.40q (image)", k))
			return
		}
	}
	image := q.Get("image")
	if image == "" || len(q["image"]) > 1 || len(image) > 1024 {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "image is required once: registry/repository@sha256:… or registry/repository:tag")
		return
	}
	ref, err := name.ParseReference(image)
	if err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "image: "+err.Error())
		return
	}
	// The registry is whatever the caller names; a bare "alpine" silently meaning Docker Hub
	// would check another registry than the one the caller had in mind.
	if host, _, ok := strings.Cut(image, "/"); !ok || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "image must name its registry: registry.example.com/repository@sha256:…")
		return
	}
	registry := ref.Context().RegistryStr()
	listed := slices.Contains(a.cfg.Referrers.AllowedRegistries, registry)
	if len(a.cfg.Referrers.AllowedRegistries) > 0 && !listed {
		api.WriteProblem(w, r, http.StatusForbidden, api.ProbForbidden, fmt.Sprintf("registry %s is not in signing.referrers.allowedRegistries", registry))
		return
	}
	kr, err := a.release.Keyring(r.Context())
	if err != nil {
		a.internalError(w, r, "loading the trusted release keys failed", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.cfg.Referrers.Timeout)
	defer cancel()
	// Two quick retries rather than go-containerregistry's 1 s and 3 s: the whole check has
	// one time limit, and a caller waits on it.
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithTransport(registryTransport(listed)),
		remote.WithRetryBackoff(remote.Backoff{Duration: 100 * time.Millisecond, Factor: 3, Jitter: 0.1, Steps: 3})}
	var subject name.Digest
	switch ref := ref.(type) {
	case name.Digest:
		subject = ref
	default:
		desc, err := remote.Head(ref, opts...)
		if err != nil {
			a.registryProblem(w, r, "image "+ref.String(), err)
			return
		}
		subject = ref.Context().Digest(desc.Digest.String())
	}
	idx, err := remote.Referrers(subject, opts...)
	if err != nil {
		a.registryProblem(w, r, "the referrers of "+subject.String(), err)
		return
	}
	im, err := idx.IndexManifest()
	if err != nil {
		a.registryProblem(w, r, "the referrers of "+subject.String(), err)
		return
	}
	descs := slices.Clone(im.Manifests)
	slices.SortFunc(descs, func(x, y v1.Descriptor) int { return strings.Compare(x.Digest.String(), y.Digest.String()) })
	out := referrersReport{Image: subject.String(), Subject: subject.DigestStr(), Referrers: []referrerResult{}}
	if len(descs) > a.cfg.Referrers.MaxReferrers {
		descs, out.Truncated = descs[:a.cfg.Referrers.MaxReferrers], true
	}
	var envelopes []signing.Referrer
	var pending []int // out.Referrers index of each envelope
	for _, d := range descs {
		res := referrerResult{Digest: d.Digest.String(), ArtifactType: d.ArtifactType}
		layers, err := a.referrerLayers(subject, d, opts)
		if ctx.Err() != nil {
			a.registryProblem(w, r, "the referrers of "+subject.String(), ctx.Err())
			return
		}
		if err != nil {
			res.Error = err.Error()
			out.Referrers = append(out.Referrers, res)
			continue
		}
		if len(layers) == 0 {
			res.Error = "no " + dsseMediaType + " layer"
			out.Referrers = append(out.Referrers, res)
			continue
		}
		for _, l := range layers {
			lr := res
			lr.Envelope = l.digest
			if l.err != nil {
				lr.Error = l.err.Error()
			} else {
				pending = append(pending, len(out.Referrers))
				envelopes = append(envelopes, signing.Referrer{Ref: l.digest, Envelope: l.body})
			}
			out.Referrers = append(out.Referrers, lr)
		}
	}
	rep, err := signing.VerifyReferrers(ctx, kr, out.Subject, envelopes, signing.Limits{MaxEnvelopeBytes: int(a.cfg.Referrers.MaxEnvelopeBytes)})
	if err != nil {
		if ctx.Err() != nil {
			a.registryProblem(w, r, "the referrers of "+subject.String(), ctx.Err())
			return
		}
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "image: "+err.Error())
		return
	}
	for i, res := range rep.Results {
		o := &out.Referrers[pending[i]]
		o.PayloadType, o.KeyID, o.Algorithm, o.Subjects = res.PayloadType, res.KeyID, string(res.Algorithm), res.Subjects
		if res.Err != nil {
			o.Error = res.Err.Error()
		} else {
			o.Verified, out.Trusted = true, true
		}
	}
	api.WriteJSON(w, http.StatusOK, out)
}

type referrerLayer struct {
	digest string
	body   []byte
	err    error
}

// referrerLayers fetches a referrer's manifest and its DSSE layers, each bounded; a layer that
// cannot be had is reported with its error. The error is for the manifest.
func (a *reportsArea) referrerLayers(subject name.Digest, d v1.Descriptor, opts []remote.Option) ([]referrerLayer, error) {
	if d.Size > maxReferrerManifest {
		return nil, fmt.Errorf("manifest of %d bytes (at most %d)", d.Size, maxReferrerManifest)
	}
	desc, err := remote.Get(subject.Context().Digest(d.Digest.String()), opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching the manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("not an image manifest: %w", err)
	}
	var out []referrerLayer
	for _, l := range m.Layers {
		if string(l.MediaType) != dsseMediaType {
			continue
		}
		rl := referrerLayer{digest: l.Digest.String()}
		if l.Size > a.cfg.Referrers.MaxEnvelopeBytes {
			rl.err = fmt.Errorf("envelope of %d bytes (at most %d)", l.Size, a.cfg.Referrers.MaxEnvelopeBytes)
			out = append(out, rl)
			continue
		}
		rl.body, rl.err = fetchBlob(subject.Context().Digest(l.Digest.String()), l.Size, opts)
		out = append(out, rl)
	}
	return out, nil
}

// fetchBlob reads a blob of the expected size; go-containerregistry checks its digest when the
// read reaches the end, which reading one byte past the size makes sure of.
func fetchBlob(ref name.Digest, size int64, opts []remote.Option) ([]byte, error) {
	l, err := remote.Layer(ref, opts...)
	if err != nil {
		return nil, fmt.Errorf("fetching the envelope: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, fmt.Errorf("fetching the envelope: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("reading the envelope: %w", err)
	}
	if int64(len(b)) != size {
		return nil, fmt.Errorf("envelope of %d bytes, the manifest says %d", len(b), size)
	}
	return b, nil
}

// errInternalAddress refuses a registry connection to an address inside the network.
var errInternalAddress = errors.New("the address is loopback, private, link-local or unspecified")

// registryTransport is the transport of referrer checks. The caller names the registry, so
// unless it is listed in signing.referrers.allowedRegistries a connection to a loopback,
// private or link-local address is refused: the check must not become a way to probe the
// server's own network. The address is checked when the connection is made, after name
// resolution, so a public name resolving inside is refused too. (Behind an HTTPS_PROXY the
// connection goes to the proxy, which must then be public, or the registries listed.)
func registryTransport(allowInternal bool) http.RoundTripper {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowInternal {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip, err := netip.ParseAddr(host)
			if err != nil {
				return fmt.Errorf("%s: %w", address, err)
			}
			ip = ip.Unmap()
			if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
				ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
				return fmt.Errorf("%s: %w", address, errInternalAddress)
			}
			return nil
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = d.DialContext
	return t
}

// registryProblem answers a registry failure: 504 for the time limit, 404 for what the
// registry does not have, 403 for an internal address, 502 for anything else it said or did.
func (a *reportsArea) registryProblem(w http.ResponseWriter, r *http.Request, what string, err error) {
	var te *transport.Error
	switch {
	case errors.Is(err, errInternalAddress):
		api.WriteProblem(w, r, http.StatusForbidden, api.ProbForbidden,
			fmt.Sprintf("the registry of %s is at an internal (loopback, private or link-local) address; list it in signing.referrers.allowedRegistries to allow it", what))
	case errors.Is(err, context.DeadlineExceeded):
		api.WriteProblem(w, r, http.StatusGatewayTimeout, api.ProbUnavailable,
			fmt.Sprintf("the registry did not answer for %s within %s", what, a.cfg.Referrers.Timeout))
	case errors.As(err, &te) && te.StatusCode == http.StatusNotFound:
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("the registry has no %s", what))
	case errors.As(err, &te):
		api.WriteProblem(w, r, http.StatusBadGateway, api.ProbUnavailable, fmt.Sprintf("the registry answered %d for %s: %v", te.StatusCode, what, err))
	default:
		api.WriteProblem(w, r, http.StatusBadGateway, api.ProbUnavailable, fmt.Sprintf("the registry could not be reached for %s: %v", what, err))
	}
}

// imageEvidence is the area's service to the runtime area: the latest report of a digest and
// its newest attestation, each re-verified (signature against the current keys, inclusion
// against a fresh tree head), and whether an SBOM attestation exists.
func (a *reportsArea) imageEvidence(ctx context.Context, imageDigest string) (ImageEvidence, error) {
	d, err := reportstore.NormaliseDigest(imageDigest)
	if err != nil {
		return ImageEvidence{}, fmt.Errorf("image evidence: %w", err)
	}
	var ev ImageEvidence
	rep, err := a.store.LatestReport(ctx, d)
	switch {
	case err == nil:
		ev.PolicyVerdict, ev.PolicyRevision, ev.ReportID = evidenceVerdict(rep.Verdict), rep.PolicyRevision, rep.ReportID
		ref, signed, err := a.verifyStored(ctx, rep.Envelope, rep.LogID)
		if err != nil {
			return ImageEvidence{}, fmt.Errorf("image evidence: report %s: %w", rep.ReportID, err)
		}
		ev.Signed, ev.Attestation = signed, ref
	case !errors.Is(err, reportstore.ErrNotFound):
		return ImageEvidence{}, fmt.Errorf("image evidence: %w", err)
	}
	at, err := a.store.LatestAttestation(ctx, d)
	switch {
	case err == nil:
		ref, signed, err := a.verifyStored(ctx, at.Envelope, at.ID)
		if err != nil {
			return ImageEvidence{}, fmt.Errorf("image evidence: attestation %s: %w", at.ID, err)
		}
		ev.Signed = ev.Signed || signed
		if ev.Attestation == nil || ref.Index > ev.Attestation.Index {
			ev.Attestation = ref
		}
	case !errors.Is(err, reportstore.ErrNotFound):
		return ImageEvidence{}, fmt.Errorf("image evidence: %w", err)
	}
	_, err = a.store.LatestAttestation(ctx, d, attest.PredicateCycloneDX, attest.PredicateSPDX)
	switch {
	case err == nil:
		ev.HasSBOM = true
	case !errors.Is(err, reportstore.ErrNotFound):
		return ImageEvidence{}, fmt.Errorf("image evidence: %w", err)
	}
	return ev, nil
}

// verifyStored checks a stored envelope's signature and its log entry's inclusion.
func (a *reportsArea) verifyStored(ctx context.Context, envelope []byte, logID string) (*AttestationRef, bool, error) {
	signed := false
	if env, err := signing.Decode(envelope); err == nil {
		signed, _, _ = a.verifyEnvelope(ctx, env)
	}
	lc, err := a.checkInclusion(ctx, logID)
	if err != nil {
		return nil, false, err
	}
	return &AttestationRef{UUID: logID, Index: lc.LogIndex, Verified: lc.Verified}, signed, nil
}

// ImageEvidence returns what the reports area knows of an image digest (the service the
// runtime area uses), for tools and tests.
func (s *Server) ImageEvidence(ctx context.Context, imageDigest string) (ImageEvidence, error) {
	if s.areas.imageEvidence == nil {
		return ImageEvidence{}, errors.New("server: image evidence: the reports area is not mounted (role api)")
	}
	return s.areas.imageEvidence(ctx, imageDigest)
}

// evidenceVerdict maps a report verdict to the runtime contract's words (pass, warn, fail).
func evidenceVerdict(v string) string {
	if v == string(policy.PolicyBlocked) {
		return "fail"
	}
	return v
}
