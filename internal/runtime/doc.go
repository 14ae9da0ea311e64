// Package runtime is the runtime area of Scanner.WebService (API spec §2.8): it decodes and
// validates batches of zastava.runtime.event@v1 envelopes posted by Zastava observers, rate
// limits them with per-tenant and per-node token buckets (in memory, or in Redis shared by
// every replica), stores them idempotently by tenant and eventId with an expiry, sweeps the
// expired ones, and builds the runtime verdicts the admission webhook asks for.
//
// It owns no HTTP and no storage backend: internal/server maps its errors to problems, and
// sqlitestore and pgstore implement Store. It starts no goroutine: the sweeper is a blocking
// loop its caller runs and stops through the context.
package runtime
