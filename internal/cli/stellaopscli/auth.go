package stellaopscli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
	"github.com/stellaops/stellaops/pkg/client"
)

func authCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth",
		Short: "Manage cached tokens for StellaOps Authority",
		Long: `Manage cached tokens for StellaOps Authority. Honours the StellaOps:Authority:* configuration (Url,
ClientId with ClientSecret for client credentials, or Username and Password for the password grant,
Scope, TokenCacheDirectory) and stores tokens under ~/.stellaops/tokens by default. Other commands
inject the cached bearer token automatically and renew it when the server refuses it.`,
	}
	var force bool
	login := &cobra.Command{
		Use:   "login [--force]",
		Short: "Acquire a token from the Authority and cache it",
		Long: `Acquire a token from the Authority (client credentials, or the password grant when Username and
Password are configured) and cache it. A cached token that is still valid is reused unless --force
is given. Prints the grant mode, the granted scope and the expiry.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.authLogin(cmd.Context(), force) },
	}
	login.Flags().BoolVar(&force, "force", false, "ignore the cache entry and request a new token")
	logout := &cobra.Command{
		Use:   "logout",
		Short: "Remove the cached token",
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, _ []string) error { return g.authLogout() },
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cached token's expiry, scope and mode",
		Long:  `Show the cache entry of the configured Authority identity: expiry, scope and grant mode. Exit code 1 when not logged in or the token expired.`,
		Args:  exactArgs(0),
		RunE:  func(cmd *cobra.Command, _ []string) error { return g.authStatus() },
	}
	whoami := &cobra.Command{
		Use:   "whoami",
		Short: "Print the cached token's subject, audience, issuer, scopes and remaining lifetime",
		Long: `Print the cached token's subject, audience, issuer, scopes and remaining lifetime, decoded from the
token itself without verifying it (display only). --verbose prints every claim.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.authWhoami() },
	}
	cmd.AddCommand(login, logout, status, whoami, revokeCommand(g))
	return cmd
}

func (g *globals) authLogin(ctx context.Context, force bool) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	tok, cached, err := cfg.Login(ctx, force, time.Now())
	switch {
	case errors.Is(err, clientcfg.ErrNoCredentials), errors.Is(err, clientcfg.ErrNoBackend):
		return cli.Usagef("auth login: %v", err)
	case err != nil:
		return g.callError(ctx, "auth login", err)
	}
	if cached {
		fmt.Fprintf(g.io.Out, "Using the cached token (auth login --force requests a new one).\n")
	} else {
		fmt.Fprintf(g.io.Out, "Logged in to %s.\n", tok.Authority)
		// Keep the Authority's keys for offline checks (auth revoke verify without --key); a
		// failure here does not undo the login.
		if _, _, err := g.jwksCache(cfg, cfg.AuthorityURL()).JWKS(ctx); err != nil {
			g.log.WarnContext(ctx, "could not cache the Authority's JWKS", "error", err)
		}
	}
	writeToken(g.io.Out, tok, time.Now())
	return nil
}

func (g *globals) authLogout() error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	removed, err := cfg.Logout()
	if err != nil {
		return err
	}
	if removed {
		fmt.Fprintf(g.io.Out, "Logged out: removed %s\n", cfg.CachePath())
	} else {
		fmt.Fprintln(g.io.Out, "Not logged in: no cached token to remove.")
	}
	return nil
}

// errNotLoggedIn is exit code 1 with the hint people need.
var errNotLoggedIn = errors.New("not logged in: run `stellaops-cli auth login`")

func (g *globals) authStatus() error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	tok, ok, err := cfg.CachedToken()
	if err != nil {
		return err
	}
	if !ok {
		return errNotLoggedIn
	}
	now := time.Now()
	writeToken(g.io.Out, tok, now)
	if !tok.Valid(now) {
		return errors.New("the cached token has expired: run `stellaops-cli auth login`")
	}
	return nil
}

// writeToken prints a cache entry for people.
func writeToken(w io.Writer, t clientcfg.CachedToken, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Authority:\t%s\n", t.Authority)
	who := "client " + t.ClientID
	if t.Username != "" {
		who = "user " + t.Username + " via " + who
	}
	fmt.Fprintf(tw, "Identity:\t%s\n", who)
	fmt.Fprintf(tw, "Mode:\t%s\n", t.Mode)
	fmt.Fprintf(tw, "Scope:\t%s\n", orDash(t.Scope))
	fmt.Fprintf(tw, "Expires:\t%s (%s)\n", t.ExpiresAt.UTC().Format(time.RFC3339), lifetime(t.ExpiresAt.Sub(now)))
	tw.Flush()
}

// lifetime says how long is left, or that it is over.
func lifetime(d time.Duration) string {
	if d <= 0 {
		return "expired " + (-d).Round(time.Second).String() + " ago"
	}
	return "in " + d.Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (g *globals) authWhoami() error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	raw, from := "", ""
	tok, ok, err := cfg.CachedToken()
	switch {
	case err != nil:
		return err
	case ok:
		raw, from = tok.AccessToken, "token cache "+cfg.CachePath()
	case cfg.APIKey != "":
		raw, from = cfg.APIKey, "StellaOps:ApiKey"
	default:
		return errNotLoggedIn
	}
	claims, err := jwtClaims(raw)
	if err != nil {
		return fmt.Errorf("the token from %s is not a JWT: %w", from, err)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(g.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Subject:\t%s\n", orDash(claimText(claims["sub"])))
	fmt.Fprintf(tw, "Client:\t%s\n", orDash(claimText(claims["client_id"])))
	fmt.Fprintf(tw, "Audience:\t%s\n", orDash(claimText(claims["aud"])))
	fmt.Fprintf(tw, "Issuer:\t%s\n", orDash(claimText(claims["iss"])))
	scope := claimText(claims["scope"])
	if scope == "" {
		scope = claimText(claims["scp"])
	}
	fmt.Fprintf(tw, "Scopes:\t%s\n", orDash(scope))
	if exp, ok := claimTime(claims["exp"]); ok {
		fmt.Fprintf(tw, "Expires:\t%s (%s)\n", exp.Format(time.RFC3339), lifetime(exp.Sub(now)))
	}
	fmt.Fprintf(tw, "Source:\t%s (decoded, not verified)\n", from)
	tw.Flush()
	if g.verbose {
		fmt.Fprintln(g.io.Out, "\nClaims:")
		keys := make([]string, 0, len(claims))
		for k := range claims {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b, _ := json.Marshal(claims[k])
			fmt.Fprintf(g.io.Out, "  %s: %s\n", k, b)
		}
	}
	return nil
}

// jwtClaims decodes a JWT's payload without verifying it: whoami only displays what the
// token says; the server verifies it on every call.
func jwtClaims(raw string) (map[string]any, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%d dot-separated parts, want 3", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return claims, nil
}

// claimText renders a string or a list of strings (aud, scp) as text.
func claimText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		s := make([]string, 0, len(x))
		for _, e := range x {
			s = append(s, claimText(e))
		}
		return strings.Join(s, " ")
	}
	return fmt.Sprint(v)
}

// claimTime reads a NumericDate claim.
func claimTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0).UTC(), true
}

// jwksCache keeps the Authority's discovery document and JWKS beside the token cache, with
// the configured resilience (retries, offline fallback).
func (g *globals) jwksCache(cfg *clientcfg.Config, authority string) *client.MetadataCache {
	c, err := client.New(authority, client.WithUserAgent("stellaops-cli"))
	if err != nil {
		c, _ = client.New("http://invalid.invalid") // Validate refused such URLs already
	}
	return client.NewMetadataCache(c, filepath.Join(cfg.TokenCacheDir(), "metadata"), cfg.Authority.Resilience.Client())
}

// call runs f against the backend. When the server refuses a cached Authority token (401:
// revoked, signing keys rotated, server reset; 403: scopes granted to the client since it was
// issued), the token is renewed once and f runs again, as the spec's "retries on transient
// 401/403 responses" asks; an API key is sent as configured and never replaced.
func (g *globals) call(ctx context.Context, op string, f func(*client.Client) error) error {
	c, err := g.backend()
	if err != nil {
		return err
	}
	err = f(c)
	refused := client.IsStatus(err, 401) || client.IsStatus(err, 403)
	if cfg, _ := g.config(); refused && cfg != nil && cfg.APIKey == "" && cfg.Authority.ClientID != "" {
		g.log.DebugContext(ctx, "the server refused the cached token; renewing it", "op", op)
		if _, _, lerr := cfg.Login(ctx, true, time.Now()); lerr == nil {
			err = f(c)
		}
	}
	if err != nil {
		return g.callError(ctx, op, err)
	}
	return nil
}

// callError turns a failed server call into one line that says what to do about it.
func (g *globals) callError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return err // interrupted: cli.Code reports it as such (130)
	}
	var ce *client.Error
	var oe *net.OpError
	switch {
	case errors.As(err, &ce) && ce.Code != "":
		// An OAuth error: the token endpoint refused the configured identity.
		return fmt.Errorf("%s: the Authority refused the login (%v): check StellaOps:Authority:ClientId and ClientSecret (or Username and Password) and Scope", op, ce)
	case errors.As(err, &ce) && ce.StatusCode == 401:
		return fmt.Errorf("%s: the server refused the credentials (%v): run `stellaops-cli auth login --force`, or check StellaOps:ApiKey", op, ce)
	case errors.As(err, &ce) && ce.StatusCode == 403:
		return fmt.Errorf("%s: the token lacks a scope this needs (%v): add it to StellaOps:Authority:Scope and run `stellaops-cli auth login --force`", op, ce)
	case errors.As(err, &ce):
		return fmt.Errorf("%s: %w", op, ce)
	case errors.As(err, &oe):
		return fmt.Errorf("%s: cannot reach the server: %v", op, oe)
	}
	return fmt.Errorf("%s: %w", op, err)
}
