package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/stellaops/stellaops/internal/authority"
)

// DevCredentials are the development client, admin user and bootstrap key of --dev, written
// to <data>/dev-credentials.json (mode 0600) on first start and shown once.
type DevCredentials struct {
	ClientID      string    `json:"clientId"`
	ClientSecret  string    `json:"clientSecret"`
	AdminUser     string    `json:"adminUser"`
	AdminPassword string    `json:"adminPassword"`
	BootstrapKey  string    `json:"bootstrapKey"`
	CreatedAt     time.Time `json:"createdAt"`
	// created is true when this start made them (so they are printed).
	created bool
}

// DevCredentialsFile is the file name under the data directory.
const DevCredentialsFile = "dev-credentials.json"

// DevClientID is the id of the development client.
const DevClientID = "stellaops-dev"

// loadDevCredentials reads the file, or generates new credentials (not yet stored: the
// Authority must exist first) when there is none.
func loadDevCredentials(dir string) (*DevCredentials, error) {
	p := filepath.Join(dir, DevCredentialsFile)
	b, err := os.ReadFile(p)
	if err == nil {
		var d DevCredentials
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("server: %s: %w (delete it to create new dev credentials)", p, err)
		}
		if d.ClientID == "" || d.ClientSecret == "" || d.BootstrapKey == "" {
			return nil, fmt.Errorf("server: %s is incomplete (delete it to create new dev credentials)", p)
		}
		return &d, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server: %w", err)
	}
	d := &DevCredentials{ClientID: DevClientID, AdminUser: "admin", created: true}
	if d.ClientSecret, err = authority.NewSecret(); err != nil {
		return nil, err
	}
	if d.BootstrapKey, err = authority.NewSecret(); err != nil {
		return nil, err
	}
	if d.AdminPassword, err = newPassword(20); err != nil {
		return nil, err
	}
	return d, nil
}

// ensureDevCredentials stores the dev client and admin user when they were just generated,
// then writes the file. Later starts leave the Authority's state alone: a user who changed or
// deleted the dev client keeps that change.
func (s *Server) ensureDevCredentials(ctx context.Context, d *DevCredentials) (*DevCredentials, error) {
	if !d.created {
		return d, nil
	}
	d.CreatedAt = s.opts.Now().UTC().Truncate(time.Second)
	if _, _, err := s.Auth.CreateClient(ctx, authority.NewClient{ID: d.ClientID, DisplayName: "Development client (stellaops serve --dev)",
		Scopes: authority.AllScopes(), Grants: []string{authority.GrantClientCredentials, authority.GrantPassword}, Secret: d.ClientSecret}); err != nil {
		return nil, fmt.Errorf("server: dev client: %w", err)
	}
	if _, err := s.Auth.CreateUser(ctx, authority.NewUser{Username: d.AdminUser, Password: d.AdminPassword, Roles: []string{"admin"}}); err != nil {
		return nil, fmt.Errorf("server: dev admin user: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(s.opts.DataDir, DevCredentialsFile)
	// Written to a temporary file and renamed, so a crash never leaves half a file that the
	// next start would refuse.
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	fmt.Fprintf(s.opts.Stdout, `
Development credentials (shown once; kept in %s, mode 0600):
  client_id      %s
  client_secret  %s
  admin user     %s / %s
  bootstrap key  %s   (header X-StellaOps-Bootstrap-Key, for /internal/*)

Get a token:
  curl -s -u %s:%s -d grant_type=client_credentials %s/connect/token

`, p, d.ClientID, d.ClientSecret, d.AdminUser, d.AdminPassword, d.BootstrapKey, d.ClientID, d.ClientSecret, s.Auth.Issuer())
	return d, nil
}

// newPassword returns n random characters with at least one of each class the baseline
// policy requires.
func newPassword(n int) (string, error) {
	classes := []string{"ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!#%+-=?@^_"}
	all := classes[0] + classes[1] + classes[2] + classes[3]
	pick := func(set string) (byte, error) {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		if err != nil {
			return 0, err
		}
		return set[i.Int64()], nil
	}
	out := make([]byte, n)
	for i := range out {
		set := all
		if i < len(classes) {
			set = classes[i]
		}
		c, err := pick(set)
		if err != nil {
			return "", fmt.Errorf("server: password: %w", err)
		}
		out[i] = c
	}
	// Shuffle so the classes are not at fixed positions.
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", fmt.Errorf("server: password: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}
