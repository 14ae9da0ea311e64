package stellaops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stellaops"
	"github.com/stellaops/stellaops/pkg/client"
)

// syncBuffer is a bytes.Buffer the server goroutine writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

var listenLine = regexp.MustCompile(`StellaOps listening on http://(\S+)`)

// serveDev runs `stellaops serve --dev` until stop is called, returning its URL and output.
func serveDev(t *testing.T, data string, environ []string) (url string, out, errb *syncBuffer, stop func() error) {
	t.Helper()
	out, errb = &syncBuffer{}, &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stellaops.Run(ctx, []string{"serve", "--dev", "--listen", "127.0.0.1:0", "--data", data},
			cli.IO{In: strings.NewReader(""), Out: out, Err: errb, Environ: environ}, func(string) string { return "" })
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := listenLine.FindStringSubmatch(errb.String()); m != nil {
			url = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			cancel()
			t.Fatalf("serve ended early: %v\n%s", err, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", errb.String())
		}
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return url, out, errb, stop
}

func TestServeDev(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	url, out, _, stop := serveDev(t, data, nil)

	credPath := filepath.Join(data, "dev-credentials.json")
	st, err := os.Stat(credPath)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("dev-credentials.json mode %v", st.Mode().Perm())
	}
	var cred struct{ ClientID, ClientSecret, AdminUser, AdminPassword, BootstrapKey string }
	b, _ := os.ReadFile(credPath)
	if err := json.Unmarshal(b, &cred); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), cred.ClientSecret) || !strings.Contains(out.String(), cred.BootstrapKey) {
		t.Fatalf("first start did not print the credentials:\n%s", out.String())
	}
	c, _ := client.New(url)
	tok, err := c.Token(ctx, client.TokenRequest{ClientID: cred.ClientID, ClientSecret: cred.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Token(ctx, client.TokenRequest{ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Username: cred.AdminUser, Password: cred.AdminPassword}); err != nil {
		t.Fatalf("admin password grant: %v", err)
	}
	if _, _, err := c.With(client.WithToken(tok.AccessToken)).Quota(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "snapshots")); err != nil {
		t.Fatalf("bundled snapshot not imported: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// A second start keeps the credentials and prints no secret.
	url, out, _, _ = serveDev(t, data, nil)
	if strings.Contains(out.String(), cred.ClientSecret) {
		t.Fatal("second start printed the secret again")
	}
	admin, _ := client.New(url, client.WithBootstrapKey(cred.BootstrapKey))
	if _, err := admin.Clients(ctx); err != nil {
		t.Fatalf("bootstrap key after restart: %v", err)
	}
}

func TestServeConfigErrors(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "appsettings.json"), []byte(`{"authority": {"isuer": "x"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	err := stellaops.Run(context.Background(), []string{"serve", "--data", data}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	if code := cli.Code(context.Background(), err, &errb, "stellaops"); code != cli.ExitUsage || !strings.Contains(errb.String(), "isuer") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	errb.Reset()
	err = stellaops.Run(context.Background(), []string{"serve", "--data", t.TempDir(), "--role", "api,cook"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb}, func(string) string { return "" })
	if code := cli.Code(context.Background(), err, &errb, "stellaops"); code != cli.ExitUsage || !strings.Contains(errb.String(), `unknown role "cook"`) {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}

func TestConfigShowMasksSecrets(t *testing.T) {
	var out, errb bytes.Buffer
	env := []string{"STELLAOPS_STORAGE__DSN=postgres://u:pw@db/x", "STELLAOPS_AUTHORITY__BOOTSTRAPKEY=very-secret", "STELLAOPS_AUTHORITY__ISSUER=https://auth.example"}
	err := stellaops.Run(context.Background(), []string{"config", "show", "--sources", "--data", t.TempDir()}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb, Environ: env}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err, errb.String())
	}
	s := out.String()
	if strings.Contains(s, "very-secret") || strings.Contains(s, "pw@db") || !strings.Contains(s, "https://auth.example") || !strings.Contains(s, "STELLAOPS_AUTHORITY__ISSUER") {
		t.Fatalf("config show:\n%s", s)
	}
}
