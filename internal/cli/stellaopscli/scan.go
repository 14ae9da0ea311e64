package stellaopscli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/pkg/client"
)

type scanRunFlags struct {
	target, runner, entry string
	format, output        string
	resultsDir            string
	cpe, noUpload         bool
	input                 inputFlags
	// Decisions: policy, VEX and the signed report.
	policyFile, threshold, environment string
	vex                                []string
	reportFile                         string
	signingKey, signingKeyID           string
}

// deciding says whether the run evaluates a policy and writes a signed report.
func (f *scanRunFlags) deciding() bool {
	return f.policyFile != "" || len(f.vex) > 0 || f.reportFile != ""
}

func scanCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "scan", Short: "Run scans and manage their results"}
	var f scanRunFlags
	run := &cobra.Command{
		Use:   "run --target <image.tar | oci-dir | registry-ref | rootfs-dir | sbom> [--runner docker|dotnet|self] [--entry E] [-- scanner-args...]",
		Short: "Execute the scanner against a target, writing results into ResultsDirectory",
		Long: `Execute the scanner against a target and write the result into ResultsDirectory, with a
scan-run-*.json metadata envelope (runner, arguments, timing, and an external scanner's standard
error). The self runner scans in process against the advisory snapshot in the data directory; on
first use it builds that snapshot from the advisory data bundled with StellaOps (OSV records for
Go, PyPI, crates.io, AlmaLinux and CPython). The docker runner runs the scanner image --entry
with the target directory mounted read-only at /src ('docker run --rm --network none -v
<target>:/src:ro <entry> [scanner-args...]'); the dotnet runner runs 'dotnet <entry> --target
<target> [scanner-args...]'. Their scanner writes its result (an SBOM or a scan result) to
standard output, which becomes the artefact; their exit code is this command's.
When StellaOps:BackendUrl is set and the run succeeds (exit code 0), the artefact is uploaded to
the server (POST /scan) unless --no-upload; a failed upload is a warning, and
` + "`stellaops-cli scan upload --file <scan-run-*.json>`" + ` retries it.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// ResultsDirectory and DefaultRunner come from the configuration unless flagged.
			if cfg, err := g.config(); err == nil {
				if !cmd.Flags().Changed("results-dir") {
					f.resultsDir = cfg.ResultsDirectory
				}
				if !cmd.Flags().Changed("runner") {
					f.runner = cfg.DefaultRunner
				}
			}
			return runScan(cmd.Context(), g, &f, args)
		},
	}
	fl := run.Flags()
	fl.StringVar(&f.target, "target", "", "what to scan: image archive, OCI layout, registry reference, directory or SBOM (required)")
	fl.StringVar(&f.runner, "runner", "self", "scanner runner: docker|dotnet|self")
	fl.StringVar(&f.entry, "entry", "", "scanner image or entrypoint for the docker and dotnet runners")
	fl.StringVarP(&f.format, "format", "f", "table", "output format: "+strings.Join(report.Formats, "|"))
	fl.StringVarP(&f.output, "output", "o", "", "write the formatted result to FILE instead of standard output")
	fl.StringVar(&f.resultsDir, "results-dir", "results", "ResultsDirectory: where result artefacts and scan-run metadata go")
	fl.BoolVar(&f.noUpload, "no-upload", false, "do not upload the artefact to StellaOps:BackendUrl after a successful run")
	fl.BoolVar(&f.cpe, "cpe", false, "also match components that have no ecosystem by their CPEs")
	fl.StringVar(&f.policyFile, "policy-file", "", "evaluate this policy (policy-schema@1 YAML, or Rego for a .rego file) and sign a report")
	fl.StringArrayVar(&f.vex, "vex", nil, "apply this VEX document (OpenVEX, CycloneDX VEX or CSAF; repeatable)")
	fl.StringVar(&f.reportFile, "report", "", "write the signed report (DSSE envelope) to FILE; a copy always goes into the results directory")
	fl.StringVar(&f.threshold, "threshold", "", "severity at which an unsuppressed finding fails the policy (default critical)")
	fl.StringVar(&f.environment, "environment", "", "environment the policy's environments[] rules see (dev, staging, prod …)")
	fl.StringVar(&f.signingKey, "signing-key", "", "sign with this key (PKCS#8 PEM Ed25519/ECDSA P-256, or an hs256 secret) instead of the data directory's")
	fl.StringVar(&f.signingKeyID, "signing-key-id", "scanner-report-signing", "keyId of --signing-key")
	f.input.register(fl)
	cmd.AddCommand(run)
	return cmd
}

// runMetadata is the scan-run-*.json envelope: what ran, how, how long, and where the artefact is.
type runMetadata struct {
	SchemaVersion string    `json:"schemaVersion"`
	Runner        string    `json:"runner"`
	Arguments     []string  `json:"arguments"`
	Target        string    `json:"target"`
	StartedAt     time.Time `json:"startedAt"`
	FinishedAt    time.Time `json:"finishedAt"`
	DurationMs    int64     `json:"durationMs"`
	ExitCode      int       `json:"exitCode"`
	Error         string    `json:"error,omitempty"`
	// Stderr is the tail of an external scanner's standard error (its standard output is the
	// artefact).
	Stderr          string         `json:"stderr,omitempty"`
	StderrTruncated bool           `json:"stderrTruncated,omitempty"`
	Artefact        *artefactRef   `json:"artefact,omitempty"`
	Snapshot        string         `json:"snapshot,omitempty"`
	Summary         *match.Summary `json:"summary,omitempty"`
	Policy          *policyRef     `json:"policy,omitempty"`
	Report          *artefactRef   `json:"report,omitempty"`
	Tool            string         `json:"tool"`
}

// policyRef is what the run's policy decided, in the scan-run envelope.
type policyRef struct {
	Status   string         `json:"status"`
	ReportID string         `json:"reportId"`
	KeyID    string         `json:"keyId,omitempty"`
	Summary  policy.Summary `json:"summary"`
}

type artefactRef struct {
	Path   string `json:"path"`
	Digest string `json:"digest"`
	Bytes  int    `json:"bytes"`
}

func runScan(ctx context.Context, g *globals, f *scanRunFlags, extra []string) error {
	if f.target == "" {
		return cli.Usagef("--target is required")
	}
	if !report.Known(f.format) {
		return cli.Usagef("unknown --format %q (want %s)", f.format, strings.Join(report.Formats, ", "))
	}
	if f.runner != "self" {
		if f.deciding() {
			return cli.Usagef("--policy-file, --vex and --report need --runner self")
		}
		return runExternal(ctx, g, f, extra)
	}
	now := clock(g.env)
	meta := &runMetadata{SchemaVersion: "stellaops.scan-run/v1", Runner: f.runner, Target: f.target,
		Arguments: append([]string{"--target", f.target}, extra...), StartedAt: now(), Tool: "stellaops-cli " + buildinfo.Get().Version}
	start := time.Now()
	res, err := g.scanSelf(ctx, f)
	meta.DurationMs = time.Since(start).Milliseconds()
	meta.FinishedAt = meta.StartedAt.Add(time.Duration(meta.DurationMs) * time.Millisecond)
	if err != nil {
		meta.ExitCode, meta.Error = cli.ExitFailure, err.Error()
		if _, werr := writeRunFiles(f.resultsDir, meta, nil); werr != nil {
			g.log.WarnContext(ctx, "could not record the failed run", "error", werr)
		}
		return err
	}
	meta.Snapshot, meta.Summary = res.Snapshot.Digest, &res.Summary
	var dec *decision
	if f.deciding() {
		if dec, err = g.decide(ctx, res, f); err != nil {
			return err
		}
		meta.Policy = &policyRef{Status: string(dec.result.PolicyStatus), ReportID: dec.report.ReportID, KeyID: dec.keyID, Summary: dec.result.Summary}
		applyVEX(res, dec.vex)
	}
	var art bytes.Buffer
	if err := report.Write(&art, res, "json", report.Options{ToolVersion: buildinfo.Get().Version}); err != nil {
		return err
	}
	if dec != nil {
		if meta.Report, err = writeReport(f, meta, dec); err != nil {
			return err
		}
		g.printDecision(dec)
	}
	metaPath, err := writeRunFiles(f.resultsDir, meta, art.Bytes())
	if err != nil {
		return err
	}
	if !f.noUpload {
		g.autoUpload(ctx, metaPath)
	}
	if f.format == "json" {
		return writeOutput(g.io.Out, f.output, art.Bytes()) // the artefact is this very document
	}
	var out bytes.Buffer
	if err := report.Write(&out, res, f.format, report.Options{ToolVersion: buildinfo.Get().Version}); err != nil {
		return err
	}
	return writeOutput(g.io.Out, f.output, out.Bytes())
}

// scanSelf scans in process against the data directory's current snapshot.
func (g *globals) scanSelf(ctx context.Context, f *scanRunFlags) (*scan.Result, error) {
	st, err := snapshot.OpenStore(filepath.Join(g.data, "snapshots"))
	if err != nil {
		return nil, err
	}
	snap, seeded, err := scan.EnsureSnapshot(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("advisory snapshot: %w", err)
	}
	defer snap.Close()
	if seeded {
		fmt.Fprintf(g.io.Err, "Built the advisory snapshot %s from the bundled data.\n", snap.Digest())
	}
	opts, progress, err := g.targetOptions(&f.input)
	if err != nil {
		return nil, err
	}
	res, err := scan.Run(ctx, f.target, snap, opts, match.Config{CPE: f.cpe})
	progress.Done()
	return res, err
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeRunFiles writes the artefact (if any) and the scan-run metadata into dir, named by the
// start time and the target, never overwriting an earlier run.
func writeRunFiles(dir string, meta *runMetadata, artefact []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("results directory: %w", err)
	}
	stamp := meta.StartedAt.UTC().Format("20060102T150405Z")
	slug := strings.Trim(unsafeName.ReplaceAllString(filepath.Base(meta.Target), "-"), "-.")
	if len(slug) > 64 {
		slug = slug[:64]
	}
	base := "scan-" + stamp + "-" + slug
	for n := 2; exists(filepath.Join(dir, base+".json")) || exists(filepath.Join(dir, "scan-run-"+strings.TrimPrefix(base, "scan-")+".json")); n++ {
		base = fmt.Sprintf("scan-%s-%s-%d", stamp, slug, n)
	}
	if artefact != nil {
		p := filepath.Join(dir, base+".json")
		if err := writeOutput(nil, p, artefact); err != nil {
			return "", err
		}
		sum := sha256.Sum256(artefact)
		meta.Artefact = &artefactRef{Path: p, Digest: "sha256:" + hex.EncodeToString(sum[:]), Bytes: len(artefact)}
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "scan-run-"+strings.TrimPrefix(base, "scan-")+".json")
	return p, writeOutput(nil, p, append(b, '\n'))
}

// autoUpload posts a successful run's artefact to the configured backend (spec §3: "automatically
// uploads the artefact when the exit code is 0"). A failure only warns: the run itself
// succeeded, and `scan upload --file` retries.
func (g *globals) autoUpload(ctx context.Context, metaPath string) {
	cfg, err := g.config()
	if err != nil || cfg.BackendURL == "" {
		return
	}
	a, err := resolveArtefact(ctx, metaPath)
	if err == nil {
		var up client.ScanUploadResult
		if up, _, err = g.postArtefact(ctx, a); err == nil {
			id := ""
			switch {
			case up.Completed != nil:
				id = up.Completed.ScanID
			case up.Accepted != nil:
				id = up.Accepted.ScanID
			}
			fmt.Fprintf(g.io.Err, "Uploaded to %s: scan %s.\n", cfg.BackendURL, id)
			return
		}
	}
	g.log.WarnContext(ctx, "automatic upload failed; retry with scan upload", "file", metaPath, "error", err)
	fmt.Fprintf(g.io.Err, "Upload to %s failed (%v); retry with: stellaops-cli scan upload --file %s\n", cfg.BackendURL, err, metaPath)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
