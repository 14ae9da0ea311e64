// Package cli holds what the command-line tools share: standard streams, exit codes carried by
// errors, logging set-up, terminal detection and the progress display. Commands live in
// per-binary subpackages; cmd/* only call their Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/term"
)

// Exit codes shared by the tools (stella adds its own: 1 means findings at or above the threshold).
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

// IO is a command's standard streams and environment. Out and Err are terminals only when
// IsTerminal says so.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Environ is the environment in os.Environ's form, for the configuration loader; the
	// commands' getenv function reads single variables.
	Environ []string
}

// StdIO returns the process's streams and environment.
func StdIO() IO { return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()} }

// IsTerminal reports whether w is an interactive terminal (progress displays, colours and
// prompts only appear there; piped output stays plain).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ExitError carries the exit code a failure maps to.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// Usagef is a usage error (exit code 2).
func Usagef(format string, args ...any) error { return Exit(ExitUsage, fmt.Errorf(format, args...)) }

// Code maps an error returned by a command to the process exit code and writes the one-line
// message to stderr.
func Code(ctx context.Context, err error, stderr io.Writer, prog string) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintf(stderr, "%s: interrupted\n", prog)
		return ExitInterrupted
	}
	code := ExitFailure
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	return code
}

// Logger returns a single-line text logger on w with UTC timestamps; debug when verbose.
func Logger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && a.Value.Kind() == slog.KindTime {
				a.Value = slog.StringValue(a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		},
	}))
}
