package stellaopscli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/pkg/client"
)

// uploadFlags are scan upload's options.
type uploadFlags struct {
	file, threshold, sbomType string
	wait, json                bool
	interval                  time.Duration
}

// addScanUpload puts `scan upload` under the existing scan command group.
func addScanUpload(root *cobra.Command, g *globals) {
	for _, c := range root.Commands() {
		if c.Name() == "scan" {
			c.AddCommand(scanUploadCommand(g))
			return
		}
	}
	root.AddCommand(&cobra.Command{Use: "scan", Short: "Run scans and manage their results"})
	addScanUpload(root, g)
}

func scanUploadCommand(g *globals) *cobra.Command {
	var f uploadFlags
	cmd := &cobra.Command{
		Use:   "upload --file PATH",
		Short: "Re-upload existing scan artefact",
		Long: `Re-upload an existing scan artefact to the server (POST /scan). Useful for retries when automatic
upload fails or when operating offline. --file is a scan-run-*.json metadata file or the
stellaops.scan-result/v1 document of ` + "`scan run`" + ` (its inventory is sent as a CycloneDX SBOM, so the server
re-matches it against its own advisory snapshot), an SBOM (CycloneDX, SPDX, Trivy JSON; gzip allowed) or
an image archive (docker save, OCI layout tar). Prints the digest, the findings summary and the policy
status. Exit codes: 0 the server scanned the artefact (whatever the policy status: the policy gate in
CI is ` + "`stella`" + `), 1 the upload or the scan failed, 2 usage error.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.scanUpload(cmd.Context(), &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.file, "file", "", "the artefact to upload (required)")
	fl.StringVar(&f.threshold, "threshold", "", "severity at which the server's default policy blocks: low|medium|high|critical (default: the server's)")
	fl.StringVar(&f.sbomType, "sbom-type", "", "SBOM format: cyclonedx-json|spdx-json|trivy-json-v2|cyclonedx-xml|spdx-tag-value (default: detect)")
	fl.BoolVar(&f.wait, "wait", false, "when the server queues the scan (202), follow it to its end")
	fl.BoolVar(&f.json, "json", false, "print the server's JSON answer")
	fl.DurationVar(&f.interval, "poll-interval", time.Second, "how often --wait asks for the scan's status")
	_ = fl.MarkHidden("poll-interval")
	return cmd
}

// artefact is what goes in the body of POST /scan.
type artefact struct {
	// path is streamed when body is nil.
	path string
	body []byte
	opts client.ScanUploadOptions
	// what describes it for the summary.
	what string
}

func (a artefact) open() (io.ReadCloser, error) {
	if a.body != nil {
		return io.NopCloser(bytes.NewReader(a.body)), nil
	}
	return os.Open(a.path)
}

// maxMetadata bounds the JSON documents read whole to tell what they are (a scan result embeds
// its inventory); a larger one is streamed as it is (the server's SBOM limit is 64 MiB).
const maxMetadata = 64 << 20

// resolveArtefact works out what to send for path: a scan-run envelope points at its result
// document, a result document's inventory becomes a CycloneDX SBOM, anything else is sent as
// it is for the server to recognise.
func resolveArtefact(ctx context.Context, path string) (artefact, error) {
	f, err := os.Open(path)
	if err != nil {
		return artefact{}, cli.Usagef("--file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return artefact{}, err
	}
	if fi.IsDir() {
		return artefact{}, cli.Usagef("--file %s is a directory", path)
	}
	head, _ := bufio.NewReader(f).Peek(512)
	trimmed := bytes.TrimLeft(head, " \t\r\n\ufeff")
	if len(trimmed) == 0 || trimmed[0] != '{' || fi.Size() > maxMetadata {
		return artefact{path: path, what: "file " + path}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return artefact{}, err
	}
	var doc struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	_ = json.Unmarshal(b, &doc)
	switch doc.SchemaVersion {
	case "stellaops.scan-run/v1":
		return runArtefact(ctx, path, b)
	case scan.SchemaVersion:
		return resultArtefact(ctx, path, b)
	}
	return artefact{path: path, what: "file " + path, opts: client.ScanUploadOptions{ContentType: "application/json"}}, nil
}

// runArtefact follows a scan-run envelope to its result document, checking its digest.
func runArtefact(ctx context.Context, path string, b []byte) (artefact, error) {
	var meta runMetadata
	if err := json.Unmarshal(b, &meta); err != nil {
		return artefact{}, fmt.Errorf("%s: %w", path, err)
	}
	if meta.Artefact == nil {
		return artefact{}, fmt.Errorf("%s records a run without an artefact (exit code %d: %s): nothing to upload", path, meta.ExitCode, orDash(meta.Error))
	}
	p := meta.Artefact.Path
	if !filepath.IsAbs(p) && !exists(p) {
		// A results directory moved since, or a relative path from elsewhere: look beside the envelope.
		p = filepath.Join(filepath.Dir(path), filepath.Base(p))
	}
	res, err := os.ReadFile(p)
	if err != nil {
		return artefact{}, fmt.Errorf("%s names its artefact %s: %w", path, meta.Artefact.Path, err)
	}
	sum := sha256.Sum256(res)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != meta.Artefact.Digest {
		return artefact{}, fmt.Errorf("artefact %s is %s, but %s recorded %s: it changed since the run", p, got, path, meta.Artefact.Digest)
	}
	var doc struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	if json.Unmarshal(res, &doc) != nil || doc.SchemaVersion != scan.SchemaVersion {
		// An external scanner's output (an SBOM): sent as it is, the server detects its format.
		return artefact{body: res, what: "artefact " + p}, nil
	}
	return resultArtefact(ctx, p, res)
}

// resultArtefact sends a result document's inventory as CycloneDX JSON: the server takes
// SBOMs and images, and matching the inventory again against its snapshot is what an upload
// of a scan is for.
func resultArtefact(ctx context.Context, path string, b []byte) (artefact, error) {
	var res scan.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return artefact{}, fmt.Errorf("%s: %w", path, err)
	}
	if res.Inventory == nil {
		return artefact{}, fmt.Errorf("%s holds no inventory to upload", path)
	}
	var buf bytes.Buffer
	if err := sbom.Encode(ctx, &buf, res.Inventory, sbom.FormatCycloneDXJSON, sbom.EncodeOptions{ToolVersion: buildinfo.Get().Version}); err != nil {
		return artefact{}, err
	}
	return artefact{body: buf.Bytes(), what: "the inventory of scan result " + path,
		opts: client.ScanUploadOptions{SBOMType: string(sbom.FormatCycloneDXJSON), SBOMOnly: true, ContentType: "application/json"}}, nil
}

func (g *globals) scanUpload(ctx context.Context, f *uploadFlags) error {
	if f.file == "" {
		return cli.Usagef("--file is required")
	}
	switch strings.ToLower(f.threshold) {
	case "", "low", "medium", "high", "critical":
	default:
		return cli.Usagef("--threshold %q: low, medium, high or critical", f.threshold)
	}
	if _, err := sbom.ParseFormat(f.sbomType); err != nil {
		return cli.Usagef("--sbom-type: %v", err)
	}
	a, err := resolveArtefact(ctx, f.file)
	if err != nil {
		return err
	}
	a.opts.Threshold = strings.ToLower(f.threshold)
	if f.sbomType != "" && a.body == nil {
		a.opts.SBOMType = f.sbomType
	}
	up, raw, err := g.postArtefact(ctx, a)
	if err != nil {
		return err
	}
	if up.Accepted != nil && f.wait {
		var st client.ScanStatus
		if err := g.call(ctx, "scan upload", func(c *client.Client) error {
			var err error
			st, err = c.WaitScan(ctx, up.Accepted.ScanID, f.interval)
			return err
		}); err != nil {
			return err
		}
		return g.printScanStatus(st, f.json)
	}
	if f.json {
		_, err := g.io.Out.Write(append(bytes.TrimRight(raw.Body, "\n"), '\n'))
		return err
	}
	w := g.io.Out
	if a := up.Accepted; a != nil {
		fmt.Fprintf(w, "Scan %s queued (%s): %s\n", a.ScanID, a.Status, a.Location)
		fmt.Fprintln(w, "The server is still scanning; follow it with --wait, or GET the location above.")
		return nil
	}
	c := up.Completed
	fmt.Fprintf(w, "Uploaded %s.\n", a.what)
	writeOutcome(w, c.ScanID, c.Digest, c.PolicyStatus, c.Policy, c.Snapshot, c.Findings, c.Summary)
	fmt.Fprintf(w, "Quota:    %d of %d remaining (resets %s)\n", c.Quota.Remaining, c.Quota.Limit, c.Quota.Reset.UTC().Format(time.RFC3339))
	return nil
}

// postArtefact sends a to POST /scan (for scan upload, and for scan run's upload of the
// artefact it just wrote: resolveArtefact of its scan-run envelope, then this).
func (g *globals) postArtefact(ctx context.Context, a artefact) (client.ScanUploadResult, *client.Response, error) {
	var up client.ScanUploadResult
	var raw *client.Response
	err := g.call(ctx, "scan upload", func(c *client.Client) error {
		body, err := a.open() // again on a retry: the first attempt consumed the stream
		if err != nil {
			return err
		}
		defer body.Close()
		up, raw, err = c.ScanUpload(ctx, body, a.opts)
		return err
	})
	return up, raw, err
}

// printScanStatus prints a queued upload's end: its outcome, or why it did not succeed.
func (g *globals) printScanStatus(st client.ScanStatus, asJSON bool) error {
	if asJSON {
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		if _, err := g.io.Out.Write(append(b, '\n')); err != nil {
			return err
		}
	} else if st.Result != nil {
		r := st.Result
		writeOutcome(g.io.Out, st.ScanID, r.Digest, r.PolicyStatus, r.Policy, r.Snapshot, r.Findings, r.Summary)
	}
	if st.Status != "Succeeded" {
		reason := "no reason given"
		if st.FailureReason != nil {
			reason = *st.FailureReason
		}
		return errors.New("scan " + st.ScanID + " " + strings.ToLower(st.Status) + ": " + reason)
	}
	return nil
}

func writeOutcome(w io.Writer, id, digest, status string, p client.ScanPolicyRef, snapshot string, findings int, s client.ScanSummary) {
	fmt.Fprintf(w, "Scan:     %s\n", id)
	fmt.Fprintf(w, "Digest:   %s\n", digest)
	var policy string
	switch p.Source {
	case "active":
		policy = "active policy revision " + orDash(p.RevisionID)
	case "threshold":
		policy = "no active policy: blocks at " + p.Threshold
	default:
		policy = p.Source + ", threshold " + p.Threshold
	}
	fmt.Fprintf(w, "Policy:   %s (%s)\n", status, policy)
	fmt.Fprintf(w, "Findings: %d (Critical %d, High %d, Medium %d, Low %d, Unknown %d)\n", findings, s.Critical, s.High, s.Medium, s.Low, s.Unknown)
	fmt.Fprintf(w, "Snapshot: %s\n", snapshot)
}
