package rpm

import (
	"strings"

	"github.com/stellaops/stellaops/internal/version/internal/digits"
)

func isAlnum(c byte) bool { return digits.IsDigit(c) || digits.IsAlpha(c) }

// Vercmp compares two version or release strings with rpm's rpmvercmp rules and returns
// -1, 0 or +1. It runs in linear time and never fails.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// '~' sorts before everything, even the end of the string.
		ta, tb := i < len(a) && a[i] == '~', j < len(b) && b[j] == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		// '^' sorts after the end of the string but before anything else.
		ca, cb := i < len(a) && a[i] == '^', j < len(b) && b[j] == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := digits.IsDigit(a[i])
		if numeric {
			for i < len(a) && digits.IsDigit(a[i]) {
				i++
			}
			for j < len(b) && digits.IsDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && digits.IsAlpha(a[i]) {
				i++
			}
			for j < len(b) && digits.IsAlpha(b[j]) {
				j++
			}
		}
		segA, segB := a[si:i], b[sj:j]
		if segB == "" {
			// The segments are of different types: numeric is newer than alphabetic.
			if numeric {
				return 1
			}
			return -1
		}
		var c int
		if numeric {
			c = digits.Compare(segA, segB)
		} else {
			c = strings.Compare(segA, segB)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i < len(a):
		return 1
	}
	return -1
}
