package stellaopscli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/signing"
	"github.com/stellaops/stellaops/internal/vex"
)

// applyVEX records each finding's VEX decision on it (decisions are in finding order).
func applyVEX(res *scan.Result, decisions []vex.Decision) {
	for i := range decisions {
		d := decisions[i]
		if len(d.Claims) == 0 {
			continue
		}
		ref := &match.VEXRef{Status: string(d.Status), Justification: string(d.Justification), Conflicts: len(d.Conflicts), Reason: d.Reason}
		if d.Decider != nil {
			ref.Issuer, ref.Document, ref.Statement = d.Decider.Issuer, d.Decider.Source.Document, d.Decider.Source.Statement
		}
		res.Findings[i].VEX = ref
	}
}

// writeReport writes the signed report into the results directory (and to --report), and
// describes the copy in the results directory.
func writeReport(f *scanRunFlags, meta *runMetadata, d *decision) (*artefactRef, error) {
	if err := os.MkdirAll(f.resultsDir, 0o755); err != nil {
		return nil, fmt.Errorf("results directory: %w", err)
	}
	name := fmt.Sprintf("%s-%s.dsse.json", d.report.ReportID, meta.StartedAt.UTC().Format("20060102T150405Z"))
	p := filepath.Join(f.resultsDir, name)
	if err := writeOutput(nil, p, d.envelope); err != nil {
		return nil, err
	}
	if f.reportFile != "" {
		if err := writeOutput(nil, f.reportFile, d.envelope); err != nil {
			return nil, err
		}
	}
	sum := sha256.Sum256(d.envelope)
	return &artefactRef{Path: p, Digest: "sha256:" + hex.EncodeToString(sum[:]), Bytes: len(d.envelope)}, nil
}

// printDecision tells the user, on standard error, what the policy decided.
func (g *globals) printDecision(d *decision) {
	s := d.result.Summary
	fmt.Fprintf(g.io.Err, "Policy %s: %d findings, %d blocked, %d warned, %d ignored, %d quieted; report %s signed by %s\n",
		d.result.PolicyStatus, s.Total, s.Blocked, s.Warned, s.Ignored, s.Quieted, d.report.ReportID, d.keyID)
	if d.vex != nil {
		counts := map[vex.Status]int{}
		for _, v := range d.vex {
			if len(v.Claims) > 0 {
				counts[v.Status]++
			}
		}
		fmt.Fprintf(g.io.Err, "VEX: %d not_affected, %d affected, %d fixed, %d under_investigation, %d unknown (conflicting)\n",
			counts[vex.StatusNotAffected], counts[vex.StatusAffected], counts[vex.StatusFixed], counts[vex.StatusUnderInvestigation], counts[vex.StatusUnknown])
	}
}

func reportCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Work with signed policy reports"}
	var key, keyID string
	verify := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a signed report (DSSE envelope) and print its verdict",
		Long: `Verify a signed report offline: with --key (a public key PEM, or the hs256 secret), or else
against the keyring in the data directory (active and retired keys). Prints the verdict and summary
as JSON. Exit codes: 0 the signature verifies, 1 it does not, 2 usage error.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cli.Usagef("name one report file")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.verifyReport(cmd.Context(), args[0], key, keyID)
		},
	}
	verify.Flags().StringVar(&key, "key", "", "verify with this key: public key PEM (ed25519, ecdsa-p256) or hs256 secret file")
	verify.Flags().StringVar(&keyID, "key-id", "", "keyId --key answers to (default: any)")
	cmd.AddCommand(verify)
	return cmd
}

// verifiedReport is what report verify prints.
type verifiedReport struct {
	Valid     bool                 `json:"valid"`
	KeyID     string               `json:"keyId,omitempty"`
	Algorithm string               `json:"algorithm,omitempty"`
	Retired   bool                 `json:"retiredKey,omitempty"`
	Report    *report.PolicyReport `json:"report,omitempty"`
	Error     string               `json:"error,omitempty"`
}

func (g *globals) verifyReport(ctx context.Context, path, key, keyID string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	out := verifiedReport{}
	env, err := signing.Decode(b)
	var v *signing.Verification
	if err == nil {
		if key != "" {
			var k signing.Verifier
			if k, err = signing.LoadVerifierFile(ctx, key, keyID, ""); err != nil {
				return cli.Usagef("--key: %v", err)
			}
			v, err = signing.VerifyWith(ctx, env, k)
		} else {
			dir := signing.NewDir(filepath.Join(g.data, signing.DataSubdir))
			var kr *signing.Keyring
			if kr, err = dir.Keyring(ctx); err != nil {
				return fmt.Errorf("no --key and no keyring in %s: %w", dir.Path(), err)
			}
			v, err = kr.Verify(ctx, env)
		}
	}
	if err == nil && v.PayloadType != report.PayloadType {
		err = fmt.Errorf("payload type %q is not a StellaOps report", v.PayloadType)
	}
	if err == nil {
		out.Valid, out.KeyID, out.Algorithm, out.Retired = true, v.KeyID, string(v.Algorithm), v.Retired
		for _, s := range v.Signatures {
			if s.Verified && out.KeyID == "" {
				out.KeyID = s.KeyID // an anonymous --key: report the keyId the signature names
			}
		}
		out.Report = &report.PolicyReport{}
		if err = json.Unmarshal(v.Payload, out.Report); err != nil {
			out.Valid, out.Report = false, nil
		}
	}
	if err != nil {
		out.Error = err.Error()
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if e := enc.Encode(out); e != nil {
		return e
	}
	if _, e := g.io.Out.Write(buf.Bytes()); e != nil {
		return e
	}
	if !out.Valid {
		return cli.Exit(cli.ExitFailure, errors.New("report "+path+" does not verify: "+out.Error))
	}
	return nil
}
