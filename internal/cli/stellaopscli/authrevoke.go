package stellaopscli

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/authority"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/clientcfg"
)

// The files of `auth revoke export`, as the spec names them.
const (
	bundleFile    = "revocation-bundle.json"
	signatureExt  = ".jws"
	digestFileExt = ".sha256"
)

func revokeCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "revoke", Short: "Export and verify the Authority revocation bundle"}
	var out string
	export := &cobra.Command{
		Use:   "export [--output DIR]",
		Short: "Export the Authority revocation bundle",
		Long: `Export the Authority revocation bundle (GET /internal/revocations/export, authenticated with the
bootstrap key StellaOps:BootstrapKey, env STELLAOPS_BOOTSTRAP_KEY). Writes revocation-bundle.json,
revocation-bundle.json.jws and revocation-bundle.json.sha256 into --output (default: the working
directory) after verifying the digest locally, and checks the signature against the Authority's JWKS
(cached for offline verification). The summary names the signing key.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.revokeExport(cmd.Context(), out) },
	}
	export.Flags().StringVarP(&out, "output", "o", ".", "directory to write the three bundle files into")
	var bundle, signature, key string
	verify := &cobra.Command{
		Use:   "verify [--bundle FILE] [--signature FILE] [--key FILE]",
		Short: "Validate a revocation bundle offline",
		Long: `Validate a revocation bundle offline: verifies the detached JWS signature and reports the computed
SHA-256 (checked against revocation-bundle.json.sha256 when that file is beside the bundle). --key is a
JWKS or JWK JSON file, or a PEM public key, certificate or private key. Without --key the Authority's
JWKS cached by auth login / auth revoke export is used (fetched anew when the cache is stale and the
Authority answers). --verbose lists the revocations.
Exit codes: 0 the bundle verifies, 1 it does not, 2 usage error.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.revokeVerify(cmd.Context(), bundle, signature, key)
		},
	}
	vf := verify.Flags()
	vf.StringVar(&bundle, "bundle", bundleFile, "the bundle (revocation-bundle.json)")
	vf.StringVar(&signature, "signature", "", "its detached JWS (default: the bundle's path + .jws)")
	vf.StringVar(&key, "key", "", "verification key: JWKS/JWK JSON or PEM (default: the cached Authority JWKS)")
	cmd.AddCommand(export, verify)
	return cmd
}

func (g *globals) revokeExport(ctx context.Context, dir string) error {
	cfg, err := g.config()
	if err != nil {
		return err
	}
	if cfg.BootstrapKey == "" {
		return cli.Usagef("auth revoke export needs the bootstrap key: set StellaOps:BootstrapKey (env STELLAOPS_BOOTSTRAP_KEY)")
	}
	authURL := cfg.AuthorityURL()
	c, err := cfg.Client(authURL, "")
	if errors.Is(err, clientcfg.ErrNoBackend) {
		return cli.Usagef("%v", err)
	}
	if err != nil {
		return err
	}
	exp, err := c.ExportRevocations(ctx)
	if err != nil {
		return g.callError(ctx, "auth revoke export", err)
	}
	sum := sha256.Sum256(exp.Bundle)
	if got := hex.EncodeToString(sum[:]); got != exp.Digest {
		return fmt.Errorf("auth revoke export: the bundle's SHA-256 is %s but the Authority sent %s; nothing written", got, exp.Digest)
	}
	// The signature is checked too when the Authority's keys can be had; they are cached for
	// `auth revoke verify` on a machine that is offline later.
	var b authority.RevocationBundle
	signedBy := exp.KeyID
	if doc, _, jerr := g.jwksCache(cfg, authURL).JWKS(ctx); jerr != nil {
		g.log.WarnContext(ctx, "the signature was not checked: the Authority's JWKS is unavailable", "error", jerr)
		if err := json.Unmarshal(exp.Bundle, &b); err != nil {
			return fmt.Errorf("auth revoke export: the bundle does not decode: %w", err)
		}
	} else {
		var keys jose.JSONWebKeySet
		if err := json.Unmarshal(doc, &keys); err != nil {
			return fmt.Errorf("auth revoke export: the Authority's JWKS: %w", err)
		}
		if b, signedBy, err = authority.VerifyRevocationBundle(exp.Bundle, exp.Signature, exp.Digest, keys); err != nil {
			return fmt.Errorf("auth revoke export: %w; nothing written", err)
		}
	}
	path := filepath.Join(dir, bundleFile)
	if err := writeAll(map[string][]byte{
		path:                 exp.Bundle,
		path + signatureExt:  []byte(exp.Signature),
		path + digestFileExt: []byte(exp.Digest),
	}); err != nil {
		return err
	}
	w := g.io.Out
	fmt.Fprintf(w, "Exported the revocation bundle of %s: %d revocation(s), issued %s.\n", b.Issuer, len(b.Revocations), b.IssuedAt.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Signing key: %s (%s)\n", signedBy, exp.Algorithm)
	fmt.Fprintf(w, "SHA-256:     %s (verified)\n", exp.Digest)
	for _, p := range []string{path, path + signatureExt, path + digestFileExt} {
		fmt.Fprintf(w, "Wrote %s\n", p)
	}
	return nil
}

// writeAll writes every file beside its final name first and renames them only when all are
// written, so an interrupted export leaves the previous set, never a mix.
func writeAll(files map[string][]byte) error {
	tmps := map[string]string{}
	defer func() {
		for _, t := range tmps {
			os.Remove(t)
		}
	}()
	for p, b := range files {
		f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
		if err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		tmps[p] = f.Name()
		_, werr := f.Write(b)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Chmod(f.Name(), 0o644)
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", p, werr)
		}
	}
	for p, t := range tmps {
		if err := os.Rename(t, p); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		delete(tmps, p)
	}
	return nil
}

func (g *globals) revokeVerify(ctx context.Context, bundlePath, sigPath, keyPath string) error {
	if sigPath == "" {
		sigPath = bundlePath + signatureExt
	}
	body, err := os.ReadFile(bundlePath)
	if err != nil {
		return cli.Usagef("--bundle: %v", err)
	}
	sigBytes, err := os.ReadFile(sigPath)
	if err != nil {
		return cli.Usagef("--signature: %v", err)
	}
	sig := strings.TrimSpace(string(sigBytes))
	sum := sha256.Sum256(body)
	computed := hex.EncodeToString(sum[:])
	digest, digestNote := "", "no "+filepath.Base(bundlePath)+digestFileExt+" beside the bundle"
	if b, err := os.ReadFile(bundlePath + digestFileExt); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			digest = strings.ToLower(f[0])
			digestNote = "matches " + bundlePath + digestFileExt
			if digest != computed {
				digestNote = "does NOT match " + bundlePath + digestFileExt + " (" + digest + ")"
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fmt.Fprintf(g.io.Out, "SHA-256: %s (%s)\n", computed, digestNote)

	var keys jose.JSONWebKeySet
	if keyPath != "" {
		if keys, err = loadVerificationKeys(keyPath, sig); err != nil {
			return cli.Usagef("--key %s: %v", keyPath, err)
		}
	} else {
		cfg, err := g.config()
		if err != nil {
			return err
		}
		authURL := cfg.AuthorityURL()
		if authURL == "" {
			return cli.Usagef("no --key, and no Authority configured whose cached JWKS could verify the bundle (StellaOps:Authority:Url or BackendUrl)")
		}
		doc, stale, err := g.jwksCache(cfg, authURL).JWKS(ctx)
		if err != nil {
			return fmt.Errorf("no --key, and the JWKS of %s is neither cached nor reachable: %w", authURL, err)
		}
		if err := json.Unmarshal(doc, &keys); err != nil {
			return fmt.Errorf("the cached JWKS of %s: %w", authURL, err)
		}
		note := ""
		if stale {
			note = "; the Authority did not answer, so an expired cache entry was used within StellaOps:Authority:Resilience:OfflineCacheTolerance"
		}
		fmt.Fprintf(g.io.Out, "Key:     no --key given, using the JWKS of %s cached in %s%s\n", authURL, filepath.Join(cfg.TokenCacheDir(), "metadata"), note)
	}
	b, kid, err := authority.VerifyRevocationBundle(body, sig, digest, keys)
	if err != nil {
		return err // exit code 1
	}
	w := g.io.Out
	fmt.Fprintf(w, "Verified: signed by %s; issuer %s; issued %s; %d revocation(s)\n", kid, b.Issuer, b.IssuedAt.UTC().Format(time.RFC3339), len(b.Revocations))
	if g.verbose && len(b.Revocations) > 0 {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "\nJTI\tSUBJECT\tCLIENT\tREASON\tREVOKED\tEXPIRES")
		for _, r := range b.Revocations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.JTI, orDash(r.Subject), orDash(r.ClientID), orDash(r.Reason),
				r.RevokedAt.UTC().Format(time.RFC3339), r.ExpiresAt.UTC().Format(time.RFC3339))
		}
		tw.Flush()
	}
	return nil
}

// loadVerificationKeys reads a JWKS, a single JWK, or a PEM public key, certificate or private
// key. A PEM key carries no kid, so it is given the one the signature names.
func loadVerificationKeys(path, signature string) (jose.JSONWebKeySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	if trimmed := strings.TrimSpace(string(b)); strings.HasPrefix(trimmed, "{") {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err == nil && len(set.Keys) > 0 {
			return publicOnly(set), nil
		}
		var k jose.JSONWebKey
		if err := json.Unmarshal(b, &k); err != nil {
			return jose.JSONWebKeySet{}, fmt.Errorf("neither a JWKS nor a JWK: %w", err)
		}
		return publicOnly(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k}}), nil
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return jose.JSONWebKeySet{}, errors.New("neither JSON (JWKS, JWK) nor PEM")
	}
	var pub crypto.PublicKey
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(blk.Bytes); err == nil {
			pub = cert.PublicKey
		}
	case "PRIVATE KEY", "EC PRIVATE KEY":
		var priv any
		if blk.Type == "PRIVATE KEY" {
			priv, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		} else {
			priv, err = x509.ParseECPrivateKey(blk.Bytes)
		}
		if s, ok := priv.(crypto.Signer); err == nil && ok {
			pub = s.Public()
		} else if err == nil {
			err = fmt.Errorf("unsupported private key %T", priv)
		}
	default:
		return jose.JSONWebKeySet{}, fmt.Errorf("PEM block %q is not a key or certificate", blk.Type)
	}
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: signatureKID(signature)}}}, nil
}

// publicOnly drops private parts a JWK file may hold; only the public key verifies.
func publicOnly(set jose.JSONWebKeySet) jose.JSONWebKeySet {
	for i, k := range set.Keys {
		if !k.IsPublic() {
			set.Keys[i] = k.Public()
		}
	}
	return set
}

// signatureKID is the kid of a compact JWS's protected header ("" when it has none).
func signatureKID(jws string) string {
	h, _, _ := strings.Cut(jws, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	_ = json.Unmarshal(b, &hdr)
	return hdr.KID
}
