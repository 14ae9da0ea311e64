package stellaopscli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/server"
	"github.com/stellaops/stellaops/internal/server/servertest"
)

func TestConfigShow(t *testing.T) {
	e := newCLIEnv(t, servertest.Config(), server.Options{})
	// The spec's template file, overridden by the environment where both set a key.
	settings := `{
  "StellaOps": {
    "ApiKey": "file-api-key",
    "BackendUrl": "https://concelier.example.org",
    "ScannerDownloadAttempts": 5,
    "Authority": {
      "Url": "https://authority.example.org",
      "ClientId": "concelier-cli",
      "ClientSecret": "file-client-secret",
      "Scope": "concelier.jobs.trigger"
    }
  }
}
`
	file := filepath.Join(e.configDir, "appsettings.json")
	if err := os.WriteFile(file, []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	e.vars["API_KEY"] = "env-api-key"
	e.vars["STELLAOPS_BOOTSTRAP_KEY"] = "env-bootstrap-key"
	e.vars["STELLAOPS_AUTHORITY_RETRY_DELAYS"] = "1s,3s"

	code, out, stderr := e.run("config", "show")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		`apiKey = "********"`, `bootstrapKey = "********"`, `authority.clientSecret = "********"`, `authority.password = ""`,
		`backendUrl = "` + e.srv.URL + `"`, `authority.url = "https://authority.example.org"`, `scannerDownloadAttempts = 5`,
		`authority.resilience.retryDelays = ["1s","3s"]`, `authority.tokenCacheDirectory = "` + e.tokens + `"`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("config show lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"file-api-key", "env-api-key", "env-bootstrap-key", "file-client-secret"} {
		if strings.Contains(out, secret) {
			t.Errorf("config show printed the secret %q", secret)
		}
	}

	code, out, _ = e.run("config", "show", "--sources")
	for _, want := range []string{
		"# file: " + file + "\n",
		`apiKey = "********"  # env API_KEY`,
		`backendUrl = "` + e.srv.URL + `"  # env STELLAOPS_BACKEND_URL`,
		`authority.clientId = "concelier-cli"  # ` + file + ":8",
		`authority.resilience.retryDelays = ["1s","3s"]  # env STELLAOPS_AUTHORITY_RETRY_DELAYS`,
		`defaultRunner = "self"  # default`,
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("config show --sources lacks %s:\n%s", want, out)
		}
	}

	code, out, _ = e.run("config", "show", "--json")
	var doc struct {
		StellaOps map[string]any
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
		t.Fatalf("config show --json: exit %d, %v\n%s", code, err, out)
	}
	if doc.StellaOps["apiKey"] != "********" || doc.StellaOps["authority"].(map[string]any)["clientSecret"] != "********" ||
		doc.StellaOps["backendUrl"] != e.srv.URL || strings.Contains(out, "env-api-key") {
		t.Errorf("config show --json:\n%s", out)
	}

	// A configuration that does not load: exit 2 naming the key, whatever the command.
	if err := os.WriteFile(file, []byte(`{"StellaOps": {"BackendUrll": "x"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = e.run("config", "show")
	if code != 2 {
		t.Errorf("typo in the file: exit %d", code)
	}
	if !strings.Contains(stderr, `did you mean "backendUrl"`) {
		t.Errorf("typo in the file: %q", stderr)
	}
}
