package signing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/signing"
)

func TestKeyringRotation(t *testing.T) {
	ctx := context.Background()
	old, next := testKey(t, signing.Ed25519), testKey(t, signing.ECDSAP256)
	kr1, err := signing.NewKeyring(old)
	if err != nil {
		t.Fatal(err)
	}
	before, err := kr1.Sign(ctx, signing.PayloadTypeReport, []byte(smallReport))
	if err != nil {
		t.Fatal(err)
	}
	kr2, err := kr1.Rotate(next)
	if err != nil {
		t.Fatal(err)
	}
	after, err := kr2.Sign(ctx, signing.PayloadTypeReport, []byte(smallReport))
	if err != nil {
		t.Fatal(err)
	}
	if after.Signatures[0].KeyID != next.KeyID() {
		t.Errorf("after rotation signed by %q", after.Signatures[0].KeyID)
	}
	// The retired key still verifies what it signed, and says so.
	v, err := kr2.Verify(ctx, before)
	if err != nil || v.KeyID != old.KeyID() || !v.Retired {
		t.Errorf("old envelope: %+v, %v", v, err)
	}
	if v, err := kr2.Verify(ctx, after); err != nil || v.Retired {
		t.Errorf("new envelope: %+v, %v", v, err)
	}
	// It never signs again.
	if _, err := kr2.Signer(old.KeyID()); !errors.Is(err, signing.ErrRetiredKey) {
		t.Errorf("Signer(retired) = %v", err)
	}
	if s, err := kr2.Signer(next.KeyID()); err != nil || s.KeyID() != next.KeyID() {
		t.Errorf("Signer(active) = %v, %v", s, err)
	}
	if _, err := kr2.Signer("nobody"); !errors.Is(err, signing.ErrUnknownKey) {
		t.Errorf("Signer(unknown) = %v", err)
	}
	want := []signing.KeyInfo{
		{KeyID: next.KeyID(), Algorithm: signing.ECDSAP256},
		{KeyID: old.KeyID(), Algorithm: signing.Ed25519, Retired: true},
	}
	if diff := cmp.Diff(want, kr2.Keys()); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	// kr1 is unchanged: keyrings are values.
	if kr1.Keys()[0].Retired {
		t.Error("Rotate changed the original keyring")
	}
	// Rotating again retires the second key ahead of the first.
	third := testKey(t, signing.HS256)
	kr3, err := kr2.Rotate(third)
	if err != nil {
		t.Fatal(err)
	}
	if got := kr3.Keys(); got[1].KeyID != next.KeyID() || got[2].KeyID != old.KeyID() || !got[1].Retired {
		t.Errorf("Keys after second rotation: %+v", got)
	}
	if _, err := kr3.Rotate(third); !errors.Is(err, signing.ErrDuplicateKey) {
		t.Errorf("rotating to the active key: %v", err)
	}
}

func TestKeyringErrors(t *testing.T) {
	k := testKey(t, signing.HS256)
	if _, err := signing.NewKeyring(k, k); !errors.Is(err, signing.ErrDuplicateKey) {
		t.Errorf("duplicate: %v", err)
	}
	anon, _ := signing.NewPublicKey("", testKey(t, signing.Ed25519).Public())
	if _, err := signing.NewKeyring(k, anon); !errors.Is(err, signing.ErrInvalidKey) {
		t.Errorf("anonymous key in a keyring: %v", err)
	}
	verifyOnly, err := signing.NewKeyring(nil, k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyOnly.Sign(context.Background(), "text/plain", []byte("x")); !errors.Is(err, signing.ErrNoActiveKey) {
		t.Errorf("verify-only keyring signed: %v", err)
	}
	if _, err := verifyOnly.Signer(k.KeyID()); !errors.Is(err, signing.ErrRetiredKey) {
		t.Errorf("verify-only key: %v", err)
	}
}

// remoteKey stands in for a KMS-held key: a SignerVerifier that is not a *signing.Key and
// counts the signatures it is asked for.
type remoteKey struct {
	k     *signing.Key
	signs int
}

func (r *remoteKey) KeyID() string                { return "kms://" + r.k.KeyID() }
func (r *remoteKey) Algorithm() signing.Algorithm { return r.k.Algorithm() }
func (r *remoteKey) Sign(ctx context.Context, msg []byte) ([]byte, error) {
	r.signs++
	return r.k.Sign(ctx, msg)
}
func (r *remoteKey) Verify(ctx context.Context, msg, sig []byte) error {
	return r.k.Verify(ctx, msg, sig)
}

func TestKeyringWithRemoteKey(t *testing.T) {
	ctx := context.Background()
	remote := &remoteKey{k: testKey(t, signing.ECDSAP256)}
	kr, err := signing.NewKeyring(remote)
	if err != nil {
		t.Fatal(err)
	}
	svc := signing.NewService(kr) // a fixed keyring is its own KeyProvider
	env, err := svc.SignDsse(ctx, signing.PayloadTypeReport, []byte(smallReport))
	if err != nil || remote.signs != 1 || env.Signatures[0].KeyID != "kms://test-ecdsa-p256" {
		t.Fatalf("signed %v, %v (%d calls)", env, err, remote.signs)
	}
	rotated, err := kr.Rotate(testKey(t, signing.Ed25519))
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rotated.Verify(ctx, env); err != nil || !v.Retired || v.KeyID != "kms://test-ecdsa-p256" {
		t.Errorf("retired remote key: %+v, %v", v, err)
	}
	if _, err := rotated.Sign(ctx, "text/plain", []byte("x")); err != nil || remote.signs != 1 {
		t.Errorf("the retired remote key was asked to sign (%d calls): %v", remote.signs, err)
	}
}
