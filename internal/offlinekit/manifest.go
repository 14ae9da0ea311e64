// Package offlinekit owns the Offline Update Kit: a signed, self-describing bundle that carries a
// connected site's merged advisories to an air-gapped one, and the import that installs it.
//
// # Layout
//
// A kit is a gzip-compressed tar, <bundleId>.tgz, holding offline-manifest.json (first) and the
// components it lists. Today there is one component, advisories/advisories.ndjson: every
// advisory of the snapshot the kit was built from, one RFC 8785 canonical JSON document per
// line in ID order. Those are exactly the bytes the snapshot's content digest is computed over,
// so the component's sha256 is the snapshot digest, and an import rebuilds a snapshot that must
// have that digest.
//
// Beside the bundle a kit is published with a copy of the manifest,
// <bundleId>.offline-manifest.json (named after the kit, so that kits can share a directory),
// and two DSSE envelopes:
//   - <bundleId>.tgz.sig signs an in-toto statement whose subject is the bundle (name and
//     sha256) and whose predicate (PredicateOfflineKit) names the bundleId and the manifest's
//     sha256;
//   - <bundleId>.offline-manifest.json.sig signs the manifest bytes themselves.
//
// A kit is built deterministically from a snapshot: the same snapshot and signing key give
// byte-identical files, so replicas that build the same kit at once agree.
package offlinekit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
)

// Names inside and beside a kit.
const (
	ManifestName   = "offline-manifest.json"
	AdvisoriesPath = "advisories/advisories.ndjson"
	// ManifestPayloadType is the DSSE payload type of the manifest signature.
	ManifestPayloadType = "application/vnd.stellaops.offline-kit.manifest+json"
	// SchemaVersion of the manifest this package writes and reads.
	SchemaVersion = 1
	// KindFull is a kit carrying the whole advisory set (the only kind built today).
	KindFull = "full"
	// ComponentAdvisories names the advisories component.
	ComponentAdvisories = "advisories"
	// maxManifestBytes bounds the manifest, read before anything else of a bundle.
	maxManifestBytes = 1 << 20
)

// ErrInvalid is wrapped by every error about a kit's form, content or signatures: the caller
// sent something that is not an acceptable kit (a 422, not a server fault).
var ErrInvalid = errors.New("invalid offline kit")

// Manifest describes a kit. It is written as canonical JSON.
type Manifest struct {
	SchemaVersion int       `json:"schemaVersion"`
	BundleID      string    `json:"bundleId"`
	Kind          string    `json:"kind"`
	CapturedAt    time.Time `json:"capturedAt"`
	// Generator is the StellaOps version that built the kit.
	Generator  string      `json:"generator"`
	Components []Component `json:"components"`
}

// Component is one file of a kit.
type Component struct {
	Name string `json:"name"`
	// Version identifies the content: for advisories, the snapshot digest.
	Version string `json:"version"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
	// Advisories and Sources describe the advisories component.
	Advisories int                   `json:"advisories,omitempty"`
	Sources    []snapshot.SourceInfo `json:"sources,omitempty"`
}

var (
	bundleIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)
	hexRe      = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidBundleID reports whether id can name a kit (and the files and directories named after it).
func ValidBundleID(id string) bool { return bundleIDRe.MatchString(id) }

// ParseManifest decodes and checks a manifest: known fields only, a known schema and kind, and
// exactly the components this version understands.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("%w: the manifest is larger than %d bytes", ErrInvalid, maxManifestBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: manifest: data after the JSON object", ErrInvalid)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrInvalid, err)
	}
	return &m, nil
}

func (m *Manifest) check() error {
	switch {
	case m.SchemaVersion != SchemaVersion:
		return fmt.Errorf("schemaVersion %d (this version reads %d)", m.SchemaVersion, SchemaVersion)
	case !ValidBundleID(m.BundleID):
		return fmt.Errorf("bundleId %.80q: want 1-128 of a-z 0-9 . _ -", m.BundleID)
	case m.Kind != KindFull:
		return fmt.Errorf("kind %.40q (this version imports %q kits)", m.Kind, KindFull)
	case m.CapturedAt.IsZero():
		return errors.New("capturedAt is missing")
	case len(m.Components) != 1:
		return fmt.Errorf("%d components (want the %s component)", len(m.Components), ComponentAdvisories)
	}
	c := m.Components[0]
	switch {
	case c.Name != ComponentAdvisories || c.Path != AdvisoriesPath:
		return fmt.Errorf("component %.40q at %.80q (want %s at %s)", c.Name, c.Path, ComponentAdvisories, AdvisoriesPath)
	case !hexRe.MatchString(c.SHA256):
		return fmt.Errorf("component %s: sha256 %.80q is not 64 lower-case hex digits", c.Name, c.SHA256)
	case c.Version != "sha256:"+c.SHA256:
		return fmt.Errorf("component %s: version %.80q is not its content digest", c.Name, c.Version)
	case c.Size < 0:
		return fmt.Errorf("component %s: negative size", c.Name)
	}
	return nil
}

// Component returns the named component, or nil.
func (m *Manifest) Component(name string) *Component {
	for i := range m.Components {
		if m.Components[i].Name == name {
			return &m.Components[i]
		}
	}
	return nil
}
