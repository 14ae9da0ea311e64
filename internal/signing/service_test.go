package signing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stellaops/stellaops/internal/signing"
)

// The Signer operations end to end on a data directory, across a rotation.
func TestService(t *testing.T) {
	ctx := context.Background()
	dir := signing.NewDir(t.TempDir(), signing.CreateOnFirstUse(), signing.WithAlgorithm(signing.HS256))
	svc := signing.NewService(dir, signing.WithLimits(signing.Limits{MaxSignatures: 4}))
	env, err := svc.SignDsse(ctx, signing.PayloadTypeReport, readFile(t, "testdata", "report-sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	enc := encode(t, env)
	if _, err := dir.Rotate(ctx, signing.Ed25519); err != nil {
		t.Fatal(err)
	}
	v, err := svc.VerifyDsse(ctx, enc)
	if err != nil || !v.Retired || v.Algorithm != signing.HS256 {
		t.Errorf("VerifyDsse after rotation: %+v, %v", v, err)
	}
	env2, err := svc.SignDsse(ctx, signing.PayloadTypeReport, readFile(t, "testdata", "report-sample.json"))
	if err != nil || env2.Signatures[0].Algorithm != signing.Ed25519 {
		t.Errorf("SignDsse after rotation: %v, %v", env2, err)
	}
	report, err := svc.VerifyReferrers(ctx, "sha256:deadbeef", []signing.Referrer{{Ref: "old", Envelope: enc}, {Ref: "new", Envelope: encode(t, env2)}})
	if err != nil || len(report.Verified()) != 2 {
		t.Errorf("VerifyReferrers: %+v, %v", report, err)
	}
	if _, err := svc.VerifyDsse(ctx, []byte("{}")); !errors.Is(err, signing.ErrMalformedEnvelope) {
		t.Errorf("garbage: %v", err)
	}
	if _, err := signing.NewService(nil).SignDsse(ctx, "text/plain", nil); !errors.Is(err, signing.ErrNoKeys) {
		t.Errorf("no provider: %v", err)
	}
	if _, err := signing.NewService(signing.NewDir(t.TempDir())).SignDsse(ctx, "text/plain", nil); !errors.Is(err, signing.ErrNoKeys) {
		t.Errorf("empty dir: %v", err)
	}
}
