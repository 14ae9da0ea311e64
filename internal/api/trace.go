package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
)

type ctxKey int

const (
	traceKey ctxKey = iota
	principalKey
)

// TraceID returns the request's trace id: a W3C traceparent value "00-<trace>-<span>-01".
func TraceID(ctx context.Context) string {
	s, _ := ctx.Value(traceKey).(string)
	return s
}

// newTraceparent continues the caller's trace when it sent a valid traceparent header (same
// trace id, new span), and starts one otherwise, so that logs and problems join up with the
// caller's tracing.
func newTraceparent(incoming string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	trace := hex.EncodeToString(b[:16])
	span := hex.EncodeToString(b[16:])
	if p := strings.Split(incoming, "-"); len(p) == 4 && p[0] == "00" && len(p[1]) == 32 && isLowerHex(p[1]) && p[1] != strings.Repeat("0", 32) {
		trace = p[1]
	}
	return "00-" + trace + "-" + span + "-01"
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
