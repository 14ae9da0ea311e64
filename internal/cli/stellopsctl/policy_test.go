package stellopsctl_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

const (
	yamlPolicy = "# gate on criticals\nversion: \"1.0\"\nrules:\n  - name: Block Critical\n    severity: [Critical]\n    action: block\n"
	// regoPolicy has no trailing newline and CRLF-free odd spacing: export must give it back
	// byte for byte.
	regoPolicy = "# rego gate\npackage stella.policy\n\ndeny contains msg if {  input.finding.severity == \"Critical\"; msg := \"c\" }"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicy(t *testing.T) {
	srv := start(t, nil)
	tok := token(t, srv.URL, "policy-admin", authority.ScopePolicyRead, authority.ScopePolicyWrite)
	c := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "API_KEY=" + tok}}
	dir := t.TempDir()

	// Nothing imported yet: the server's problem, exit code 1.
	c.run(t, "policy", "export").wantFail(t, cli.ExitFailure, "policy export: HTTP 404: no policy has been imported yet")
	if r := c.run(t, "policy", "history").wantOK(t); r.out != "no policy has been imported yet\n" {
		t.Errorf("empty history: %q", r.out)
	}

	// YAML from a file, then the same again: unchanged.
	yamlFile := writeFile(t, dir, "gate.yaml", yamlPolicy)
	r := c.run(t, "policy", "import", yamlFile, "--description", "first gate").wantOK(t)
	if !regexp.MustCompile(`^imported rev-1 \(yaml, [0-9a-f]{64}\)\n$`).MatchString(r.out) {
		t.Errorf("import: %q", r.out)
	}
	r = c.run(t, "policy", "import", yamlFile).wantOK(t)
	if !regexp.MustCompile(`^unchanged: rev-1 \([0-9a-f]{64}\) is already the active policy\n$`).MatchString(r.out) {
		t.Errorf("second import: %q", r.out)
	}

	// Rego from stdin, recognised by its package clause, with --output json.
	c2 := c
	c2.stdin = regoPolicy
	r = c2.run(t, "policy", "import", "-", "-o", "json").wantOK(t)
	var res client.PolicyImportResult
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || !res.Created || res.Revision.RevisionID != "rev-2" ||
		res.Revision.Format != "rego" || res.Revision.Actor == "" {
		t.Errorf("rego import: %s (%v)", r.out, err)
	}

	// Export: the active revision to stdout, an older one to a file, byte for byte.
	if r := c.run(t, "policy", "export").wantOK(t); r.out != regoPolicy {
		t.Errorf("export of the active policy:\n%q\nwant\n%q", r.out, regoPolicy)
	}
	out := filepath.Join(dir, "backup.yaml")
	r = c.run(t, "policy", "export", "--revision", "rev-1", "--output", out).wantOK(t)
	if b, err := os.ReadFile(out); err != nil || string(b) != yamlPolicy || r.out != "" || !strings.Contains(r.stderr, "rev-1") {
		t.Errorf("export --revision rev-1 --output: %q (%v), stdout %q, stderr %q", b, err, r.out, r.stderr)
	}
	// A revision that does not exist: exit 1 and no file.
	missing := filepath.Join(dir, "missing.yaml")
	c.run(t, "policy", "export", "--revision", "rev-9", "-o", missing).wantFail(t, cli.ExitFailure, "HTTP 404: policy revision rev-9 does not exist")
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed export left a file behind")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Errorf("export left temporary files: %v", ents)
	}

	// History: newest first, table and JSON; --limit.
	r = c.run(t, "policy", "history").wantOK(t)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "REVISION") || !strings.HasPrefix(lines[1], "rev-2 ") ||
		!strings.HasPrefix(lines[2], "rev-1 ") || !strings.Contains(lines[2], "first gate") || !strings.Contains(lines[1], " rego ") {
		t.Errorf("history:\n%s", r.out)
	}
	r = c.run(t, "policy", "history", "--limit", "1", "-o", "json").wantOK(t)
	var h struct{ Revisions []client.PolicyRevision }
	if err := json.Unmarshal([]byte(r.out), &h); err != nil || len(h.Revisions) != 1 || h.Revisions[0].RevisionID != "rev-2" {
		t.Errorf("history --limit 1 -o json: %s (%v)", r.out, err)
	}

	// Refusals.
	bad := writeFile(t, dir, "bad.yaml", "version: \"1.0\"\nrules:\n  - name: x\n    action: explode\n")
	c.run(t, "policy", "import", bad).wantFail(t, cli.ExitFailure, "policy import: HTTP 400: ")
	c.run(t, "policy", "import", yamlFile, "--format", "json").wantFail(t, cli.ExitUsage, `unknown --format "json" (yaml or rego)`)
	c.run(t, "policy", "import", filepath.Join(dir, "nope.yaml")).wantFail(t, cli.ExitUsage, "no such file or directory")
	c.run(t, "policy", "import", writeFile(t, dir, "empty.yaml", " \n")).wantFail(t, cli.ExitUsage, "is empty")
	c.run(t, "policy", "import").wantFail(t, cli.ExitUsage, "accepts 1 arg(s)")
	// The global -o reaches export's own --output FILE: a format name is refused, not written to.
	c.run(t, "-o", "json", "policy", "export").wantFail(t, cli.ExitUsage, "policy export: --output is the file to write")
	// No token: the server says so.
	call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL}}.run(t, "policy", "history").wantFail(t, cli.ExitFailure, "HTTP 401")
	// A token without policy.write may read but not import.
	reader := token(t, srv.URL, "policy-reader", authority.ScopePolicyRead)
	rc := call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL}}
	rc.run(t, "policy", "import", yamlFile, "--token", reader).wantFail(t, cli.ExitFailure, "HTTP 403")
	rc.run(t, "policy", "export", "--token", reader).wantOK(t)
}

// TestPolicyAuthorityCredentials: without a token, the policy commands get one from the
// Authority credentials of the configuration file, as stellaops-cli does, and cache it.
func TestPolicyAuthorityCredentials(t *testing.T) {
	srv := start(t, nil)
	ci, err := admin(t, srv.URL).CreateClient(t.Context(), client.NewClient{ClientID: "ops-cli",
		Scopes: []string{authority.ScopePolicyRead, authority.ScopePolicyWrite}})
	if err != nil {
		t.Fatal(err)
	}
	dir, cache := t.TempDir(), t.TempDir()
	b, _ := json.Marshal(map[string]any{"StellaOps": map[string]any{
		"BackendUrl": srv.URL,
		"Authority":  map[string]any{"ClientId": "ops-cli", "ClientSecret": ci.Secret, "TokenCacheDirectory": cache},
	}})
	writeFile(t, dir, "appsettings.json", string(b))
	c := call{configDir: dir, stdin: yamlPolicy}
	c.run(t, "policy", "import", "-").wantOK(t)
	if r := c.run(t, "policy", "export").wantOK(t); r.out != yamlPolicy {
		t.Errorf("export: %q", r.out)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 1 {
		t.Errorf("token cache holds %v, want one token", ents)
	}
	// The bootstrap key is no bearer token: the admin key alone does not open the policy API.
	call{environ: []string{"STELLAOPS_BACKEND_URL=" + srv.URL, "STELLAOPS_BOOTSTRAP_KEY=" + servertest.BootstrapKey}}.
		run(t, "policy", "history").wantFail(t, cli.ExitFailure, "HTTP 401")
}
