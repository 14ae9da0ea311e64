package stellaopscli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// cliEnv is one user's installation against a real server on loopback: the environment the
// CLI sees (never the real home: the token cache is a temporary directory), an empty
// configuration directory and a data directory.
type cliEnv struct {
	t         *testing.T
	srv       *servertest.Running
	vars      map[string]string
	data      string
	configDir string
	tokens    string
}

// newCLIEnv starts a server with cfg and o (o.DataDir defaults to a temporary directory) and
// points the CLI at it. Authority retries are off, so "server down" fails at once.
func newCLIEnv(t *testing.T, cfg server.Config, o server.Options) *cliEnv {
	t.Helper()
	srv := servertest.Start(t, cfg, o)
	e := &cliEnv{t: t, srv: srv, data: t.TempDir(), configDir: t.TempDir(), tokens: filepath.Join(t.TempDir(), "tokens")}
	e.vars = map[string]string{
		"STELLAOPS_BACKEND_URL":                    srv.URL,
		"STELLAOPS_AUTHORITY__TOKENCACHEDIRECTORY": e.tokens,
		"STELLAOPS_AUTHORITY_ENABLE_RETRIES":       "false",
		"HOME":                                     t.TempDir(),
	}
	return e
}

// admin is a client of the server's bootstrap admin API.
func (e *cliEnv) admin() *client.Client {
	e.t.Helper()
	c, err := client.New(e.srv.URL, client.WithBootstrapKey(servertest.BootstrapKey))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// identity creates an OAuth client with scopes and configures the CLI to log in as it.
func (e *cliEnv) identity(id string, scopes ...string) (secret string) {
	e.t.Helper()
	ci, err := e.admin().CreateClient(context.Background(), client.NewClient{ClientID: id, Scopes: scopes})
	if err != nil {
		e.t.Fatal(err)
	}
	e.vars["STELLAOPS_AUTHORITY__CLIENTID"] = id
	e.vars["STELLAOPS_AUTHORITY__CLIENTSECRET"] = ci.Secret
	e.vars["STELLAOPS_AUTHORITY__SCOPE"] = strings.Join(scopes, " ")
	return ci.Secret
}

func (e *cliEnv) run(args ...string) (int, string, string) {
	e.t.Helper()
	return e.runIn(strings.NewReader(""), args...)
}

// runIn executes stellaops-cli in-process with stdin and returns its exit code, stdout and
// stderr, as cmd/stellaops-cli would.
func (e *cliEnv) runIn(stdin io.Reader, args ...string) (int, string, string) {
	e.t.Helper()
	return e.runCtx(context.Background(), stdin, args...)
}

// runCtx is runIn under ctx (cancelled as Ctrl-C cancels the real command's).
func (e *cliEnv) runCtx(ctx context.Context, stdin io.Reader, args ...string) (int, string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	var environ []string
	for k, v := range e.vars {
		environ = append(environ, k+"="+v)
	}
	err := stellaopscli.Run(ctx, append([]string{"--data", e.data, "--config-dir", e.configDir}, args...),
		cli.IO{In: stdin, Out: &out, Err: &errb, Environ: environ}, func(k string) string { return e.vars[k] })
	code := cli.Code(ctx, err, &errb, "stellaops-cli")
	return code, out.String(), errb.String()
}

// oneLine fails unless stderr is exactly one line holding want.
func oneLine(t *testing.T, what, stderr, want string) {
	t.Helper()
	if !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("%s: stderr %q; want one line containing %q", what, stderr, want)
	}
}

// inAnHour is the remaining lifetime of a fresh token (the server's default: one hour).
var inAnHour = regexp.MustCompile(`\(in (59m5\ds|1h0m0s)\)`)

func TestAuthLoginStatusWhoamiLogout(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{})
	e.identity("concelier-cli", authority.ScopeConcelierTrigger, authority.ScopeConcelierRead)

	for _, args := range [][]string{{"auth", "status"}, {"auth", "whoami"}} {
		code, _, stderr := e.run(args...)
		if code != 1 {
			t.Errorf("%v before login: exit %d", args, code)
		}
		oneLine(t, strings.Join(args, " "), stderr, "not logged in: run `stellaops-cli auth login`")
	}

	code, out, stderr := e.run("auth", "login")
	if code != 0 {
		t.Fatalf("login: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Logged in to " + e.srv.URL, "Mode:", "client_credentials", "concelier.jobs.trigger concelier.read", "Expires:"} {
		if !strings.Contains(out, want) {
			t.Errorf("login output lacks %q:\n%s", want, out)
		}
	}
	if !inAnHour.MatchString(out) {
		t.Errorf("login output lacks the remaining lifetime:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(e.tokens, "*.json"))
	if len(files) != 1 {
		t.Fatalf("token cache %s holds %v", e.tokens, files)
	}
	if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode: %v %v", fi.Mode(), err)
	}
	first, _ := os.ReadFile(files[0])
	// The Authority's keys were cached for offline verification.
	if jwks, _ := filepath.Glob(filepath.Join(e.tokens, "metadata", "jwks-*.json")); len(jwks) != 1 {
		t.Errorf("JWKS cache: %v", jwks)
	}

	// A second login reuses the cache; --force replaces it.
	if code, out, _ := e.run("auth", "login"); code != 0 || !strings.Contains(out, "Using the cached token") {
		t.Errorf("second login: exit %d\n%s", code, out)
	}
	if again, _ := os.ReadFile(files[0]); !bytes.Equal(again, first) {
		t.Error("a login without --force rewrote the cache")
	}
	if code, out, _ := e.run("auth", "login", "--force"); code != 0 || !strings.Contains(out, "Logged in to") {
		t.Errorf("login --force: exit %d\n%s", code, out)
	}
	var before, after struct{ AccessToken string }
	_ = json.Unmarshal(first, &before)
	renewed, _ := os.ReadFile(files[0])
	_ = json.Unmarshal(renewed, &after)
	if after.AccessToken == "" || after.AccessToken == before.AccessToken {
		t.Error("login --force kept the cached token")
	}

	code, out, _ = e.run("auth", "status")
	if code != 0 || !strings.Contains(out, "client concelier-cli") || !strings.Contains(out, "client_credentials") || !strings.Contains(out, "concelier.read") {
		t.Errorf("status: exit %d\n%s", code, out)
	}

	code, out, _ = e.run("auth", "whoami")
	for _, want := range []string{"Subject:", "Client:    concelier-cli", "Audience:  stellaops", "Issuer:    " + e.srv.URL, "concelier.jobs.trigger", "not verified"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("whoami: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}
	if !inAnHour.MatchString(out) {
		t.Errorf("whoami lacks the remaining lifetime:\n%s", out)
	}
	if strings.Contains(out, "jti:") {
		t.Error("whoami printed every claim without --verbose")
	}
	if _, out, _ := e.run("auth", "whoami", "-v"); !strings.Contains(out, "  jti: \"") || !strings.Contains(out, "  iat: ") {
		t.Errorf("whoami -v lacks the other claims:\n%s", out)
	}

	if code, out, _ := e.run("auth", "logout"); code != 0 || !strings.Contains(out, "Logged out: removed "+files[0]) {
		t.Errorf("logout: exit %d\n%s", code, out)
	}
	if code, _, _ := e.run("auth", "status"); code != 1 {
		t.Errorf("status after logout: exit %d", code)
	}
	if code, out, _ := e.run("auth", "logout"); code != 0 || !strings.Contains(out, "Not logged in") {
		t.Errorf("second logout: exit %d\n%s", code, out)
	}
}

func TestAuthLoginErrors(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{})
	secret := e.identity("ci-bot", authority.ScopeAPI)

	e.vars["STELLAOPS_AUTHORITY__CLIENTSECRET"] = "not-the-secret"
	code, _, stderr := e.run("auth", "login")
	if code != 1 {
		t.Errorf("wrong secret: exit %d", code)
	}
	oneLine(t, "wrong secret", stderr, "auth login: the Authority refused the login (HTTP 401: invalid_client")
	if files, _ := filepath.Glob(filepath.Join(e.tokens, "*.json")); len(files) != 0 {
		t.Errorf("a failed login cached %v", files)
	}

	delete(e.vars, "STELLAOPS_AUTHORITY__CLIENTSECRET")
	delete(e.vars, "STELLAOPS_AUTHORITY__CLIENTID")
	code, _, stderr = e.run("auth", "login")
	if code != 2 {
		t.Errorf("no credentials: exit %d", code)
	}
	oneLine(t, "no credentials", stderr, "no Authority credentials")

	e.vars["STELLAOPS_AUTHORITY__CLIENTID"] = "ci-bot"
	e.vars["STELLAOPS_AUTHORITY__CLIENTSECRET"] = secret
	e.vars["STELLAOPS_AUTHORITY__SCOPE"] = "authority.admin"
	code, _, stderr = e.run("auth", "login")
	if code != 1 {
		t.Errorf("scope the client lacks: exit %d", code)
	}
	oneLine(t, "scope the client lacks", stderr, "invalid_scope")

	delete(e.vars, "STELLAOPS_BACKEND_URL")
	code, _, stderr = e.run("auth", "login")
	if code != 2 {
		t.Errorf("no backend: exit %d", code)
	}
	oneLine(t, "no backend", stderr, "no backend: set StellaOps:BackendUrl")

	e.vars["STELLAOPS_BACKEND_URL"] = e.srv.URL
	e.srv.Stop(t)
	code, _, stderr = e.run("auth", "login")
	if code != 1 {
		t.Errorf("server down: exit %d", code)
	}
	oneLine(t, "server down", stderr, "auth login: cannot reach the server: dial tcp")

	e.vars["STELLAOPS_AUTHORITY__URL"] = "ftp://authority"
	code, _, stderr = e.run("auth", "status")
	if code != 2 {
		t.Errorf("bad configuration: exit %d", code)
	}
	oneLine(t, "bad configuration", stderr, `configuration: authority.url "ftp://authority"`)
}
