package stellopsctl_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

// signIn runs the password grant through a public-ish client and returns the granted scope.
func signIn(t *testing.T, url, user, password string) (string, error) {
	t.Helper()
	ctx := t.Context()
	a := admin(t, url)
	cs, err := a.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const id, secret = "console", "console-secret-0123456789"
	if !slices.ContainsFunc(cs, func(c client.ClientInfo) bool { return c.ClientID == id }) {
		if _, err := a.CreateClient(ctx, client.NewClient{ClientID: id, Secret: secret, Grants: []string{"password"}, Scopes: authority.AllScopes()}); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := a.Token(ctx, client.TokenRequest{ClientID: id, ClientSecret: secret, Username: user, Password: password})
	return tok.Scope, err
}

func TestUsers(t *testing.T) {
	srv := start(t, nil)
	// The key from the environment, as operators are told to pass it.
	c := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "STELLAOPS_BOOTSTRAP_KEY=" + servertest.BootstrapKey}}

	if r := c.run(t, "user", "list").wantOK(t); r.out != "no users\n" {
		t.Errorf("empty list: %q", r.out)
	}

	// The spec's example: a generated password, printed once, that signs in.
	r := c.run(t, "user", "add", "dev-team", "--role", "developer").wantOK(t)
	m := regexp.MustCompile(`(?m)^password: (\S{24})$`).FindStringSubmatch(r.out)
	if m == nil || !strings.HasPrefix(r.out, "created user dev-team (roles: developer; tenant: -)\n") ||
		!strings.Contains(r.out, "scopes: "+strings.Join(authority.Roles()["developer"], " ")+"\n") || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("user add: stdout %q stderr %q", r.out, r.stderr)
	}
	if err := authority.BaselinePasswordPolicy.Check(m[1]); err != nil {
		t.Errorf("generated password %q: %v", m[1], err)
	}
	if scope, err := signIn(t, srv.URL, "dev-team", m[1]); err != nil || !strings.Contains(scope, authority.ScopeScansEnqueue) ||
		strings.Contains(scope, authority.ScopePolicyWrite) {
		t.Errorf("sign-in with the generated password: scope %q, %v", scope, err)
	}

	// Adding it again does not reset the password; --replace with --password-stdin does.
	c.run(t, "user", "add", "dev-team", "--role", "viewer").wantFail(t, cli.ExitFailure, `user "dev-team" already exists (--replace`)
	if _, err := signIn(t, srv.URL, "dev-team", m[1]); err != nil {
		t.Errorf("the refused add changed the password: %v", err)
	}
	in := c
	in.stdin = "Another-Passw0rd!\n"
	r = in.run(t, "user", "add", "dev-team", "--role", "operator,viewer", "--tenant", "acme", "--password-stdin", "--replace").wantOK(t)
	if strings.Contains(r.out, "password:") || !strings.Contains(r.out, "(roles: operator, viewer; tenant: acme)") {
		t.Errorf("user add --password-stdin: %q", r.out)
	}
	if _, err := signIn(t, srv.URL, "dev-team", m[1]); err == nil {
		t.Error("the old password still signs in after --replace")
	}
	if scope, err := signIn(t, srv.URL, "dev-team", "Another-Passw0rd!"); err != nil || !strings.Contains(scope, authority.ScopePolicyWrite) {
		t.Errorf("sign-in with the new password: %q %v", scope, err)
	}

	// JSON output holds the generated password, for scripts.
	r = c.run(t, "user", "add", "auditor", "--role", "viewer", "-o", "json").wantOK(t)
	var added struct {
		Username, Password string
		Roles, Scopes      []string
	}
	if err := json.Unmarshal([]byte(r.out), &added); err != nil || added.Username != "auditor" || len(added.Password) != 24 ||
		!slices.Equal(added.Roles, []string{"viewer"}) || !slices.Equal(added.Scopes, authority.Roles()["viewer"]) {
		t.Errorf("user add -o json: %s (%v)", r.out, err)
	}

	// List: table and JSON.
	r = c.run(t, "user", "list").wantOK(t)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "USERNAME") ||
		!regexp.MustCompile(`^auditor\s+viewer\s+-\s+enabled\s+\d{4}-`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^dev-team\s+operator,viewer\s+acme\s+enabled\s+`).MatchString(lines[2]) {
		t.Errorf("user list:\n%s", r.out)
	}
	r = c.run(t, "user", "list", "-o", "json").wantOK(t)
	var list struct{ Users []client.UserInfo }
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Users) != 2 || list.Users[1].Tenant != "acme" {
		t.Errorf("user list -o json: %s (%v)", r.out, err)
	}

	// Remove, then the unknown user: exit 1.
	if r := c.run(t, "user", "remove", "auditor").wantOK(t); r.out != "removed user auditor\n" {
		t.Errorf("user remove: %q", r.out)
	}
	c.run(t, "user", "remove", "auditor").wantFail(t, cli.ExitFailure, `user remove: no user "auditor"`)

	// Refusals.
	c.run(t, "user", "add", "bob", "--role", "root").wantFail(t, cli.ExitUsage, `unknown role "root" (admin, developer, operator, viewer)`)
	c.run(t, "user", "add", "bob").wantFail(t, cli.ExitUsage, "--role is required")
	weak := c
	weak.stdin = "short"
	weak.run(t, "user", "add", "bob", "--role", "viewer", "--password-stdin").wantFail(t, cli.ExitFailure, "user add bob: HTTP 400: ")
	c.run(t, "user", "add", "bob", "--role", "viewer", "--password-stdin").wantFail(t, cli.ExitUsage, "stdin holds no password")
	c.run(t, "user", "add", "-bob", "--role", "viewer").wantFail(t, cli.ExitUsage, "unknown shorthand flag")
	c.run(t, "user", "add", "bad/name", "--role", "viewer").wantFail(t, cli.ExitFailure, "HTTP 400: ")
	if us, _ := admin(t, srv.URL).Users(t.Context()); len(us) != 1 {
		t.Errorf("refused adds left users: %+v", us)
	}

	// The bootstrap key: none is a usage error, a wrong one the server's 401.
	noKey := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL}}
	noKey.run(t, "user", "list").wantFail(t, cli.ExitUsage, "no bootstrap key: ")
	noKey.run(t, "user", "add", "bob", "--role", "viewer").wantFail(t, cli.ExitUsage, "no bootstrap key: ")
	noKey.run(t, "user", "remove", "dev-team").wantFail(t, cli.ExitUsage, "no bootstrap key: ")
	noKey.run(t, "user", "list", "--bootstrap-key", "wrong-key").wantFail(t, cli.ExitFailure,
		"HTTP 401: this route needs a valid X-StellaOps-Bootstrap-Key header (check --bootstrap-key / STELLAOPS_BOOTSTRAP_KEY)")
	// A bearer token does not open the admin API either.
	withToken := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "API_KEY=some-token"}}
	withToken.run(t, "user", "list").wantFail(t, cli.ExitUsage, "no bootstrap key")
	// The flag overrides the environment; --server the configured backend.
	noKey.run(t, "user", "list", "--bootstrap-key", servertest.BootstrapKey).wantOK(t)
	call{}.run(t, "user", "list", "--bootstrap-key", servertest.BootstrapKey, "--server", srv.URL).wantOK(t)
}

func TestGeneratedPasswordsMeetTheBaselinePolicy(t *testing.T) {
	srv := start(t, nil)
	c := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "STELLAOPS_BOOTSTRAP_KEY=" + servertest.BootstrapKey}}
	seen := map[string]bool{}
	for i := range 5 {
		r := c.run(t, "user", "add", "u"+string(rune('a'+i)), "--role", "viewer", "-o", "json").wantOK(t)
		var u struct{ Password string }
		if err := json.Unmarshal([]byte(r.out), &u); err != nil {
			t.Fatal(err)
		}
		if err := authority.BaselinePasswordPolicy.Check(u.Password); err != nil || seen[u.Password] {
			t.Errorf("password %q: %v (seen before: %v)", u.Password, err, seen[u.Password])
		}
		seen[u.Password] = true
	}
}
