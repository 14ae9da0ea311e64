package stellaopscli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/atomicfile"
	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// The Offline Update Kit commands (spec §3): pull a kit from the backend or a mirror, import it
// into a backend, show what was imported.

type kitPullFlags struct {
	bundleID, destination string
	overwrite, noResume   bool
	// backoff is the first retry delay (doubled each attempt); hidden, for tests.
	backoff time.Duration
}

type kitImportFlags struct {
	manifest, bundleSignature, manifestSignature string
}

func offlineCommand(g *globals) *cobra.Command {
	offline := &cobra.Command{Use: "offline", Short: "Offline Update Kit: pull, import and inspect kits for air-gapped sites"}
	kit := &cobra.Command{Use: "kit", Short: "Offline Update Kit bundles"}
	offline.AddCommand(kit)

	pf := &kitPullFlags{}
	pull := &cobra.Command{
		Use:   "pull",
		Short: "Download the latest offline kit bundle and manifest",
		Long: `Download the latest offline kit bundle and manifest.

Reads the kit's descriptor from StellaOps:Offline:KitMirror (env STELLAOPS_OFFLINE_MIRROR_URL)
when set, else from the backend (GET /api/offline-kit/bundles/latest.json, or
<bundle-id>/descriptor.json with --bundle-id), then downloads the bundle, its manifest and both
signatures into --destination (default StellaOps:Offline:KitsDirectory, env
STELLAOPS_OFFLINE_KITS_DIR). Each file is streamed into <name>.partial and checked against the
descriptor's SHA-256 before it takes its name; an interrupted download resumes from the
.partial file (an HTTP range request) unless --no-resume. Writes <bundle>.metadata.json beside
the files. A file already present with the right digest is kept; one with another digest is
replaced only with --overwrite.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.kitPull(cmd.Context(), pf) },
	}
	fl := pull.Flags()
	fl.StringVar(&pf.bundleID, "bundle-id", "", "the kit to download (default: the latest)")
	fl.StringVar(&pf.destination, "destination", "", "directory to write into (default: Offline.KitsDirectory)")
	fl.BoolVar(&pf.overwrite, "overwrite", false, "replace files that differ from the kit's")
	fl.BoolVar(&pf.noResume, "no-resume", false, "start interrupted downloads over instead of resuming them")
	fl.DurationVar(&pf.backoff, "retry-backoff", time.Second, "first retry delay, doubled each attempt")
	_ = fl.MarkHidden("retry-backoff")

	imf := &kitImportFlags{}
	imp := &cobra.Command{
		Use:   "import BUNDLE.tgz",
		Short: "Upload an offline kit bundle to the backend",
		Long: `Upload an offline kit bundle to the backend.

Posts the bundle, its manifest and signatures to POST /api/offline-kit/import, which verifies
them against the keys it trusts and installs the kit's advisories as the current snapshot. The
manifest and signatures default to the files 'offline kit pull' wrote beside the bundle. When
<bundle>.metadata.json is present, every file's SHA-256 is checked against it before anything is
sent. Prints the import id and status.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return g.kitImport(cmd.Context(), args[0], imf) },
	}
	fi := imp.Flags()
	fi.StringVar(&imf.manifest, "manifest", "", "the kit's manifest (default: <bundle id>.offline-manifest.json beside the bundle)")
	fi.StringVar(&imf.bundleSignature, "bundle-signature", "", "the bundle's signature (default: <bundle>.sig)")
	fi.StringVar(&imf.manifestSignature, "manifest-signature", "", "the manifest's signature (default: <manifest>.sig)")

	asJSON := false
	status := &cobra.Command{
		Use:   "status",
		Short: "Display imported offline kit details",
		Long: `Display imported offline kit details: the current kit's id and kind, when it was captured and
imported, its digests, the snapshot it installed and its components' versions, then earlier
imports. --json prints the backend's answer for scripts.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.kitStatus(cmd.Context(), asJSON) },
	}
	status.Flags().BoolVar(&asJSON, "json", false, "machine-readable output")
	kit.AddCommand(pull, imp, status)
	return offline
}

// kitMetadata is <bundle>.metadata.json.
type kitMetadata struct {
	BundleID       string                  `json:"bundleId"`
	Kind           string                  `json:"kind"`
	CapturedAt     time.Time               `json:"capturedAt"`
	SnapshotDigest string                  `json:"snapshotDigest"`
	Advisories     int                     `json:"advisories"`
	Source         string                  `json:"source"`
	Files          []client.OfflineKitFile `json:"files"`
	DownloadedAt   time.Time               `json:"downloadedAt"`
	Resumed        bool                    `json:"resumed"`
	CLIVersion     string                  `json:"cliVersion"`
}

var kitIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// kitSource is where kits are read from: a mirror, or the backend's /api/offline-kit/.
func (g *globals) kitSource(ctx context.Context) (base, token string, err error) {
	cfg, err := g.config()
	if err != nil {
		return "", "", err
	}
	if m := cfg.Offline.KitMirror; m != "" {
		return strings.TrimRight(m, "/") + "/", "", nil
	}
	if cfg.BackendURL == "" {
		return "", "", cli.Usagef("no kit source: set StellaOps:Offline:KitMirror (env STELLAOPS_OFFLINE_MIRROR_URL) or StellaOps:BackendUrl (env STELLAOPS_BACKEND_URL)")
	}
	if token, err = bearer(ctx, cfg); err != nil {
		return "", "", err
	}
	return strings.TrimRight(cfg.BackendURL, "/") + "/api/offline-kit/", token, nil
}

func (g *globals) kitDescriptor(ctx context.Context, base, token, id string) (*client.OfflineKitDescriptor, string, error) {
	u := base + "bundles/latest.json"
	if id != "" {
		if !kitIDRe.MatchString(id) {
			return nil, "", cli.Usagef("--bundle-id %q: want 1-128 of a-z 0-9 . _ -", id)
		}
		u = base + "bundles/" + id + "/descriptor.json"
	}
	req, err := artifactRequest(ctx, u, token)
	if err != nil {
		return nil, u, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, u, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, u, httpStatusError(u, resp)
	}
	var d client.OfflineKitDescriptor
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d); err != nil {
		return nil, u, &permanentError{fmt.Errorf("GET %s: not a kit descriptor: %w", u, err)}
	}
	if err := checkDescriptor(&d); err != nil {
		return nil, u, &permanentError{fmt.Errorf("GET %s: %w", u, err)}
	}
	return &d, u, nil
}

// checkDescriptor refuses a descriptor that would write outside the destination or lacks a file.
func checkDescriptor(d *client.OfflineKitDescriptor) error {
	if !kitIDRe.MatchString(d.BundleID) {
		return fmt.Errorf("bundle id %.80q is not a kit id", d.BundleID)
	}
	seen := map[string]bool{}
	for _, f := range d.Files {
		if f.Name == "" || f.Name != filepath.Base(f.Name) || strings.HasPrefix(f.Name, ".") || strings.ContainsAny(f.Name, `/\`) {
			return fmt.Errorf("file name %.80q is not a plain file name", f.Name)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != sha256.Size || f.Size < 0 {
			return fmt.Errorf("file %s: sha256 %.80q or size %d is not valid", f.Name, f.SHA256, f.Size)
		}
		seen[f.Role] = true
	}
	for _, r := range []string{client.OfflineKitBundle, client.OfflineKitManifest, client.OfflineKitBundleSignature, client.OfflineKitManifestSignature} {
		if !seen[r] {
			return fmt.Errorf("the descriptor lists no %s", r)
		}
	}
	return nil
}

func (g *globals) kitPull(ctx context.Context, f *kitPullFlags) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	base, token, err := g.kitSource(ctx)
	if err != nil {
		return err
	}
	dest := f.destination
	if dest == "" {
		dest = cfg.Offline.KitsDirectory
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	d, src, err := g.kitDescriptor(ctx, base, token, f.bundleID)
	if err != nil {
		return fmt.Errorf("offline kit pull: %w", err)
	}
	md := kitMetadata{BundleID: d.BundleID, Kind: d.Kind, CapturedAt: d.CapturedAt, SnapshotDigest: d.SnapshotDigest,
		Advisories: d.Advisories, Source: src, Files: d.Files, CLIVersion: buildinfo.Get().Version}
	for _, file := range d.Files {
		u := base + "bundles/" + d.BundleID + "/" + url.PathEscape(file.Name)
		res, err := g.pullFile(ctx, u, token, filepath.Join(dest, file.Name), file, f)
		if err != nil {
			return fmt.Errorf("offline kit pull: %s: %w", file.Name, err)
		}
		md.Resumed = md.Resumed || res == "resumed"
		fmt.Fprintf(g.io.Out, "%-8s %s\t%d bytes\tsha256:%s\n", res, filepath.Join(dest, file.Name), file.Size, file.SHA256)
	}
	md.DownloadedAt = time.Now().UTC()
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	mdPath := filepath.Join(dest, d.File(client.OfflineKitBundle).Name+".metadata.json")
	if err := atomicfile.Write(mdPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "Offline kit %s (%s, captured %s, %d advisories, snapshot %s)\nSource:   %s\nMetadata: %s\n",
		d.BundleID, d.Kind, d.CapturedAt.UTC().Format(time.RFC3339), d.Advisories, d.SnapshotDigest, src, mdPath)
	return nil
}

// pullFile brings dst to the descriptor's content, retrying with backoff; it reports what it
// did: "kept" (already there), "fetched", or "resumed".
func (g *globals) pullFile(ctx context.Context, u, token, dst string, want client.OfflineKitFile, f *kitPullFlags) (string, error) {
	if sum, err := fileSHA256(dst); err == nil {
		if sum == want.SHA256 {
			return "kept", nil
		}
		if !f.overwrite {
			return "", fmt.Errorf("%s exists with other content (sha256:%s); pass --overwrite to replace it", dst, sum)
		}
	}
	partial := dst + ".partial"
	if f.noResume {
		_ = os.Remove(partial)
	}
	const attempts = 3
	resumed := false
	if n, err := g.retry(ctx, attempts, f.backoff, "offline kit download of "+filepath.Base(dst)+" failed; retrying from where it stopped", func() error {
		r, err := fetchRange(ctx, u, token, partial, want)
		resumed = resumed || r
		return err
	}); err != nil {
		return "", fmt.Errorf("attempt %d of %d: %w", n, attempts, err)
	}
	sum, err := fileSHA256(partial)
	if err != nil {
		return "", err
	}
	if sum != want.SHA256 {
		_ = os.Remove(partial)
		return "", fmt.Errorf("downloaded sha256:%s, the kit's descriptor says sha256:%s; the partial file was removed", sum, want.SHA256)
	}
	if err := os.Rename(partial, dst); err != nil {
		return "", err
	}
	if resumed {
		return "resumed", nil
	}
	return "fetched", nil
}

// fetchRange appends the rest of the file to partial: from its current size with an If-Range
// on the file's digest (the server answers the whole file if it changed), or from the start.
func fetchRange(ctx context.Context, u, token, partial string, want client.OfflineKitFile) (resumed bool, err error) {
	var have int64
	if fi, err := os.Stat(partial); err == nil {
		have = fi.Size()
	}
	if have > want.Size {
		_ = os.Remove(partial)
		have = 0
	}
	if have == want.Size && have > 0 {
		return true, nil
	}
	req, err := artifactRequest(ctx, u, token)
	if err != nil {
		return false, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		req.Header.Set("If-Range", `"sha256:`+want.SHA256+`"`)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if !strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)) {
			return false, fmt.Errorf("GET %s: asked for bytes %d-, got range %q", u, have, resp.Header.Get("Content-Range"))
		}
		flags |= os.O_APPEND
		resumed = true
	case http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	default:
		return false, httpStatusError(u, resp)
	}
	out, err := os.OpenFile(partial, flags, 0o644)
	if err != nil {
		return false, &permanentError{err}
	}
	_, err = io.Copy(out, io.LimitReader(resp.Body, want.Size-have+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return resumed, err
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (g *globals) kitImport(ctx context.Context, bundlePath string, f *kitImportFlags) error {
	c, err := g.backend()
	if err != nil {
		return err
	}
	bundle, err := os.Open(bundlePath)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	defer bundle.Close()
	// What pull wrote beside the bundle: the metadata, and the files it names.
	var md *kitMetadata
	if b, err := os.ReadFile(bundlePath + ".metadata.json"); err == nil {
		md = &kitMetadata{}
		if err := json.Unmarshal(b, md); err != nil {
			return fmt.Errorf("%s.metadata.json: %w", bundlePath, err)
		}
	}
	dir := filepath.Dir(bundlePath)
	sibling := func(flag, role, fallback string) string {
		if flag != "" {
			return flag
		}
		if md != nil {
			for _, file := range md.Files {
				if file.Role == role {
					return filepath.Join(dir, file.Name)
				}
			}
		}
		if fallback != "" {
			if _, err := os.Stat(fallback); err == nil {
				return fallback
			}
		}
		return ""
	}
	stem := strings.TrimSuffix(bundlePath, ".tgz")
	paths := map[string]string{
		client.OfflineKitManifest:          sibling(f.manifest, client.OfflineKitManifest, stem+".offline-manifest.json"),
		client.OfflineKitBundleSignature:   sibling(f.bundleSignature, client.OfflineKitBundleSignature, bundlePath+".sig"),
		client.OfflineKitManifestSignature: sibling(f.manifestSignature, client.OfflineKitManifestSignature, stem+".offline-manifest.json.sig"),
	}
	if md != nil {
		for _, file := range md.Files {
			p := paths[file.Role]
			if file.Role == client.OfflineKitBundle {
				p = bundlePath
			}
			if p == "" {
				continue
			}
			sum, err := fileSHA256(p)
			if err != nil {
				return err
			}
			if sum != file.SHA256 {
				return fmt.Errorf("%s has sha256:%s, %s.metadata.json says sha256:%s: the file changed since it was pulled", p, sum, bundlePath, file.SHA256)
			}
		}
	}
	up := client.OfflineKitUpload{Bundle: bundle, BundleName: filepath.Base(bundlePath)}
	for role, dst := range map[string]*[]byte{client.OfflineKitManifest: &up.Manifest, client.OfflineKitBundleSignature: &up.BundleSignature,
		client.OfflineKitManifestSignature: &up.ManifestSignature} {
		if paths[role] == "" {
			continue
		}
		b, err := os.ReadFile(paths[role])
		if err != nil {
			return cli.Usagef("%v", err)
		}
		*dst = b
	}
	if up.BundleSignature == nil {
		g.log.Warn("no bundle signature found; the backend refuses unsigned kits unless offlineKit.requireSignatures is false", "bundle", bundlePath)
	}
	rec, created, err := c.ImportOfflineKit(ctx, up)
	if err != nil {
		return fmt.Errorf("offline kit import: %w", err)
	}
	what := "Imported"
	if !created {
		what = "Already imported"
	}
	fmt.Fprintf(g.io.Out, "%s %s\nImport:     %s (%s)\nSnapshot:   %s (%d advisories)\nSigned by:  %s\n",
		what, rec.BundleID, rec.ImportID, rec.Status, rec.SnapshotDigest, rec.Advisories, strings.Join(orNone(rec.SignedBy), ", "))
	return nil
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"(unsigned)"}
	}
	return s
}

func (g *globals) kitStatus(ctx context.Context, asJSON bool) error {
	c, err := g.backend()
	if err != nil {
		return err
	}
	st, err := c.OfflineKitStatus(ctx)
	if err != nil {
		return fmt.Errorf("offline kit status: %w", err)
	}
	if asJSON {
		enc := json.NewEncoder(g.io.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	if st.Current == nil {
		fmt.Fprintln(g.io.Out, "No offline kit imported.")
		return nil
	}
	k := st.Current
	tw := tabwriter.NewWriter(g.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Bundle:\t%s\nKind:\t%s\nStatus:\t%s\nImport:\t%s\nCaptured:\t%s\nImported:\t%s\nBundle digest:\tsha256:%s\nManifest digest:\tsha256:%s\nSnapshot:\t%s (%d advisories)\nGenerator:\t%s\nSigned by:\t%s\n",
		k.BundleID, k.Kind, k.Status, k.ImportID, k.CapturedAt.UTC().Format(time.RFC3339), k.ImportedAt.UTC().Format(time.RFC3339),
		k.BundleSHA256, k.ManifestSHA256, k.SnapshotDigest, k.Advisories, k.Generator, strings.Join(orNone(k.SignedBy), ", "))
	for _, comp := range k.Components {
		fmt.Fprintf(tw, "Component:\t%s %s\t%d bytes\n", comp.Name, comp.Version, comp.Size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(st.Imports) > 1 {
		fmt.Fprintln(g.io.Out, "\nEarlier imports:")
		for _, r := range st.Imports[1:] {
			fmt.Fprintf(g.io.Out, "  %s  %s  %s\n", r.ImportedAt.UTC().Format(time.RFC3339), r.ImportID, r.BundleID)
		}
	}
	return nil
}
