// Package quota enforces StellaOps' daily scan quota and per-token request rate limit.
//
// Daily scan quota: every token has maxScansPerDay (default 333) and every anonymous client IP
// has a smaller allowance (default 33). The day is the UTC calendar day, so every counter resets
// at 00:00 UTC. Going over the quota slows the caller down instead of refusing it: scans
// L+1..L+30 are delayed 5 s each, later ones 60 s each. A request is refused (HTTP 429) only
// when a configured hard daily limit is reached; refused scans are not counted, so the counter
// never runs past the hard limit.
//
// Rate limit: a fixed one-second window per token (default 40 requests/s). Fixed windows need a
// single atomic increment on the backend (one Lua call on Redis), which is why they were chosen
// over GCRA. The price is burst behaviour at window edges: a client may get up to 2×limit
// requests through within a short span straddling a second boundary (limit at the end of one
// second, limit at the start of the next), but never more than limit in any one window.
// Refusals carry Retry-After in whole seconds, at least 1.
//
// Counters live behind Store: memstore for embedded mode, redisstore for scale mode where all
// replicas share counts. Both are checked by the conformance suite in quotatest.
//
// Identifiers (token ids, IP addresses) never reach the backend in clear: keys carry a salted
// SHA-256 of them, as the free-tier design requires.
package quota
