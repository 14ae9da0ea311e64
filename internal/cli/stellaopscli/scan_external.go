package stellaopscli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
)

// The docker and dotnet runners run a scanner outside this process (spec §3: "Execute scanner
// container against a directory"). The contract with that scanner: the target is given to it
// (mounted read-only at /src for docker; as --target <dir> for dotnet), the extra arguments
// after -- follow, and it writes its result (an SBOM, or a StellaOps scan result) to standard
// output. Its standard output becomes the run's artefact, its standard error is kept in the
// scan-run envelope, and its exit code is the command's.

// Bounds on what an external scanner may write.
const (
	maxScannerStdout = 1 << 30
	maxScannerStderr = 64 << 10
)

// externalCommand builds the scanner's command line for runner.
func externalCommand(runner, entry, target string, extra []string) ([]string, error) {
	if runner != "docker" && runner != "dotnet" {
		return nil, cli.Usagef("--runner %q: want docker, dotnet or self", runner)
	}
	if entry == "" {
		return nil, cli.Usagef("--runner %s needs --entry (the scanner's %s)", runner, map[string]string{"docker": "image", "dotnet": "entry assembly"}[runner])
	}
	abs, err := filepath.Abs(target)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, cli.Usagef("--target: %v", err)
	}
	if !fi.IsDir() {
		return nil, cli.Usagef("--target %s: the %s runner scans a directory", target, runner)
	}
	if runner == "docker" {
		return append([]string{"docker", "run", "--rm", "--network", "none", "-v", abs + ":/src:ro", entry}, extra...), nil
	}
	return append([]string{"dotnet", entry, "--target", abs}, extra...), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf       []byte
	max       int
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	return len(p), nil
}

// limitWriter fails once more than n bytes were written.
type limitWriter struct {
	w io.Writer
	n int64
}

var errTooMuchOutput = fmt.Errorf("the scanner wrote more than %d bytes to standard output", maxScannerStdout)

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		return 0, errTooMuchOutput
	}
	l.n -= int64(len(p))
	return l.w.Write(p)
}

// runExternal runs the scanner, records the run and, on exit code 0, uploads its artefact.
func runExternal(ctx context.Context, g *globals, f *scanRunFlags, extra []string) error {
	argv, err := externalCommand(f.runner, f.entry, f.target, extra)
	if err != nil {
		return err
	}
	now := clock(g.env)
	meta := &runMetadata{SchemaVersion: "stellaops.scan-run/v1", Runner: f.runner, Target: f.target, Arguments: argv,
		StartedAt: now(), Tool: "stellaops-cli " + buildinfo.Get().Version}
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: maxScannerStderr}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = &limitWriter{w: &stdout, n: maxScannerStdout}
	cmd.Stderr = io.MultiWriter(stderr, g.io.Err)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	g.log.Info("running the scanner", "runner", f.runner, "command", argv)
	runErr := cmd.Run()
	meta.DurationMs = time.Since(start).Milliseconds()
	meta.FinishedAt = meta.StartedAt.Add(time.Duration(meta.DurationMs) * time.Millisecond)
	meta.Stderr = string(stderr.buf)
	meta.StderrTruncated = stderr.truncated
	var ee *exec.ExitError
	switch {
	case runErr == nil:
	case errors.As(runErr, &ee) && ee.ExitCode() >= 0:
		meta.ExitCode, meta.Error = ee.ExitCode(), fmt.Sprintf("%s exited with code %d", argv[0], ee.ExitCode())
	case ctx.Err() != nil:
		meta.ExitCode, meta.Error = cli.ExitInterrupted, "interrupted"
	default:
		meta.ExitCode, meta.Error = cli.ExitFailure, runErr.Error()
	}
	var artefact []byte
	if meta.ExitCode == 0 {
		if stdout.Len() == 0 {
			meta.ExitCode, meta.Error = cli.ExitFailure, "the scanner exited 0 but wrote nothing to standard output"
		} else {
			artefact = stdout.Bytes()
		}
	}
	metaPath, err := writeRunFiles(f.resultsDir, meta, artefact)
	if err != nil {
		return err
	}
	if meta.ExitCode != 0 {
		// The scanner's exit code propagates, as the spec says.
		return cli.Exit(meta.ExitCode, fmt.Errorf("scan run: %s (recorded in %s)", meta.Error, metaPath))
	}
	if !f.noUpload {
		g.autoUpload(ctx, metaPath)
	}
	fmt.Fprintf(g.io.Out, "Scan run recorded in %s (artefact %s, %d bytes)\n", metaPath, meta.Artefact.Path, meta.Artefact.Bytes)
	return nil
}
