package stellaopscli

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/policyinput"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/signing"
	"github.com/stellaops/stellaops/internal/vex"
)

// defaultPolicy decides when no --policy-file is given: no rules, so every finding passes its
// rule stage and the policy status is decided at the threshold alone (critical by default).
const defaultPolicy = "version: \"1.0\"\nrules: []\n"

// decision is what the policy and VEX made of a scan.
type decision struct {
	vex      []vex.Decision // one per finding, in finding order (nil without --vex)
	result   policy.Result
	report   *report.PolicyReport
	envelope []byte
	keyID    string
}

// decide applies the VEX documents to the findings, evaluates the policy, and assembles and
// signs the report.
func (g *globals) decide(ctx context.Context, res *scan.Result, f *scanRunFlags) (*decision, error) {
	d := &decision{}
	if len(f.vex) > 0 {
		var claims []vex.Claim
		parser := vex.New(vex.DefaultConfig())
		for _, p := range f.vex {
			doc, err := readVEX(ctx, parser, p)
			if err != nil {
				return nil, err
			}
			claims = append(claims, doc.Claims...)
		}
		fs := make([]vex.Finding, len(res.Findings))
		for i, fd := range res.Findings {
			fs[i] = vex.Finding{ID: fd.ID, Aliases: fd.Aliases, PURL: fd.Component.PURL}
		}
		d.vex = vex.Apply(fs, claims, vex.DefaultTrust())
	}

	src := policy.Source{Format: policy.FormatYAML, Content: defaultPolicy, Actor: "stellaops-cli"}
	if f.policyFile != "" {
		b, err := os.ReadFile(f.policyFile)
		if err != nil {
			return nil, fmt.Errorf("--policy-file: %w", err)
		}
		src.Content, src.Description = string(b), f.policyFile
		if strings.HasSuffix(strings.ToLower(f.policyFile), ".rego") {
			src.Format = policy.FormatRego
		}
	}
	cfg := policy.DefaultConfig()
	cfg.Now = clock(g.env)
	if f.threshold != "" {
		lvl, err := policy.ParseThreshold(f.threshold)
		if err != nil {
			return nil, cli.Usagef("--threshold: %v", err)
		}
		cfg.Threshold = lvl
	}
	pol, err := policy.New(cfg).Compile(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", cmp.Or(f.policyFile, "(default)"), err)
	}
	image := policyinput.SubjectDigest(res.Target)
	in := policy.Input{ImageDigest: image, Environment: f.environment, Findings: policyFindings(res.Findings, d.vex)}
	if d.result, err = pol.Evaluate(ctx, in); err != nil {
		return nil, fmt.Errorf("policy evaluation: %w", err)
	}
	r, payload, err := report.AssemblePolicyReport(image, report.PolicyRef{RevisionID: "local", Digest: pol.Digest()}, d.result, nil)
	if err != nil {
		return nil, err
	}
	d.report = r
	kr, err := g.keyring(ctx, f.signingKey, f.signingKeyID)
	if err != nil {
		return nil, err
	}
	env, err := kr.Sign(ctx, report.PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("signing the report: %w", err)
	}
	if d.envelope, err = env.Encode(); err != nil {
		return nil, err
	}
	if active, err := kr.Active(); err == nil {
		d.keyID = active.KeyID()
	}
	return d, nil
}

func readVEX(ctx context.Context, p *vex.Parser, path string) (*vex.Document, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--vex: %w", err)
	}
	defer fh.Close()
	doc, err := p.Parse(ctx, fh, path)
	if err != nil {
		return nil, fmt.Errorf("--vex %s: %w", path, err)
	}
	return doc, nil
}

// keyring is the signing key: --signing-key FILE (a PKCS#8 PEM key or an hs256 secret), else the
// data directory's keyring, whose first key is created on first use.
func (g *globals) keyring(ctx context.Context, keyFile, keyID string) (*signing.Keyring, error) {
	if keyFile != "" {
		k, err := signing.LoadKeyFile(ctx, keyFile, keyID, "")
		if err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		kr, err := signing.NewKeyring(k)
		if err != nil {
			return nil, fmt.Errorf("--signing-key: %w", err)
		}
		return kr, nil
	}
	dir := signing.NewDir(filepath.Join(g.data, signing.DataSubdir), signing.CreateOnFirstUse(), signing.WithClock(clock(g.env)))
	kr, err := dir.Keyring(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing key in %s: %w", dir.Path(), err)
	}
	return kr, nil
}

// policyFindings turns matcher findings into what the policy judges; the VEX decision of each,
// when there is one, is its VEX statement (only the deciding statement: a lower-trust claim that
// was overruled must not satisfy a requireVex rule).
func policyFindings(fs []match.Finding, decisions []vex.Decision) []policy.Finding {
	return policyinput.Findings(fs, func(i int) *policy.VEXStatement {
		if decisions == nil || decisions[i].Decider == nil {
			return nil
		}
		dc := decisions[i].Decider
		return &policy.VEXStatement{Vendor: dc.Issuer, Status: string(dc.Status), Justification: string(dc.Justification)}
	})
}
