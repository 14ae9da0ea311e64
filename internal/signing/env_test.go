package signing_test

import (
	"context"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/signing"
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestEnvKeys(t *testing.T) {
	ctx := context.Background()
	secret := base64.StdEncoding.EncodeToString(seed("env"))
	for _, tc := range []struct {
		name string
		vars map[string]string
		want signing.Algorithm
	}{
		{"hs256 secret", map[string]string{"STELLAOPS_SIGNING_KEY": secret, "STELLAOPS_SIGNING_KEY_ID": "scanner-report-signing"}, signing.HS256},
		{"hs256 explicit", map[string]string{"STELLAOPS_SIGNING_KEY": secret, "STELLAOPS_SIGNING_KEY_ID": "scanner-report-signing", "STELLAOPS_SIGNING_ALGORITHM": "hs256"}, signing.HS256},
		{"ed25519 PEM", map[string]string{"STELLAOPS_SIGNING_KEY": string(readFile(t, opensslFile("ed25519.pem"))), "STELLAOPS_SIGNING_KEY_ID": "scanner-report-signing"}, signing.Ed25519},
		{"ecdsa file", map[string]string{"STELLAOPS_SIGNING_KEY_FILE": opensslFile("ecdsa-p256.pem"), "STELLAOPS_SIGNING_KEY_ID": "scanner-report-signing", "STELLAOPS_SIGNING_ALGORITHM": "ecdsa-p256"}, signing.ECDSAP256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kr, err := signing.NewEnv(envOf(tc.vars), "").Keyring(ctx)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := kr.Active()
			if a.KeyID() != "scanner-report-signing" || a.Algorithm() != tc.want {
				t.Errorf("active %s/%s", a.KeyID(), a.Algorithm())
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	ctx := context.Background()
	secret := base64.StdEncoding.EncodeToString(seed("env"))
	for _, tc := range []struct {
		name string
		vars map[string]string
		want error
		text string
	}{
		{"nothing set", nil, signing.ErrNoKeys, "neither STELLAOPS_SIGNING_KEY nor STELLAOPS_SIGNING_KEY_FILE is set"},
		{"both set", map[string]string{"STELLAOPS_SIGNING_KEY": secret, "STELLAOPS_SIGNING_KEY_FILE": "x", "STELLAOPS_SIGNING_KEY_ID": "k"}, nil, "set one"},
		{"no keyId", map[string]string{"STELLAOPS_SIGNING_KEY": secret}, signing.ErrInvalidKey, "STELLAOPS_SIGNING_KEY_ID is not set"},
		{"bad algorithm", map[string]string{"STELLAOPS_SIGNING_KEY": secret, "STELLAOPS_SIGNING_KEY_ID": "k", "STELLAOPS_SIGNING_ALGORITHM": "HS256"}, signing.ErrUnknownAlgorithm, "STELLAOPS_SIGNING_ALGORITHM"},
		{"secret not base64", map[string]string{"STELLAOPS_SIGNING_KEY": "not base64 at all, even if long enough!", "STELLAOPS_SIGNING_KEY_ID": "k"}, signing.ErrInvalidKey, "must be standard base64"},
		{"short secret", map[string]string{"STELLAOPS_SIGNING_KEY": "c2hvcnQ=", "STELLAOPS_SIGNING_KEY_ID": "k"}, signing.ErrInvalidKey, "STELLAOPS_SIGNING_KEY: invalid key: hs256 secret is 5 bytes once base64-decoded"},
		{"missing file", map[string]string{"STELLAOPS_SIGNING_KEY_FILE": filepath.Join(t.TempDir(), "none"), "STELLAOPS_SIGNING_KEY_ID": "k"}, nil, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.NewEnv(envOf(tc.vars), "").Keyring(ctx)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v; want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

// Chain lets the environment override the data directory and falls back when it is unset.
func TestChain(t *testing.T) {
	ctx := context.Background()
	dir := signing.NewDir(t.TempDir(), signing.CreateOnFirstUse())
	env := map[string]string{}
	p := signing.Chain(signing.NewEnv(envOf(env), "MY_"), dir)
	kr, err := p.Keyring(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := kr.Active(); !strings.HasPrefix(a.KeyID(), "stellaops-ed25519-") {
		t.Errorf("fallback gave %s", a.KeyID())
	}
	env["MY_KEY"], env["MY_KEY_ID"] = base64.StdEncoding.EncodeToString(seed("env")), "from-env"
	if kr, err = p.Keyring(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := kr.Active(); a.KeyID() != "from-env" {
		t.Errorf("override gave %s", a.KeyID())
	}
	env["MY_ALGORITHM"] = "bogus"
	if _, err := p.Keyring(ctx); !errors.Is(err, signing.ErrUnknownAlgorithm) {
		t.Errorf("a misconfigured provider must stop the chain: %v", err)
	}
	if _, err := signing.Chain().Keyring(ctx); !errors.Is(err, signing.ErrNoKeys) {
		t.Errorf("empty chain: %v", err)
	}
}
