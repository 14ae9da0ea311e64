package authority

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHashAndVerify(t *testing.T) {
	p := Argon2Params{MemoryKiB: 64, Time: 1, Threads: 1}
	h, err := HashSecret("s3cret", p)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashSecret("s3cret", p)
	if h == h2 {
		t.Fatal("two hashes of one secret are equal: the salt is not random")
	}
	if err := VerifySecret(h, "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := VerifySecret(h, "s3cret!"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("wrong secret: %v", err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("imported"), bcrypt.MinCost)
	if err := VerifySecret(string(bc), "imported"); err != nil {
		t.Fatalf("bcrypt: %v", err)
	}
	if err := VerifySecret(string(bc), "imported2"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("bcrypt mismatch: %v", err)
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=64,t=1$x$y", "$argon2id$v=18$m=64,t=1,p=1$AAAA$AAAA",
		"$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", strings.Replace(h, "$m=", "$m=x", 1)} {
		if err := VerifySecret(bad, "s3cret"); err == nil || errors.Is(err, ErrPasswordMismatch) {
			t.Errorf("hash %q: %v, want a format error", bad, err)
		}
	}
}

func TestPasswordPolicy(t *testing.T) {
	if w := BaselinePasswordPolicy.Weakened(); w != nil {
		t.Fatalf("baseline weakened: %v", w)
	}
	weak := PasswordPolicy{MinimumLength: 8, RequireUppercase: true, RequireLowercase: true}
	if w := weak.Weakened(); len(w) != 3 {
		t.Fatalf("weakened: %v", w)
	}
	err := BaselinePasswordPolicy.Check("abc")
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "at least 12 characters") || !strings.Contains(err.Error(), "a symbol") {
		t.Fatalf("check: %v", err)
	}
	if err := BaselinePasswordPolicy.Check("Correct-Horse-9"); err != nil {
		t.Fatal(err)
	}
}
