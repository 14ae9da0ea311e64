package stellaopscli

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
)

// scannerArtifactPath is where the backend serves scanner bundles, by channel.
const scannerArtifactPath = "/api/scanner/artifacts/"

// scannerChannels are the release channels of `scanner download`.
var scannerChannels = []string{"stable", "beta", "nightly"}

type scannerDownloadFlags struct {
	channel, output      string
	overwrite, noInstall bool
	// backoff is the first retry delay (doubled each attempt); hidden, for tests.
	backoff time.Duration
}

func scannerCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "scanner", Short: "Fetch and install the scanner container"}
	f := &scannerDownloadFlags{}
	dl := &cobra.Command{
		Use:   "download",
		Short: "Fetch and install scanner container",
		Long: `Fetch and install scanner container.

Downloads the scanner bundle of --channel from the backend (GET /api/scanner/artifacts/<channel>)
into ScannerCacheDirectory (or --output), verifies its SHA-256 against the X-StellaOps-Digest
header and, when StellaOps:ScannerSignaturePublicKeyPath names a PEM RSA public key, the
X-StellaOps-Signature header (base64 RSA signature of the SHA-256). Failed downloads are retried
StellaOps:ScannerDownloadAttempts times (default 3) with exponential backoff. Writes
<artifact>.metadata.json beside it (digest, signature, source URL, timestamps) and runs
'docker load' unless --no-install.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.scannerDownload(cmd.Context(), f) },
	}
	fl := dl.Flags()
	fl.StringVar(&f.channel, "channel", "stable", "release channel: "+strings.Join(scannerChannels, "|"))
	fl.StringVar(&f.output, "output", "", "file to write (default: ScannerCacheDirectory/<artifact name>)")
	fl.BoolVar(&f.overwrite, "overwrite", false, "replace an existing file")
	fl.BoolVar(&f.noInstall, "no-install", false, "do not run docker load")
	fl.DurationVar(&f.backoff, "retry-backoff", time.Second, "first retry delay, doubled each attempt")
	_ = fl.MarkHidden("retry-backoff")
	cmd.AddCommand(dl)
	return cmd
}

// scannerMetadata is the <artifact>.metadata.json document.
type scannerMetadata struct {
	Channel           string    `json:"channel"`
	SourceURL         string    `json:"sourceUrl"`
	Path              string    `json:"path"`
	SizeBytes         int64     `json:"sizeBytes"`
	Digest            string    `json:"digest"`
	Signature         string    `json:"signature,omitempty"`
	SignatureVerified bool      `json:"signatureVerified"`
	Attempts          int       `json:"attempts"`
	DownloadedAt      time.Time `json:"downloadedAt"`
	Installed         bool      `json:"installed"`
	CLIVersion        string    `json:"cliVersion"`
}

func (g *globals) scannerDownload(ctx context.Context, f *scannerDownloadFlags) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	known := false
	for _, c := range scannerChannels {
		known = known || c == f.channel
	}
	if !known {
		return cli.Usagef("--channel %q: want %s", f.channel, strings.Join(scannerChannels, ", "))
	}
	if cfg.BackendURL == "" {
		return cli.Usagef("no backend: set StellaOps:BackendUrl (env STELLAOPS_BACKEND_URL)")
	}
	var pub *rsa.PublicKey
	if p := cfg.ScannerSignaturePublicKeyPath; p != "" {
		if pub, err = readRSAPublicKey(p); err != nil {
			return cli.Usagef("ScannerSignaturePublicKeyPath: %v", err)
		}
	}
	token, err := bearer(ctx, cfg)
	if err != nil {
		return err
	}
	src := strings.TrimRight(cfg.BackendURL, "/") + scannerArtifactPath + f.channel
	dir := cfg.ScannerCacheDirectory
	if f.output != "" {
		dir = filepath.Dir(f.output)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var dl *download
	attempts, err := g.retry(ctx, cfg.ScannerDownloadAttempts, f.backoff, "scanner download failed; retrying", func() (err error) {
		dl, err = fetchArtifact(ctx, src, token, dir)
		return err
	})
	if err != nil {
		return fmt.Errorf("scanner download (attempt %d of %d): %w", attempts, cfg.ScannerDownloadAttempts, err)
	}
	dl.attempts = attempts
	defer os.Remove(dl.tmp)

	verified := false
	if pub != nil {
		if dl.signature == "" {
			return errors.New("scanner download: a signature key is configured but the response has no X-StellaOps-Signature")
		}
		sig, err := base64.StdEncoding.DecodeString(dl.signature)
		if err != nil {
			return fmt.Errorf("scanner download: X-StellaOps-Signature is not base64: %w", err)
		}
		if err := verifyRSA(pub, dl.sum, sig); err != nil {
			return fmt.Errorf("scanner download: signature does not verify with %s: %w", cfg.ScannerSignaturePublicKeyPath, err)
		}
		verified = true
	}
	dst := f.output
	if dst == "" {
		dst = filepath.Join(dir, dl.name)
	}
	if _, err := os.Stat(dst); err == nil && !f.overwrite {
		return fmt.Errorf("%s exists; pass --overwrite to replace it", dst)
	}
	if err := os.Rename(dl.tmp, dst); err != nil {
		return err
	}
	md := scannerMetadata{Channel: f.channel, SourceURL: src, Path: dst, SizeBytes: dl.size, Digest: "sha256:" + hex.EncodeToString(dl.sum),
		Signature: dl.signature, SignatureVerified: verified, Attempts: dl.attempts, DownloadedAt: time.Now().UTC(), CLIVersion: buildinfo.Get().Version}
	if !f.noInstall {
		out, err := exec.CommandContext(ctx, "docker", "load", "-i", dst).CombinedOutput()
		if err != nil {
			_ = writeScannerMetadata(dst, md)
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				// The scanner's (here docker's) exit code propagates, as the spec says.
				return cli.Exit(ee.ExitCode(), fmt.Errorf("docker load -i %s: %s", dst, strings.TrimSpace(string(out))))
			}
			return fmt.Errorf("docker load -i %s: %w", dst, err)
		}
		md.Installed = true
		g.log.Info("docker load", "output", strings.TrimSpace(string(out)))
	}
	if err := writeScannerMetadata(dst, md); err != nil {
		return err
	}
	fmt.Fprintf(g.io.Out, "%s\t%s\t%d bytes\tsignature %s\n", dst, md.Digest, md.SizeBytes, map[bool]string{true: "verified", false: "not checked"}[verified])
	return nil
}

// download is an artefact fetched into a temporary file, its digest checked.
type download struct {
	tmp, name, signature string
	sum                  []byte
	size                 int64
	attempts             int
}

// permanentError is a download failure a retry cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// bearer is the token downloads send to the backend: ApiKey, else the Authority login's
// (cached) access token, else none.
func bearer(ctx context.Context, cfg *clientcfg.Config) (string, error) {
	if cfg.APIKey != "" || cfg.Authority.ClientID == "" {
		return cfg.APIKey, nil
	}
	t, _, err := cfg.Login(ctx, false, time.Now())
	if err != nil {
		return "", err
	}
	return t.AccessToken, nil
}

// artifactRequest is a GET of a downloadable artefact, with the token when there is one.
func artifactRequest(ctx context.Context, u, token string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &permanentError{err}
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "stellaops-cli/"+buildinfo.Get().Version)
	return req, nil
}

// httpStatusError describes an unexpected answer, with the problem's detail when it has one;
// 4xx other than 429 are permanent (a retry gets the same answer).
func httpStatusError(u string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
	var p struct{ Detail string }
	if json.Unmarshal(body, &p) == nil && p.Detail != "" {
		msg += ": " + p.Detail
	}
	if resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return &permanentError{errors.New(msg)}
	}
	return errors.New(msg)
}

// retry calls fn up to attempts times, waiting backoff, then twice that, and so on, between
// tries; a permanentError or a cancelled ctx ends it at once. It returns the attempts made and
// the last error.
func (g *globals) retry(ctx context.Context, attempts int, backoff time.Duration, warn string, fn func() error) (int, error) {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return attempt, nil
		}
		var perm *permanentError
		if errors.As(err, &perm) || attempt >= attempts || ctx.Err() != nil {
			return attempt, err
		}
		delay := backoff << (attempt - 1)
		g.log.Warn(warn, "attempt", attempt, "delay", delay.String(), "error", err)
		select {
		case <-ctx.Done():
			return attempt, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// fetchArtifact downloads src into a temporary file in dir and checks X-StellaOps-Digest.
func fetchArtifact(ctx context.Context, src, token, dir string) (*download, error) {
	req, err := artifactRequest(ctx, src, token)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, httpStatusError(src, resp)
	}
	want, err := parseDigestHeader(resp.Header.Get("X-StellaOps-Digest"))
	if err != nil {
		return nil, &permanentError{err}
	}
	name := "stellaops-scanner.tar.gz"
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		name = filepath.Base(params["filename"])
	}
	tmp, err := os.CreateTemp(dir, ".scanner-download-*")
	if err != nil {
		return nil, &permanentError{err}
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), resp.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	sum := h.Sum(nil)
	if hex.EncodeToString(sum) != want {
		os.Remove(tmp.Name())
		// A corrupted transfer may well succeed next time.
		return nil, fmt.Errorf("digest mismatch: X-StellaOps-Digest says sha256:%s, the %d bytes received are sha256:%x", want, n, sum)
	}
	return &download{tmp: tmp.Name(), name: name, signature: resp.Header.Get("X-StellaOps-Signature"), sum: sum, size: n}, nil
}

// parseDigestHeader accepts "sha256:<hex>" or bare hex.
func parseDigestHeader(v string) (string, error) {
	if v == "" {
		return "", errors.New("the response has no X-StellaOps-Digest header: refusing an unverifiable download")
	}
	h := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(v), "sha256:"))
	if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("X-StellaOps-Digest %q is not a SHA-256 digest", v)
	}
	return h, nil
}

// readRSAPublicKey reads a PEM RSA public key (PKIX or PKCS#1).
func readRSAPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PublicKey(blk.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: a %T, not an RSA key", path, k)
	}
	return rk, nil
}

// verifyRSA checks sig over the SHA-256 sum: PKCS#1 v1.5, or PSS.
func verifyRSA(pub *rsa.PublicKey, sum, sig []byte) error {
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum, sig); err == nil {
		return nil
	}
	return rsa.VerifyPSS(pub, crypto.SHA256, sum, sig, nil)
}

// writeScannerMetadata writes <artifact>.metadata.json atomically.
func writeScannerMetadata(artifact string, md scannerMetadata) error {
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return err
	}
	tmp := artifact + ".metadata.json.tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, artifact+".metadata.json")
}
