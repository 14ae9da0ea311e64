package stellopsctl_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellopsctl"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// result is one stellopsctl run.
type result struct {
	code        int
	out, stderr string
}

// call is how a test runs stellopsctl: its stdin and environment; the configuration
// directory is a fresh one unless configDir says otherwise, so that no appsettings file of
// the working directory leaks in.
type call struct {
	stdin     string
	environ   []string
	configDir string
}

// run executes stellopsctl in-process as cmd/stellopsctl does.
func (c call) run(t *testing.T, args ...string) result {
	t.Helper()
	dir := c.configDir
	if dir == "" {
		dir = t.TempDir()
	}
	var out, errb bytes.Buffer
	ctx := context.Background()
	err := stellopsctl.Run(ctx, append([]string{"--config-dir", dir}, args...),
		cli.IO{In: strings.NewReader(c.stdin), Out: &out, Err: &errb, Environ: c.environ})
	code := cli.Code(ctx, err, &errb, "stellopsctl")
	return result{code: code, out: out.String(), stderr: errb.String()}
}

// run is a call with no stdin and an empty environment.
func run(t *testing.T, args ...string) result {
	t.Helper()
	return call{}.run(t, args...)
}

// wantOK fails the test unless r exited 0.
func (r result) wantOK(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d; stderr %q; stdout %q", r.code, r.stderr, r.out)
	}
	return r
}

// wantFail checks the exit code and that stderr is the one line that says why.
func (r result) wantFail(t *testing.T, code int, stderr string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, stderr) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 ||
		!strings.HasPrefix(r.stderr, "stellopsctl: ") {
		t.Errorf("exit %d, stderr %q; want exit %d and one line containing %q", r.code, r.stderr, code, stderr)
	}
}

// start runs a server with cfg (servertest.Config() when nil).
func start(t *testing.T, cfg *server.Config) *servertest.Running {
	t.Helper()
	c := servertest.Config()
	if cfg != nil {
		c = *cfg
	}
	return servertest.Start(t, c, server.Options{})
}

// admin is a pkg/client of the admin API, for setting up and checking from the side.
func admin(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url, client.WithBootstrapKey(servertest.BootstrapKey))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// token creates a client with scopes and returns a token of it.
func token(t *testing.T, url, id string, scopes ...string) string {
	t.Helper()
	ctx := context.Background()
	a := admin(t, url)
	ci, err := a.CreateClient(ctx, client.NewClient{ClientID: id, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Token(ctx, client.TokenRequest{ClientID: id, ClientSecret: ci.Secret})
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestUsageErrors(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown command", []string{"polcy", "export"}, `unknown command "polcy" for "stellopsctl" (did you mean "policy"?)`},
		{"group without subcommand", []string{"user"}, "stellopsctl user needs a subcommand"},
		{"unknown subcommand", []string{"feed", "refrsh"}, `(did you mean "refresh"?)`},
		{"unknown flag", []string{"user", "list", "--bogus"}, "unknown flag: --bogus"},
		{"bad output", []string{"user", "list", "-o", "yaml"}, `unknown --output "yaml" (table or json)`},
		{"no server", []string{"policy", "history"}, "no backend: set StellaOps:BackendUrl (env STELLAOPS_BACKEND_URL) or pass --server"},
		{"no server for admin", []string{"user", "list", "--bootstrap-key", "k"}, "no backend"},
		{"bad server", []string{"policy", "history", "--server", "ftp://x"}, `base URL "ftp://x" must be http(s)://host[:port]`},
		{"extra argument", []string{"user", "list", "bob"}, `unexpected argument "bob"`},
		{"missing argument", []string{"user", "remove"}, "accepts 1 arg(s), received 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { run(t, c.args...).wantFail(t, cli.ExitUsage, c.stderr) })
	}
	// A configuration file the loader refuses is a configuration error.
	dir := t.TempDir()
	writeFile(t, dir, "appsettings.json", `{"StellaOps": {"BackendUrl": "localhost:8080"}}`)
	call{configDir: dir}.run(t, "policy", "history").wantFail(t, cli.ExitUsage, "configuration: backendUrl")
}

func TestHelpAndCompletion(t *testing.T) {
	r := run(t, "--help").wantOK(t)
	for _, want := range []string{"Admin utility – policy snapshots, feed status, user CRUD", "stellopsctl feed refresh  # force OSV merge",
		"policy", "feed", "user", "client", "completion"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("--help lacks %q:\n%s", want, r.out)
		}
	}
	// No subcommand is the help too, not an error.
	if r := run(t).wantOK(t); !strings.Contains(r.out, "Available Commands") {
		t.Errorf("bare stellopsctl:\n%s", r.out)
	}
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := run(t, "completion", sh).wantOK(t)
		if !strings.Contains(r.out, "stellopsctl") || len(r.out) < 1000 {
			t.Errorf("completion %s: %d bytes", sh, len(r.out))
		}
	}
	// Completion knows the commands.
	r = run(t, "__complete", "user", "").wantOK(t)
	for _, want := range []string{"add", "list", "remove"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("completion of user lacks %q:\n%s", want, r.out)
		}
	}
	// The tree for generated man pages: every command documented.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" && c.Name() != "help" {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	root := stellopsctl.Command(cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard})
	walk(root)
	if len(root.Commands()) != 4 {
		t.Errorf("commands %v", root.Commands())
	}
	if r := run(t, "feed", "refresh", "--help").wantOK(t); !strings.Contains(r.out, "--source strings") || !strings.Contains(r.out, `(default [osv])`) {
		t.Errorf("feed refresh --help:\n%s", r.out)
	}
}

// TestServerDown: every command that calls the server says it is unreachable, exit code 2.
func TestServerDown(t *testing.T) {
	r := start(t, nil)
	url := r.URL
	r.Stop(t)
	env := call{environ: []string{"STELLAOPS_BACKEND_URL=" + url, "STELLAOPS_BOOTSTRAP_KEY=" + servertest.BootstrapKey, "API_KEY=tok"}}
	for _, args := range [][]string{
		{"policy", "export"},
		{"policy", "import", "-"},
		{"policy", "history"},
		{"feed", "refresh"},
		{"feed", "status"},
		{"user", "add", "bob", "--role", "viewer"},
		{"user", "list"},
		{"user", "remove", "bob"},
		{"client", "add", "ci", "--scope", "stella.api"},
		{"client", "list"},
		{"client", "remove", "ci"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			c := env
			c.stdin = "version: \"1.0\"\nrules: []\n"
			c.run(t, args...).wantFail(t, cli.ExitUsage, "server unreachable: ")
		})
	}
}
