package stellopsctl_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

func TestClients(t *testing.T) {
	srv := start(t, nil)
	c := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "STELLAOPS_BOOTSTRAP_KEY=" + servertest.BootstrapKey}}
	a := admin(t, srv.URL)
	grant := func(id, secret string) (string, error) {
		tok, err := a.Token(t.Context(), client.TokenRequest{ClientID: id, ClientSecret: secret})
		return tok.Scope, err
	}

	if r := c.run(t, "client", "list").wantOK(t); r.out != "no clients\n" {
		t.Errorf("empty list: %q", r.out)
	}

	// Scopes repeated and comma-separated; the secret printed once gets a token of them.
	r := c.run(t, "client", "add", "ci-bot", "--scope", "stella.api,scanner.scans.enqueue", "--scope", "scanner.scans.read", "--tenant", "acme").wantOK(t)
	m := regexp.MustCompile(`(?m)^secret: (\S+)$`).FindStringSubmatch(r.out)
	if m == nil || !strings.HasPrefix(r.out,
		"created client ci-bot (scopes: scanner.scans.enqueue scanner.scans.read stella.api; grants: client_credentials; tenant: acme)\n") ||
		!strings.Contains(r.stderr, "shown once") {
		t.Fatalf("client add: stdout %q stderr %q", r.out, r.stderr)
	}
	if scope, err := grant("ci-bot", m[1]); err != nil || scope != "scanner.scans.enqueue scanner.scans.read stella.api" {
		t.Errorf("token of the new client: %q %v", scope, err)
	}

	// Adding it again keeps the secret pipelines use; --replace rotates it.
	c.run(t, "client", "add", "ci-bot", "--scope", "stella.api").wantFail(t, cli.ExitFailure, `client "ci-bot" already exists (--replace`)
	if _, err := grant("ci-bot", m[1]); err != nil {
		t.Errorf("the refused add changed the secret: %v", err)
	}
	r = c.run(t, "client", "add", "ci-bot", "--scope", "stella.api", "--replace", "--grant", "client_credentials,password", "-o", "json").wantOK(t)
	var ci client.ClientInfo
	if err := json.Unmarshal([]byte(r.out), &ci); err != nil || ci.Secret == "" || ci.Secret == m[1] ||
		!slices.Equal(ci.Grants, []string{"client_credentials", "password"}) || !slices.Equal(ci.Scopes, []string{"stella.api"}) {
		t.Fatalf("client add --replace -o json: %s (%v)", r.out, err)
	}
	if _, err := grant("ci-bot", m[1]); err == nil {
		t.Error("the old secret still works after --replace")
	}

	c.run(t, "client", "add", "dashboard", "--scope", "concelier.read", "--display-name", "Ops dashboard").wantOK(t)
	r = c.run(t, "client", "list").wantOK(t)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CLIENT") ||
		!regexp.MustCompile(`^ci-bot\s+stella\.api\s+client_credentials,password\s+-\s+enabled\s+\d{4}-`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^dashboard\s+concelier\.read\s+client_credentials\s+-\s+enabled\s+`).MatchString(lines[2]) {
		t.Errorf("client list:\n%s", r.out)
	}
	if strings.Contains(r.out, ci.Secret) {
		t.Error("client list shows a secret")
	}
	r = c.run(t, "client", "list", "-o", "json").wantOK(t)
	var list struct{ Clients []client.ClientInfo }
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Clients) != 2 || list.Clients[1].DisplayName != "Ops dashboard" ||
		list.Clients[0].Secret != "" {
		t.Errorf("client list -o json: %s (%v)", r.out, err)
	}

	// Remove: no more tokens; an unknown client is exit 1.
	if r := c.run(t, "client", "remove", "ci-bot").wantOK(t); r.out != "removed client ci-bot\n" {
		t.Errorf("client remove: %q", r.out)
	}
	if _, err := grant("ci-bot", ci.Secret); !client.IsStatus(err, 401) {
		t.Errorf("token of a removed client: %v", err)
	}
	c.run(t, "client", "remove", "ci-bot").wantFail(t, cli.ExitFailure, `client remove: no client "ci-bot"`)

	// Refusals.
	c.run(t, "client", "add", "x", "--scope", "scanner.everything").wantFail(t, cli.ExitUsage, `unknown scope "scanner.everything" (attestor.write, `)
	c.run(t, "client", "add", "x").wantFail(t, cli.ExitUsage, "--scope is required")
	c.run(t, "client", "add", "x", "--scope", "stella.api", "--grant", "implicit").wantFail(t, cli.ExitUsage, `unknown grant "implicit"`)
	c.run(t, "client", "add", "x", "--scope", "stella.api", "--max-scans-per-day", "-1").wantFail(t, cli.ExitUsage, "must not be negative")
	c.run(t, "client", "add", "bad id", "--scope", "stella.api").wantFail(t, cli.ExitFailure, "client add bad id: HTTP 400: ")
	if cs, _ := a.Clients(t.Context()); len(cs) != 1 {
		t.Errorf("refused adds left clients: %+v", cs)
	}
	noKey := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL}}
	for _, args := range [][]string{{"client", "list"}, {"client", "add", "x", "--scope", "stella.api"}, {"client", "remove", "dashboard"}} {
		noKey.run(t, args...).wantFail(t, cli.ExitUsage, "no bootstrap key: ")
	}
	noKey.run(t, "client", "remove", "dashboard", "--bootstrap-key", "nope").wantFail(t, cli.ExitFailure, "HTTP 401")
}
