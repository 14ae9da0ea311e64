// Package digits compares unbounded decimal digit strings, so that the version schemes
// never overflow or lose precision on long numeric components. It must not parse anything else.
package digits

import "strings"

// TrimZeros returns s without its leading '0' bytes.
func TrimZeros(s string) string {
	return strings.TrimLeft(s, "0")
}

// Compare compares two strings of ASCII decimal digits by numeric value: -1, 0 or +1.
// Leading zeros are ignored; the empty string is zero.
func Compare(a, b string) int {
	a, b = TrimZeros(a), TrimZeros(b)
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return strings.Compare(a, b)
}

// IsDigits reports whether s is non-empty and made only of ASCII decimal digits.
func IsDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsDigit reports whether c is an ASCII decimal digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsAlpha reports whether c is an ASCII letter.
func IsAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// Sign returns -1, 0 or +1 for the sign of n.
func Sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
