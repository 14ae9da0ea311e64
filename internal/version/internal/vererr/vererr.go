// Package vererr owns the one sentinel error of internal/version, so that the ecosystem
// subpackages can wrap it without importing their own dispatcher. It must not hold anything else.
package vererr

import (
	"errors"
	"fmt"
)

// ErrInvalid is the sentinel every Parse failure wraps. internal/version re-exports it as
// version.ErrInvalid.
var ErrInvalid = errors.New("invalid version")

// MaxLen is the default bound on the length of a version string. No real version of any
// ecosystem comes near it; it keeps parsing and comparison linear in a small constant.
const MaxLen = 1024

// New returns an error wrapping ErrInvalid for the scheme, the input (truncated) and a reason.
func New(scheme, s, reason string) error {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Errorf("%s: %q: %s: %w", scheme, s, reason, ErrInvalid)
}

// CheckLen returns an error wrapping ErrInvalid when s is empty or longer than max bytes.
func CheckLen(scheme, s string, max int) error {
	if s == "" {
		return New(scheme, s, "empty")
	}
	if len(s) > max {
		return New(scheme, s, fmt.Sprintf("longer than %d bytes", max))
	}
	return nil
}
