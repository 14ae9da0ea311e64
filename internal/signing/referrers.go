package signing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"slices"
	"strings"
)

// ErrInvalidDigest means a subject digest is not "<algorithm>:<lower-case hex>".
var ErrInvalidDigest = errors.New("invalid digest")

// Referrer is one envelope claiming to refer to a subject: an OCI referrer's DSSE layer, an
// attached attestation, a report. Fetching it is the caller's job (no registry client here).
type Referrer struct {
	// Ref names the referrer in results: an OCI descriptor digest, a file name.
	Ref string
	// Envelope is the encoded DSSE envelope, decoded here under the given limits.
	Envelope []byte
}

// ReferrerResult is the check of one referrer.
type ReferrerResult struct {
	Ref         string
	PayloadType string
	// KeyID, Algorithm and Retired name the trusted key that verified the envelope.
	KeyID     string
	Algorithm Algorithm
	Retired   bool
	// Subjects are the digests the verified payload names (in-toto subjects, report imageDigest).
	Subjects []string
	// Err is nil when the envelope verified under a trusted key and names the subject.
	// Otherwise it wraps ErrMalformedEnvelope, ErrUntrusted, ErrUnsupportedPayloadType or
	// ErrSubjectMismatch.
	Err error
}

// ReferrersReport is the outcome of VerifyReferrers, one result per referrer in input order.
type ReferrersReport struct {
	Subject string
	Results []ReferrerResult
}

// Verified returns the results whose envelope verified and names the subject.
func (r *ReferrersReport) Verified() []ReferrerResult {
	var out []ReferrerResult
	for _, res := range r.Results {
		if res.Err == nil {
			out = append(out, res)
		}
	}
	return out
}

// VerifyReferrers checks envelopes that claim to refer to subject (an artifact digest such as
// "sha256:…"): each must decode, verify under a trusted key of keys (Verify's policy), and its
// authenticated payload must name the subject — an in-toto statement through a subject digest,
// a StellaOps report through imageDigest. The payload is parsed only after its signature
// verified. Failures are per referrer; the error is for a bad subject or a cancelled context.
func VerifyReferrers(ctx context.Context, keys *Keyring, subject string, refs []Referrer, lim Limits) (*ReferrersReport, error) {
	want, err := normaliseDigest(subject)
	if err != nil {
		return nil, fmt.Errorf("verifying referrers: subject: %w", err)
	}
	report := &ReferrersReport{Subject: want, Results: make([]ReferrerResult, len(refs))}
	for i, ref := range refs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res := ReferrerResult{Ref: ref.Ref}
		res.Err = verifyReferrer(ctx, keys, want, ref, lim, &res)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		report.Results[i] = res
	}
	return report, nil
}

func verifyReferrer(ctx context.Context, keys *Keyring, want string, ref Referrer, lim Limits, res *ReferrerResult) error {
	env, err := DecodeWithLimits(ref.Envelope, lim)
	if err != nil {
		return err
	}
	res.PayloadType = env.PayloadType
	v, err := Verify(ctx, env, keys)
	if err != nil {
		return err
	}
	res.KeyID, res.Algorithm, res.Retired = v.KeyID, v.Algorithm, v.Retired
	subjects, err := payloadSubjects(v.PayloadType, v.Payload)
	if err != nil {
		return err
	}
	res.Subjects = subjects
	if !slices.Contains(subjects, want) {
		return fmt.Errorf("%w %s: payload names %s", ErrSubjectMismatch, want, strings.Join(subjects, ", "))
	}
	return nil
}

// payloadSubjects returns the normalised digests a payload says it is about.
func payloadSubjects(payloadType string, payload []byte) ([]string, error) {
	mt, _, _ := mime.ParseMediaType(payloadType)
	switch {
	case mt == PayloadTypeReport:
		var r struct {
			ImageDigest string `json:"imageDigest"`
		}
		if err := json.Unmarshal(payload, &r); err != nil {
			return nil, fmt.Errorf("report payload: %w", err)
		}
		d, err := normaliseDigest(r.ImageDigest)
		if err != nil {
			return nil, fmt.Errorf("report imageDigest: %w", err)
		}
		return []string{d}, nil
	case mt == PayloadTypeInToto || (strings.HasPrefix(mt, "application/vnd.in-toto.") && strings.HasSuffix(mt, "+json")):
		var st struct {
			Type    string `json:"_type"`
			Subject []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
		}
		if err := json.Unmarshal(payload, &st); err != nil {
			return nil, fmt.Errorf("in-toto statement: %w", err)
		}
		if !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
			return nil, fmt.Errorf("in-toto statement: _type %q is not a statement", st.Type)
		}
		var out []string
		for _, s := range st.Subject {
			for alg, hex := range s.Digest {
				if d, err := normaliseDigest(alg + ":" + hex); err == nil {
					out = append(out, d)
				}
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("in-toto statement: no subject digest")
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnsupportedPayloadType, payloadType)
}

// normaliseDigest checks "<algorithm>:<hex>" (OCI's digest grammar with a hex encoding) and
// lower-cases the hex, which in-toto producers do not all agree on.
func normaliseDigest(d string) (string, error) {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" {
		return "", fmt.Errorf("%w %q: want <algorithm>:<hex>", ErrInvalidDigest, d)
	}
	for _, c := range alg {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return "", fmt.Errorf("%w %q: algorithm must be lower-case", ErrInvalidDigest, d)
		}
	}
	hex = strings.ToLower(hex)
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("%w %q: not hex", ErrInvalidDigest, d)
		}
	}
	return alg + ":" + hex, nil
}
