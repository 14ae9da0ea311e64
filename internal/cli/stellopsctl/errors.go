package stellopsctl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// classify gives an error of a command its exit code: a server's refusal (a problem answer)
// is 1 with the problem on one line, an unreachable server 2, and errors that already carry
// a code (usage) keep it.
func classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return err
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		return cli.Exit(cli.ExitFailure, errors.New(problemLine(ce)))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return cli.Exit(cli.ExitFailure, fmt.Errorf("timed out: %w", err))
	}
	if unreachable(err) {
		return cli.Exit(cli.ExitUsage, fmt.Errorf("server unreachable: %w", err))
	}
	return cli.Exit(cli.ExitFailure, err)
}

// failure is classify with the failed call named first ("policy export: HTTP 404: …"); an
// unreachable server is said as such, whatever the call.
func failure(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	var ce *client.Error
	var ee *cli.ExitError
	switch {
	case errors.As(err, &ce):
		return cli.Exit(cli.ExitFailure, fmt.Errorf("%s: %s", what, problemLine(ce)))
	case errors.As(err, &ee), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, context.DeadlineExceeded):
		return cli.Exit(cli.ExitFailure, fmt.Errorf("%s: timed out: %w", what, err))
	case unreachable(err):
		return classify(err)
	}
	return cli.Exit(cli.ExitFailure, fmt.Errorf("%s: %w", what, err))
}

// problemLine is an RFC 7807 problem (or an OAuth error) on one line: status, detail, the
// field errors of a validation problem, and the trace id to quote to the server's operator.
func problemLine(e *client.Error) string {
	msg := e.Message()
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d: %s", e.StatusCode, msg)
	for _, fe := range e.Errors {
		// A validation problem's detail often repeats its first field error.
		if fe.Msg != "" && !strings.Contains(msg, fe.Msg) {
			if fe.Path != "" {
				fmt.Fprintf(&b, "; %s: %s", fe.Path, fe.Msg)
			} else {
				fmt.Fprintf(&b, "; %s", fe.Msg)
			}
		}
	}
	if e.StatusCode == 401 && strings.Contains(strings.ToLower(msg), "bootstrap") {
		b.WriteString(" (check --bootstrap-key / STELLAOPS_BOOTSTRAP_KEY)")
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (trace %s)", e.TraceID)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// unreachable reports whether err is a failure to reach the server at all: refused, reset,
// unknown host, timed out connecting.
func unreachable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	var de *net.DNSError
	return errors.As(err, &oe) || errors.As(err, &de) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || (errors.As(err, &ne) && ne.Timeout())
}
