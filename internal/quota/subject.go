package quota

import (
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
)

// Subject is who a scan is counted against: a token, or for anonymous calls the client IP.
type Subject struct {
	anonymous bool
	id        string
	limit     int // 0: the configured default for the kind
}

// Token is the subject of an authenticated call. maxScansPerDay is the token's claim; 0 or
// less means the configured default.
func Token(tokenID string, maxScansPerDay int) Subject {
	return Subject{id: tokenID, limit: max(maxScansPerDay, 0)}
}

// Anonymous is the subject of an unauthenticated call from ip. IPv4-mapped IPv6 addresses
// count as their IPv4 address so that a dual-stack listener does not double the allowance.
func Anonymous(ip string) Subject {
	ip = strings.TrimSpace(ip)
	if a, err := netip.ParseAddr(ip); err == nil {
		ip = a.Unmap().WithZone("").String()
	}
	return Subject{anonymous: true, id: ip}
}

// IsAnonymous reports whether s is an IP subject.
func (s Subject) IsAnonymous() bool { return s.anonymous }

func (s Subject) kind() string {
	if s.anonymous {
		return "ip"
	}
	return "tid"
}

// hash is the salted digest stored in keys instead of the identifier itself.
func hashID(salt, kind, id string) string {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
