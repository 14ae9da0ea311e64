package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/api"
	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/offlinekit"
	"github.com/stellaops/stellaops/internal/signing"
)

// The Offline Update Kit area (spec §3: `stellaops-cli offline kit pull|import|status`).
//
//	GET  /api/offline-kit/bundles/latest.json       concelier.read          the current snapshot's kit (built on first request)
//	GET  /api/offline-kit/bundles/{bundleId}/{file} concelier.read          descriptor.json or a file it lists; Range resumes
//	POST /api/offline-kit/import                    concelier.jobs.trigger  verify a kit and install its advisories
//	GET  /api/offline-kit/status                    concelier.read          the current import and the ones before it
//
// A connected site publishes kits: the kit of a snapshot is built once, signed with the report
// signing key, and kept in <shared>/offline-kit/bundles/<bundleId>/, next to latest.json. That
// directory is also what a static mirror (the CLI's Offline.KitMirror) serves: copied as it is,
// the mirror answers the same paths under its base URL. An air-gapped site imports kits: the
// advisories become its current snapshot, exactly the one the kit was built from.

// OfflineKitConfig is the "offlineKit" section.
type OfflineKitConfig struct {
	// TrustedKeys are the keys trusted to sign imported kits: keyId → public key file (PKIX PEM).
	// Empty trusts the report signing keys (signing.*), as a site that shares its vendor's key does.
	TrustedKeys map[string]string `json:"trustedKeys"`
	// RequireSignatures refuses a kit without a bundle signature (default true).
	RequireSignatures bool `json:"requireSignatures"`
	// MaxBundleBytes bounds an uploaded bundle (default 2 GiB).
	MaxBundleBytes int64 `json:"maxBundleBytes"`
}

func (c *OfflineKitConfig) defaults() {
	c.RequireSignatures = true
	c.MaxBundleBytes = 2 << 30
}

func (c *OfflineKitConfig) validate() error {
	var errs []error
	if c.MaxBundleBytes < 1<<20 || c.MaxBundleBytes > 64<<30 {
		errs = append(errs, errors.New("offlineKit.maxBundleBytes must be between 1 MiB and 64 GiB"))
	}
	for id, file := range c.TrustedKeys {
		if id == "" || file == "" {
			errs = append(errs, errors.New("offlineKit.trustedKeys: want keyId: path/to/key.pem"))
		}
	}
	return errors.Join(errs...)
}

// offlineKitSmallPart bounds the manifest and signature parts of an import.
const offlineKitSmallPart = 1 << 20

type offlineKitArea struct {
	s        *Server
	bundles  string
	snaps    *snapshot.Store
	signer   signing.KeyProvider
	importer *offlinekit.Importer
	tmp      string
	maxBody  int64
	// building serialises builds in this process; replicas that race produce the same files.
	building sync.Mutex
	// importing serialises imports in this process, so two uploads of one kit install it once.
	importing sync.Mutex
}

func (s *Server) mountOfflineKit(ctx context.Context) error {
	if !s.cfg.HasRole("api") {
		return nil
	}
	if s.areas.signingKeys == nil {
		return errors.New("the report signing keys are not available")
	}
	c := s.cfg.OfflineKit
	shared := s.cfg.sharedDir(s.opts.DataDir)
	snaps, err := snapshot.OpenStore(filepath.Join(shared, "snapshots"))
	if err != nil {
		return err
	}
	recs, err := offlinekit.OpenRecords(filepath.Join(shared, "offline-kit", "imports"))
	if err != nil {
		return err
	}
	trusted := s.areas.signingKeys
	if len(c.TrustedKeys) > 0 {
		if trusted, err = trustedKeyring(ctx, "offlineKit.trustedKeys", c.TrustedKeys); err != nil {
			return err
		}
	}
	now := s.opts.Now
	if now == nil {
		now = time.Now
	}
	tmp := filepath.Join(s.opts.DataDir, "tmp", "offline-kit")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	a := &offlineKitArea{
		s: s, bundles: filepath.Join(shared, "offline-kit", "bundles"), snaps: snaps, signer: s.areas.signingKeys, tmp: tmp,
		maxBody: c.MaxBundleBytes + 4*offlineKitSmallPart,
		importer: &offlinekit.Importer{Snapshots: snaps, Records: recs, Keys: trusted, RequireSignatures: c.RequireSignatures,
			Limits: offlinekit.DefaultLimits(), Now: now},
	}
	for _, rt := range []api.Route{
		{Method: http.MethodGet, Path: "/api/offline-kit/bundles/latest.json", Scope: authority.ScopeConcelierRead, Anonymous: true,
			Summary: "the offline kit of the current advisory snapshot", Handler: a.latest},
		{Method: http.MethodGet, Path: "/api/offline-kit/bundles/{bundleId}/{file}", Scope: authority.ScopeConcelierRead, Anonymous: true,
			Summary: "a file of a published offline kit", Handler: a.file},
		{Method: http.MethodPost, Path: "/api/offline-kit/import", Scope: authority.ScopeConcelierTrigger, Audit: true, MaxBody: a.maxBody,
			Summary: "import an offline kit", Handler: a.postImport},
		{Method: http.MethodGet, Path: "/api/offline-kit/status", Scope: authority.ScopeConcelierRead, Anonymous: true,
			Summary: "the imported offline kits", Handler: a.status},
	} {
		if err := s.API.Handle(rt); err != nil {
			return err
		}
	}
	return nil
}

// latest answers with the descriptor of the current snapshot's kit, building it if needed.
func (a *offlineKitArea) latest(w http.ResponseWriter, r *http.Request) {
	snap, err := a.snaps.Current()
	if errors.Is(err, snapshot.ErrNoSnapshot) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no advisory snapshot is published yet: run a Concelier merge or import a kit")
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	defer snap.Close()
	kr, err := a.signer.Keyring(r.Context())
	if err != nil {
		a.internal(w, r, err)
		return
	}
	a.building.Lock()
	d, err := offlinekit.Build(r.Context(), a.bundles, snap, kr, "stellaops "+buildinfo.Get().Version)
	if err == nil {
		// latest.json beside the kits, so that a copy of the directory is a working mirror.
		err = offlinekit.WriteLatest(a.bundles, d)
	}
	a.building.Unlock()
	if err != nil {
		a.internal(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, d)
}

func (a *offlineKitArea) published(w http.ResponseWriter, r *http.Request) (*offlinekit.Descriptor, bool) {
	id := r.PathValue("bundleId")
	if !offlinekit.ValidBundleID(id) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, "no such offline kit")
		return nil, false
	}
	d, err := offlinekit.ReadDescriptor(filepath.Join(a.bundles, id))
	if errors.Is(err, os.ErrNotExist) {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("no offline kit %q is published here", id))
		return nil, false
	}
	if err != nil {
		a.internal(w, r, err)
		return nil, false
	}
	return d, true
}

// file serves the descriptor or one listed file; http.ServeContent answers Range and If-Range requests, which
// `offline kit pull` uses to resume.
func (a *offlineKitArea) file(w http.ResponseWriter, r *http.Request) {
	d, ok := a.published(w, r)
	if !ok {
		return
	}
	name := r.PathValue("file")
	if name == offlinekit.DescriptorName {
		api.WriteJSON(w, http.StatusOK, d)
		return
	}
	i := slices.IndexFunc(d.Files, func(f offlinekit.File) bool { return f.Name == name })
	if i < 0 {
		api.WriteProblem(w, r, http.StatusNotFound, api.ProbNotFound, fmt.Sprintf("offline kit %s has no file %q", d.BundleID, truncateRunes(name, 80)))
		return
	}
	f, err := os.Open(filepath.Join(a.bundles, d.BundleID, name))
	if err != nil {
		a.internal(w, r, err)
		return
	}
	defer f.Close()
	ct := "application/json"
	if d.Files[i].Role == offlinekit.RoleBundle {
		ct = "application/gzip"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"sha256:`+d.Files[i].SHA256+`"`)
	w.Header().Set("X-StellaOps-Digest", "sha256:"+d.Files[i].SHA256)
	http.ServeContent(w, r, name, d.CapturedAt, f)
}

// postImport takes a multipart upload: bundle (required), manifest, bundleSignature and
// manifestSignature. The bundle is spooled to disk first, so the parts may come in any order.
func (a *offlineKitArea) postImport(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		api.WriteProblem(w, r, http.StatusUnsupportedMediaType, api.ProbUnsupportedType,
			"send multipart/form-data with a bundle part (and manifest, bundleSignature, manifestSignature parts when you have them)")
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "malformed multipart body: "+err.Error())
		return
	}
	spool, err := os.CreateTemp(a.tmp, "import-*")
	if err != nil {
		a.internal(w, r, err)
		return
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	req := offlinekit.ImportRequest{}
	small := map[string]*[]byte{"manifest": &req.Manifest, "bundleSignature": &req.BundleSignature, "manifestSignature": &req.ManifestSignature}
	haveBundle := false
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			a.readFailed(w, r, err)
			return
		}
		name := p.FormName()
		switch dst, isSmall := small[name]; {
		case name == "bundle":
			if haveBundle {
				api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "more than one bundle part")
				return
			}
			haveBundle = true
			if _, err := io.Copy(spool, p); err != nil {
				a.readFailed(w, r, err)
				return
			}
		case isSmall:
			if *dst != nil {
				api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, fmt.Sprintf("more than one %s part", name))
				return
			}
			b, err := io.ReadAll(io.LimitReader(p, offlineKitSmallPart+1))
			if err != nil {
				a.readFailed(w, r, err)
				return
			}
			if len(b) > offlineKitSmallPart {
				api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge, fmt.Sprintf("the %s part is larger than %d bytes", name, offlineKitSmallPart))
				return
			}
			*dst = b
		default:
			api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation,
				fmt.Sprintf("unknown part %q (want bundle, manifest, bundleSignature, manifestSignature)", truncateRunes(name, 64)))
			return
		}
	}
	if !haveBundle {
		api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "no bundle part")
		return
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		a.internal(w, r, err)
		return
	}
	req.Bundle = spool
	a.importing.Lock()
	rec, created, err := a.importer.Import(r.Context(), req)
	a.importing.Unlock()
	switch {
	case errors.Is(err, offlinekit.ErrInvalid):
		a.s.log.WarnContext(r.Context(), "offline kit refused", "component", "offline-kit", "err", err, "traceId", api.TraceID(r.Context()))
		api.WriteProblem(w, r, http.StatusUnprocessableEntity, api.ProbValidation, err.Error())
	case err != nil:
		a.internal(w, r, err)
	default:
		status := http.StatusOK
		if created {
			status = http.StatusCreated
			a.s.log.InfoContext(r.Context(), "offline kit imported", "component", "offline-kit", "importId", rec.ImportID,
				"bundleId", rec.BundleID, "snapshot", rec.SnapshotDigest, "advisories", rec.Advisories)
		}
		api.WriteJSON(w, status, rec)
	}
}

// readFailed answers a body that could not be read: too large (413) or malformed (400).
func (a *offlineKitArea) readFailed(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		api.WriteProblem(w, r, http.StatusRequestEntityTooLarge, api.ProbTooLarge,
			fmt.Sprintf("the upload is larger than %d bytes (offlineKit.maxBundleBytes)", a.s.cfg.OfflineKit.MaxBundleBytes))
		return
	}
	if r.Context().Err() != nil {
		return
	}
	api.WriteProblem(w, r, http.StatusBadRequest, api.ProbValidation, "reading the upload: "+err.Error())
}

// offlineKitStatus is the answer of GET /api/offline-kit/status.
type offlineKitStatus struct {
	// Current is the last import (null before the first).
	Current *offlinekit.Record `json:"current"`
	// Imports are the last imports, newest first.
	Imports []offlinekit.Record `json:"imports"`
}

func (a *offlineKitArea) status(w http.ResponseWriter, r *http.Request) {
	st := offlineKitStatus{Imports: []offlinekit.Record{}}
	cur, err := a.importer.Records.Current()
	switch {
	case err == nil:
		st.Current = &cur
	case !errors.Is(err, offlinekit.ErrNoRecord):
		a.internal(w, r, err)
		return
	}
	list, err := a.importer.Records.List(20)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if list != nil {
		st.Imports = list
	}
	api.WriteJSON(w, http.StatusOK, st)
}

func (a *offlineKitArea) internal(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the caller went away
	}
	a.s.log.ErrorContext(r.Context(), "offline kit request failed", "component", "offline-kit", "err", err, "traceId", api.TraceID(r.Context()))
	api.WriteProblem(w, r, http.StatusInternalServerError, api.ProbInternal, "the server failed; the trace id finds the log entry")
}
