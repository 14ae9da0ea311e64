// Package stella implements `stella`, the CI scanner of spec §3.1: package an SBOM (or an
// image's delta SBOM), scan it on the server, and exit 0 (pass), 1 (findings at or above the
// threshold, or a policy block) or 2 (internal error: network, bad input). cmd/stella only
// calls Run.
package stella

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policyinput"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/pkg/client"
)

// DefaultServer is the spec's --server default.
const DefaultServer = "http://localhost:8080"

// Exit codes of spec §3.1.
const (
	ExitPass     = 0
	ExitBlocked  = 1
	ExitInternal = 2
)

type flags struct {
	server, token, sbomType, policyFile, threshold, outputJSON, format, configDir string
	delta, waitQuota, verbose, insecure                                           bool
	maxQuotaWait                                                                  time.Duration
}

// Run executes stella with args (without the program name). Every failure that is not a
// verdict is exit code 2.
func Run(ctx context.Context, args []string, stdio cli.IO) error {
	err := run(ctx, args, stdio)
	var ee *cli.ExitError
	if err != nil && !errors.As(err, &ee) && !(errors.Is(err, context.Canceled) && ctx.Err() != nil) {
		return cli.Exit(ExitInternal, err)
	}
	return err
}

func run(ctx context.Context, args []string, stdio cli.IO) error {
	root := Command(stdio)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// Command is the stella command, for generated documentation (man page, completion).
func Command(stdio cli.IO) *cobra.Command {
	f := &flags{}
	root := &cobra.Command{
		Use:   "stella [OPTIONS] IMAGE_OR_SBOM",
		Short: "Package SBOM + Scan + Exit code – designed for CI",
		Long: `Package SBOM + Scan + Exit code – designed for CI.

IMAGE_OR_SBOM is an SBOM file (CycloneDX, SPDX, Trivy JSON; gzip allowed), an image archive
(docker save or OCI tar), an OCI layout directory, or a registry reference. Images are
inventoried here and scanned on the server; with --delta only the layers the server has not
analysed before are inventoried and sent (spec §2.2).

Exit codes: 0 scan OK, policy passed; 1 vulnerabilities ≥ threshold or policy block;
2 internal error (network, bad input).`,
		Version:       buildinfo.Get().Version,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return scanCmd(cmd.Context(), f, args[0], stdio)
		},
	}
	root.SetIn(stdio.In)
	root.SetOut(stdio.Out)
	root.SetErr(stdio.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.Usagef("%v", err) })
	fl := root.Flags()
	fl.StringVar(&f.server, "server", "", "API root (default StellaOps:BackendUrl, else "+DefaultServer+")")
	fl.StringVar(&f.token, "token", "", "bearer token (default env STELLA_TOKEN, then the configuration's ApiKey or Authority client)")
	fl.StringVar(&f.sbomType, "sbom-type", "auto", "force trivy-json-v2/spdx-json/cyclonedx-json (and cyclonedx-xml, spdx-tag-value)")
	fl.BoolVar(&f.delta, "delta", false, "enable delta layer optimisation: send only the layers the server lacks")
	fl.StringVar(&f.policyFile, "policy-file", "", "override server rules with local YAML/Rego")
	fl.StringVar(&f.threshold, "threshold", "critical", "fail build if ≥ level found (low, medium, high, critical)")
	fl.StringVar(&f.outputJSON, "output-json", "", "write raw scan result to file")
	fl.BoolVar(&f.waitQuota, "wait-quota", true, "if 429 received, automatically wait Retry-After and retry once")
	fl.DurationVar(&f.maxQuotaWait, "max-quota-wait", 15*time.Minute, "longest Retry-After --wait-quota waits")
	fl.StringVarP(&f.format, "format", "f", "table", "what to print: "+strings.Join(report.Formats, "|"))
	fl.StringVar(&f.configDir, "config-dir", "", "directory of the appsettings files (default: the working directory, then the binary's)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "debug logging")
	fl.BoolVar(&f.insecure, "insecure-registry", false, "allow a plain-HTTP registry for registry references")
	return root
}

// scanCmd is the whole run: options, scan, result, verdict.
func scanCmd(ctx context.Context, f *flags, arg string, stdio cli.IO) error {
	log := cli.Logger(stdio.Err, f.verbose)
	threshold, err := policy.ParseThreshold(f.threshold)
	if err != nil {
		return cli.Usagef("--threshold: %v", err)
	}
	format, err := sbom.ParseFormat(f.sbomType)
	if err != nil {
		return cli.Usagef("--sbom-type: %v", err)
	}
	if !report.Known(f.format) {
		return cli.Usagef("--format %q: want %s", f.format, strings.Join(report.Formats, ", "))
	}
	var pol *policy.Policy
	if f.policyFile != "" {
		if pol, err = compilePolicy(ctx, f.policyFile, threshold); err != nil {
			return err
		}
	}
	cfg, _, err := clientcfg.LoadCommandLine(stdio.Environ, f.configDir)
	if err != nil {
		return err
	}
	server := cmp.Or(f.server, cfg.BackendURL, DefaultServer)
	c, err := cfg.Client(server, f.token, client.WithUserAgent("stella/"+buildinfo.Get().Version))
	if err != nil {
		return cli.Usagef("%v", err)
	}
	s := &session{c: c, log: log, wait: f.waitQuota, maxWait: f.maxQuotaWait, threshold: strings.ToLower(string(threshold)),
		progress: cli.NewProgress(stdio.Err), insecure: f.insecure}

	done, err := s.submit(ctx, arg, format, f.delta)
	if err != nil {
		return err
	}
	raw, err := retryQuota(ctx, s, func() (json.RawMessage, error) { return c.ScanResult(ctx, done.ScanID) })
	if err != nil {
		return fmt.Errorf("result of scan %s: %w", done.ScanID, err)
	}
	var res scan.Result
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("result of scan %s: %w", done.ScanID, err)
	}
	if f.outputJSON != "" {
		if err := writeFileAtomic(f.outputJSON, raw); err != nil {
			return fmt.Errorf("--output-json: %w", err)
		}
	}
	status, source := done.PolicyStatus, "server"
	if pol != nil {
		in := policy.Input{ImageDigest: policyinput.SubjectDigest(res.Target), Findings: policyinput.Findings(res.Findings, policyinput.RecordedVEX(res.Findings))}
		pr, err := pol.Evaluate(ctx, in)
		if err != nil {
			return fmt.Errorf("--policy-file: %w", err)
		}
		status, source = string(pr.PolicyStatus), f.policyFile
	}
	if err := report.Write(stdio.Out, &res, f.format, report.Options{ToolVersion: buildinfo.Get().Version}); err != nil {
		return err
	}
	verdict := fmt.Sprintf("policy %s (%s, threshold %s): %d finding(s), scan %s", status, source, f.threshold, len(res.Findings), done.ScanID)
	log.Info(verdict)
	if status == string(policy.PolicyBlocked) {
		return cli.Exit(ExitBlocked, errors.New(verdict))
	}
	if f.format == "table" {
		fmt.Fprintln(stdio.Err, verdict)
	}
	return nil
}

// compilePolicy compiles the local policy file (Rego by its .rego suffix, YAML otherwise),
// deciding at threshold where its rules do not.
func compilePolicy(ctx context.Context, path string, threshold policy.Level) (*policy.Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cli.Usagef("--policy-file: %v", err)
	}
	src := policy.Source{Format: policy.FormatYAML, Content: string(b), Description: path, Actor: "stella"}
	if strings.HasSuffix(strings.ToLower(path), ".rego") {
		src.Format = policy.FormatRego
	}
	cfg := policy.DefaultConfig()
	cfg.Threshold = threshold
	p, err := policy.New(cfg).Compile(ctx, src)
	if err != nil {
		return nil, cli.Usagef("--policy-file %s: %v", path, err)
	}
	return p, nil
}

// writeFileAtomic writes b to path through a temporary file in its directory.
func writeFileAtomic(path string, b []byte) error {
	dir := "."
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		dir = path[:i+1]
	}
	tmp, err := os.CreateTemp(dir, ".stella-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// session is one stella run's server conversation.
type session struct {
	c         *client.Client
	log       *slog.Logger
	wait      bool
	maxWait   time.Duration
	threshold string
	// progress shows the local layer analysis on a terminal (nothing when stderr is piped).
	progress *cli.Progress
	insecure bool
}

// retryQuota runs call; on a 429 with --wait-quota it waits Retry-After (at least 1 s) and
// runs it once more.
func retryQuota[T any](ctx context.Context, s *session, call func() (T, error)) (T, error) {
	v, err := call()
	var ce *client.Error
	if err == nil || !s.wait || !errors.As(err, &ce) || ce.StatusCode != 429 {
		return v, err
	}
	d := max(ce.RetryAfter, time.Second)
	if d > s.maxWait {
		return v, fmt.Errorf("%w (Retry-After %s is beyond --max-quota-wait %s)", err, d, s.maxWait)
	}
	s.log.Warn("rate limited or over quota; waiting once", "retryAfter", d.String())
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return v, ctx.Err()
	case <-t.C:
	}
	return call()
}
