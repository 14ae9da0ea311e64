package server

import (
	"context"
	"errors"
	"time"

	"github.com/stellaops/stellaops/internal/policy"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/signing"
)

// Services one area offers another, set by the owning area's mount function (mount runs
// policy first, then scans, reports, runtime, concelier, offline-kit) and nil until then. They are
// functions rather than packages so that areas depend on a contract, not on each other's
// stores.
type areaServices struct {
	// activePolicy returns the active policy, compiled, with its revision (set by policy).
	// ErrNoActivePolicy when none was imported yet.
	activePolicy func(ctx context.Context) (*policy.Policy, policy.Revision, error)
	// storedScan returns a finished scan's result and image digest (set by scans).
	// ErrScanNotFound for an unknown id.
	storedScan func(ctx context.Context, scanID string) (StoredScan, error)
	// imageEvidence returns what is known about an image digest for runtime verdicts: the
	// latest report, signatures, SBOM referrers, attestations (set by reports).
	imageEvidence func(ctx context.Context, imageDigest string) (ImageEvidence, error)
	// signingKeys are the report signing keys, which also sign offline kits (set by reports).
	signingKeys signing.KeyProvider
}

// Errors of the area services.
var (
	ErrNoActivePolicy = errors.New("no active policy")
	ErrScanNotFound   = errors.New("scan not found")
)

// StoredScan is a finished scan as other areas see it.
type StoredScan struct {
	ScanID      string
	ImageDigest string
	Result      *scan.Result
	FinishedAt  time.Time
}

// ImageEvidence is the supply-chain evidence of one image digest.
type ImageEvidence struct {
	// Signed: a DSSE report or attestation signed by a trusted key names the digest.
	Signed bool
	// HasSBOM: an SBOM for the digest is stored (the SBOM referrer).
	HasSBOM bool
	// PolicyVerdict of the latest report ("pass", "warn", "fail") and its revision.
	PolicyVerdict  string
	PolicyRevision string
	ReportID       string
	// QuietedBy names the policy rules that quieted findings of the latest report, sorted.
	QuietedBy []string
	// Attestation is the transparency-log entry of the latest attestation, if any.
	Attestation *AttestationRef
}

// AttestationRef names a transparency-log entry and whether its inclusion proof verified.
type AttestationRef struct {
	UUID     string
	Index    uint64
	Verified bool
}
