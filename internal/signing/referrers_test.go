package signing_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/signing"
)

const (
	subject = "sha256:4bf3c2a1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3"
	other   = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
)

func statement(digests ...string) []byte {
	var subjects []string
	for _, d := range digests {
		alg, hex, _ := strings.Cut(d, ":")
		subjects = append(subjects, `{"name":"registry.example.com/acme/app","digest":{"`+alg+`":"`+hex+`"}}`)
	}
	return []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[` + strings.Join(subjects, ",") +
		`],"predicateType":"https://cyclonedx.org/bom","predicate":{}}`)
}

func TestVerifyReferrers(t *testing.T) {
	ctx := context.Background()
	trusted, stranger := testKey(t, signing.Ed25519), testKey(t, signing.HS256)
	old := testKeyWithID(t, "retired-key")
	kr0, _ := signing.NewKeyring(old)
	kr, err := kr0.Rotate(trusted)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, payload []byte, k signing.Signer) []byte {
		return encode(t, sign(t, typ, payload, k))
	}
	upper := strings.ToUpper(strings.TrimPrefix(subject, "sha256:"))
	refs := []signing.Referrer{
		{Ref: "sbom", Envelope: enc(signing.PayloadTypeInToto, statement(other, subject), trusted)},
		{Ref: "report", Envelope: enc(signing.PayloadTypeReport, []byte(`{"reportId":"r","imageDigest":"`+subject+`"}`), trusted)},
		{Ref: "old-report", Envelope: enc(signing.PayloadTypeReport, []byte(`{"imageDigest":"`+subject+`"}`), old)},
		{Ref: "predicate-type", Envelope: enc("application/vnd.in-toto.provenance+json", statement("sha256:"+upper), trusted)},
		{Ref: "other-image", Envelope: enc(signing.PayloadTypeInToto, statement(other), trusted)},
		{Ref: "untrusted", Envelope: enc(signing.PayloadTypeInToto, statement(subject), stranger)},
		{Ref: "garbage", Envelope: []byte(`{"payload":`)},
		{Ref: "unknown-type", Envelope: enc("text/plain", []byte(subject), trusted)},
		{Ref: "not-a-statement", Envelope: enc(signing.PayloadTypeInToto, []byte(`{"_type":"x","subject":[]}`), trusted)},
	}
	report, err := signing.VerifyReferrers(ctx, kr, subject, refs, signing.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []error{nil, nil, nil, nil, signing.ErrSubjectMismatch, signing.ErrUntrusted, signing.ErrMalformedEnvelope, signing.ErrUnsupportedPayloadType, nil}
	for i, res := range report.Results {
		if res.Ref != refs[i].Ref {
			t.Errorf("result %d is for %q", i, res.Ref)
		}
		switch {
		case res.Ref == "not-a-statement":
			if res.Err == nil || !strings.Contains(res.Err.Error(), "is not a statement") {
				t.Errorf("%s: %v", res.Ref, res.Err)
			}
		case !errors.Is(res.Err, wantErr[i]) || (wantErr[i] == nil) != (res.Err == nil):
			t.Errorf("%s: got %v, want %v", res.Ref, res.Err, wantErr[i])
		}
	}
	if r := report.Results[0]; r.KeyID != trusted.KeyID() || r.Algorithm != signing.Ed25519 || r.Retired ||
		!cmp.Equal(r.Subjects, []string{other, subject}) || r.PayloadType != signing.PayloadTypeInToto {
		t.Errorf("sbom result %+v", r)
	}
	if r := report.Results[2]; !r.Retired || r.KeyID != "retired-key" {
		t.Errorf("old report %+v", r)
	}
	var verified []string
	for _, r := range report.Verified() {
		verified = append(verified, r.Ref)
	}
	if diff := cmp.Diff([]string{"sbom", "report", "old-report", "predicate-type"}, verified); diff != "" {
		t.Errorf("Verified (-want +got):\n%s", diff)
	}
	if !strings.Contains(report.Results[4].Err.Error(), "payload names "+other) {
		t.Errorf("mismatch error: %v", report.Results[4].Err)
	}
}

func TestVerifyReferrersSubject(t *testing.T) {
	ctx := context.Background()
	kr, _ := signing.NewKeyring(testKey(t, signing.HS256))
	for _, bad := range []string{"", "deadbeef", "sha256:", ":abc", "sha256:xyz", "SHA256:abc", "sha256:abc def"} {
		if _, err := signing.VerifyReferrers(ctx, kr, bad, nil, signing.Limits{}); !errors.Is(err, signing.ErrInvalidDigest) {
			t.Errorf("subject %q: %v", bad, err)
		}
	}
	// Upper-case hex in the subject is normalised like in payloads.
	r, err := signing.VerifyReferrers(ctx, kr, "sha256:DEADBEEF", []signing.Referrer{
		{Ref: "r", Envelope: encode(t, sign(t, signing.PayloadTypeReport, []byte(`{"imageDigest":"sha256:deadbeef"}`), testKey(t, signing.HS256)))},
	}, signing.Limits{})
	if err != nil || r.Subject != "sha256:deadbeef" || r.Results[0].Err != nil {
		t.Errorf("got %+v, %v", r, err)
	}
	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := signing.VerifyReferrers(ctxDone, kr, "sha256:ab", []signing.Referrer{{Ref: "x"}}, signing.Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
