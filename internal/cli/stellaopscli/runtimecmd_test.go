package stellaopscli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
	"github.com/stellaops/stellaops/pkg/client"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	digestC = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
)

// imageRow matches a row of the verdict table: image, verdict, signed, SBOM referrer.
var imageRow = regexp.MustCompile(`(?m)^(sha256:[0-9a-f]{64})\s+(pass|warn|fail|unknown)\s+(yes|no)\s+(yes|no)\s+`)

func TestRuntimePolicyTest(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{})
	e.identity("admission-webhook", authority.ScopeScansRead)

	// -i repeatable with comma and space lists, --file, duplicates in any case dropped.
	list := filepath.Join(t.TempDir(), "digests.txt")
	if err := os.WriteFile(list, []byte(digestC+"\n\n  "+digestA+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := e.run("runtime", "policy", "test", "-i", digestA+",sha256:"+strings.ToUpper(digestB[7:10])+digestB[10:], "-i", digestB+" "+digestA,
		"--file", list, "--ns", "prod", "-l", "app=web", "--label", "tier=frontend")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	rows := imageRow.FindAllStringSubmatch(out, -1)
	var images []string
	for _, r := range rows {
		images = append(images, r[1])
	}
	// sha256:BBB…bbb is B's digest in upper case: the same image.
	if !slices.Equal(images, []string{digestA, digestB, digestC}) {
		t.Errorf("rows for %v, want A, B, C once each in the order asked:\n%s", images, out)
	}
	for _, want := range []string{"TTL:             300s (expires ", "Policy revision: -", "IMAGE", "SIGNED", "SBOM REFERRER", "QUIETED BY", "CONFIDENCE", "REKOR", "Reasons:"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// --json: the server's answer as it is, nothing else.
	code, out, stderr = e.run("runtime", "policy", "test", "-i", digestA, "--json")
	var resp client.RuntimePolicyResponse
	if err := json.Unmarshal([]byte(out), &resp); err != nil || code != 0 || stderr != "" {
		t.Fatalf("--json: exit %d, %v\n%s%s", code, err, out, stderr)
	}
	if _, ok := resp.Results[digestA]; !ok || len(resp.Results) != 1 || resp.TTLSeconds != 300 {
		t.Errorf("--json answer %+v", resp)
	}

	// Piped standard input when no image is named.
	code, out, _ = e.runIn(strings.NewReader(digestB+"\n"+digestC+" "+digestB+"\n"), "runtime", "policy", "test")
	if rows := imageRow.FindAllStringSubmatch(out, -1); code != 0 || len(rows) != 2 || rows[0][1] != digestB || rows[1][1] != digestC {
		t.Errorf("digests from stdin: exit %d\n%s", code, out)
	}
	// "-f -" reads it too; with -i given, standard input is left alone.
	code, out, _ = e.runIn(strings.NewReader(digestC), "runtime", "policy", "test", "-f", "-")
	if rows := imageRow.FindAllStringSubmatch(out, -1); code != 0 || len(rows) != 1 || rows[0][1] != digestC {
		t.Errorf("-f -: exit %d\n%s", code, out)
	}
	code, out, _ = e.runIn(strings.NewReader(digestC), "runtime", "policy", "test", "-i", digestA)
	if rows := imageRow.FindAllStringSubmatch(out, -1); code != 0 || len(rows) != 1 || rows[0][1] != digestA {
		t.Errorf("-i with stdin: exit %d\n%s", code, out)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "no image digests: pass --image/-i, --file/-f, or pipe them"},
		{[]string{"-i", digestA, "-l", "app"}, 2, `--label "app": want key=value`},
		{[]string{"-f", filepath.Join(t.TempDir(), "missing.txt")}, 2, "--file: open "},
		{[]string{"-i", "nginx:latest"}, 1, "runtime policy test: HTTP 400"},
	} {
		code, _, stderr := e.run(append([]string{"runtime", "policy", "test"}, c.args...)...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
		}
		oneLine(t, strings.Join(c.args, " "), stderr, c.msg)
	}

	// Without scanner.scans.read: 403 and what to do.
	e.identity("zastava-observer", authority.ScopeRuntimeIngest)
	code, _, stderr = e.run("runtime", "policy", "test", "-i", digestA)
	if code != 1 {
		t.Errorf("without the scope: exit %d", code)
	}
	oneLine(t, "without the scope", stderr, "the token lacks a scope this needs (HTTP 403")

	e.srv.Stop(t)
	e.vars["API_KEY"] = "some-token"
	code, _, stderr = e.run("runtime", "policy", "test", "-i", digestA)
	if code != 1 {
		t.Errorf("server down: exit %d", code)
	}
	oneLine(t, "server down", stderr, "runtime policy test: cannot reach the server")
}
