package quota

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Header names of the quota contract (API spec §2.1).
const (
	HeaderRemaining    = "X-Stella-Quota-Remaining"
	HeaderReset        = "X-Stella-Reset"
	HeaderTokenExpires = "X-Stella-Token-Expires"
	HeaderRetryAfter   = "Retry-After"
)

// Decision is the outcome of a quota or rate-limit check.
type Decision struct {
	// Allowed is false only for hard refusals (hard daily limit, rate limit): answer 429.
	Allowed bool
	// Delay is how long the caller must hold the request before serving it (soft over-quota).
	Delay time.Duration
	// Used is the counter after this check (scans today, requests this second).
	Used int
	// Remaining is how many more requests fit before delays (daily) or refusal (rate); ≥ 0.
	Remaining int
	// Limit is the quota that applied.
	Limit int
	// ResetAt is when the counter starts over: next 00:00 UTC, or the end of the rate window.
	ResetAt time.Time
	// RetryAfter is set on refusals: time until a retry can succeed, whole seconds, ≥ 1 s.
	RetryAfter time.Duration
}

// Body is the `quota` object of /scan response bodies:
//
//	"quota": {"remaining": 131, "reset": "2025-07-19T00:00:00Z", "limit": 333, "delayedMs": 0}
//
// delayedMs is how long this scan was held because the quota was exceeded, so clients can tell
// a slow scan from a throttled one.
type Body struct {
	Limit     int `json:"limit"`
	Remaining int `json:"remaining"`
	// Reset is named as in API spec §2.1's example body.
	Reset     time.Time `json:"reset"`
	DelayedMs int64     `json:"delayedMs"`
}

// Body returns the JSON quota object for d.
func (d Decision) Body() Body {
	return Body{Limit: d.Limit, Remaining: d.Remaining, Reset: d.ResetAt.UTC(), DelayedMs: d.Delay.Milliseconds()}
}

// SetHeaders writes the quota headers of d into h. tokenExpires is the caller's token expiry;
// the zero time (anonymous calls) leaves X-Stella-Token-Expires out. Refusals also get
// Retry-After.
func (d Decision) SetHeaders(h http.Header, tokenExpires time.Time) {
	h.Set(HeaderRemaining, strconv.Itoa(d.Remaining))
	h.Set(HeaderReset, d.ResetAt.UTC().Format(time.RFC3339))
	if !tokenExpires.IsZero() {
		h.Set(HeaderTokenExpires, tokenExpires.UTC().Format(time.RFC3339))
	}
	if !d.Allowed {
		h.Set(HeaderRetryAfter, strconv.Itoa(retrySeconds(d.RetryAfter)))
	}
}

// Wait holds the caller for d.Delay, or returns ctx's error if the request is abandoned first,
// so that a disconnected client does not keep a handler parked for a minute.
func (d Decision) Wait(ctx context.Context) error {
	if d.Delay <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retrySeconds rounds up to whole seconds, at least 1: Retry-After has second resolution and
// a 0 would invite an immediate, certainly refused, retry.
func retrySeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
