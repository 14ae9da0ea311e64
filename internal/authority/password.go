package authority

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2Params are the argon2id cost parameters of new hashes. The defaults are OWASP's
// second recommended set (19 MiB, 2 passes, 1 lane): a token request pays ~20–40 ms for it,
// and an offline guess costs the same.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultArgon2 is the cost of new secrets and passwords.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}

const (
	argonSaltLen = 16
	argonKeyLen  = 32
	// maxSecretLen bounds what is hashed: argon2 takes any length, but a megabyte "password"
	// is an attack on CPU, not a password. bcrypt stops at 72 bytes anyway.
	maxSecretLen = 1024
)

// ErrPasswordMismatch is returned by VerifySecret when the secret does not match.
var ErrPasswordMismatch = errors.New("authority: secret does not match")

// HashSecret returns the PHC string of secret under argon2id with p:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (base64 without padding).
func HashSecret(secret string, p Argon2Params) (string, error) {
	if len(secret) > maxSecretLen {
		return "", fmt.Errorf("authority: secret longer than %d bytes", maxSecretLen)
	}
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		return "", errors.New("authority: argon2 parameters must be positive")
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("authority: salt: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.MemoryKiB, p.Threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifySecret checks secret against a PHC argon2id hash or a bcrypt hash ($2a$, $2b$, $2y$,
// as imported from other identity stores). It returns ErrPasswordMismatch on a wrong secret
// and another error for a malformed hash.
func VerifySecret(hash, secret string) error {
	if len(secret) > maxSecretLen {
		return ErrPasswordMismatch
	}
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2(hash, secret)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return ErrPasswordMismatch
		}
		if err != nil {
			return fmt.Errorf("authority: bcrypt hash: %w", err)
		}
		return nil
	default:
		return errors.New("authority: unknown password hash format")
	}
}

func verifyArgon2(hash, secret string) error {
	parts := strings.Split(hash, "$")
	// "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	if len(parts) != 6 {
		return errors.New("authority: malformed argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("authority: unsupported argon2id version")
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return errors.New("authority: malformed argon2id parameters")
	}
	// Refuse parameters an attacker-edited row could use to make one login cost minutes.
	if m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return errors.New("authority: argon2id parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return errors.New("authority: malformed argon2id salt")
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 128 {
		return errors.New("authority: malformed argon2id key")
	}
	got := argon2.IDKey([]byte(secret), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrPasswordMismatch
	}
	return nil
}

// PasswordPolicy is the rule new user passwords must meet. The baseline (spec §3) is at least
// 12 characters with upper and lower case letters, a digit and a symbol.
type PasswordPolicy struct {
	MinimumLength    int  `json:"minimumLength"`
	RequireUppercase bool `json:"requireUppercase"`
	RequireLowercase bool `json:"requireLowercase"`
	RequireDigit     bool `json:"requireDigit"`
	RequireSymbol    bool `json:"requireSymbol"`
}

// BaselinePasswordPolicy is the policy of spec §3.
var BaselinePasswordPolicy = PasswordPolicy{MinimumLength: 12, RequireUppercase: true, RequireLowercase: true, RequireDigit: true, RequireSymbol: true}

// Weakened lists how p falls short of the baseline, one line each, for the startup warning;
// nil when it does not.
func (p PasswordPolicy) Weakened() []string {
	var w []string
	if p.MinimumLength < BaselinePasswordPolicy.MinimumLength {
		w = append(w, fmt.Sprintf("passwordPolicy.minimumLength is %d, below the baseline of %d", p.MinimumLength, BaselinePasswordPolicy.MinimumLength))
	}
	for _, c := range []struct {
		on   bool
		name string
	}{{p.RequireUppercase, "requireUppercase"}, {p.RequireLowercase, "requireLowercase"}, {p.RequireDigit, "requireDigit"}, {p.RequireSymbol, "requireSymbol"}} {
		if !c.on {
			w = append(w, "passwordPolicy."+c.name+" is false; the baseline requires it")
		}
	}
	return w
}

// Check returns an error naming every rule password breaks, or nil.
func (p PasswordPolicy) Check(password string) error {
	var upper, lower, digit, symbol bool
	n := 0
	for _, r := range password {
		n++
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' ':
			symbol = true
		}
	}
	var miss []string
	if n < p.MinimumLength {
		miss = append(miss, fmt.Sprintf("at least %d characters", p.MinimumLength))
	}
	if p.RequireUppercase && !upper {
		miss = append(miss, "an uppercase letter")
	}
	if p.RequireLowercase && !lower {
		miss = append(miss, "a lowercase letter")
	}
	if p.RequireDigit && !digit {
		miss = append(miss, "a digit")
	}
	if p.RequireSymbol && !symbol {
		miss = append(miss, "a symbol")
	}
	if len(password) > maxSecretLen {
		miss = append(miss, fmt.Sprintf("at most %d bytes", maxSecretLen))
	}
	if miss != nil {
		return fmt.Errorf("%w: password needs %s", ErrPolicy, strings.Join(miss, ", "))
	}
	return nil
}

// ErrPolicy wraps password policy violations.
var ErrPolicy = errors.New("password policy")
