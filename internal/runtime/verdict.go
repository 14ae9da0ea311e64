package runtime

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// MaxPolicyImages bounds the images of one verdict request (a pod has a handful; the CLI may
// ask for a list).
const MaxPolicyImages = 256

// PolicyRequest is the body of POST /api/v1/scanner/policy/runtime: the images of a workload
// about to be admitted, with its namespace and labels.
type PolicyRequest struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	// Images are digests ("sha256:…"); decoding lower-cases, de-duplicates and sorts them.
	Images []string `json:"images"`
}

// DecodePolicyRequest decodes and validates a verdict request. A refusal is a
// *ValidationError.
func DecodePolicyRequest(body []byte) (*PolicyRequest, error) {
	var req PolicyRequest
	if err := strict(body, &req); err != nil {
		return nil, &ValidationError{Reason: ReasonInvalid, Errors: []FieldError{{Path: "$", Msg: "malformed JSON: " + err.Error()}}, Total: 1}
	}
	c := &collector{}
	switch n := len(req.Images); {
	case n == 0:
		c.add(ReasonInvalid, "$.images", "at least one image digest is required")
	case n > MaxPolicyImages:
		c.add(ReasonInvalid, "$.images", "%d images; at most %d per request", n, MaxPolicyImages)
	}
	if c.n == 0 {
		for i, d := range req.Images {
			nd, err := NormaliseDigest(d)
			if err != nil {
				c.add(ReasonInvalid, fmt.Sprintf("$.images[%d]", i), "%s", err)
				continue
			}
			req.Images[i] = nd
		}
		slices.Sort(req.Images)
		req.Images = slices.Compact(req.Images)
	}
	if req.Namespace != "" {
		if msg := checkText(req.Namespace, maxNameLen, true); msg != "" {
			c.add(ReasonInvalid, "$.namespace", "%s", msg)
		}
	}
	if len(req.Labels) > 64 {
		c.add(ReasonInvalid, "$.labels", "%d labels; at most 64", len(req.Labels))
	} else {
		keys := make([]string, 0, len(req.Labels))
		for k := range req.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if msg := checkText(k, maxNameLen, true); k == "" || msg != "" {
				c.add(ReasonInvalid, "$.labels", "key %q: 1 to %d bytes without blanks or control characters", clip(k), maxNameLen)
			} else if msg := checkText(req.Labels[k], maxNameLen, true); msg != "" {
				c.add(ReasonInvalid, "$.labels."+k, "%s", msg)
			}
		}
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return &req, nil
}

// ImageEvidence is what the server knows of an image digest's supply chain (the reports area's
// answer). The zero value is "nothing known".
type ImageEvidence struct {
	// Known is false when the server has no source of evidence at all.
	Known bool
	// Signed: a trusted signature names the digest. HasSBOM: an SBOM referrer is stored.
	Signed, HasSBOM bool
	// PolicyVerdict ("pass", "warn", "fail"/"blocked") and PolicyRevision of the latest
	// report, and its id; empty when there is no report.
	PolicyVerdict, PolicyRevision, ReportID string
	// QuietedBy names the rules that quieted findings of the latest report.
	QuietedBy []string
	// Attestation is the transparency-log entry of the latest attestation.
	Attestation *Attestation
}

// Attestation is a transparency-log entry and whether its inclusion proof verified.
type Attestation struct {
	UUID     string
	Index    uint64
	Verified bool
}

// EvidenceSource looks up the evidence of a digest.
type EvidenceSource func(ctx context.Context, digest string) (ImageEvidence, error)

// PolicyResponse is the answer: one verdict per requested digest, valid for TTLSeconds.
type PolicyResponse struct {
	TTLSeconds   int    `json:"ttlSeconds"`
	ExpiresAtUTC string `json:"expiresAtUtc"`
	// PolicyRevision is the active policy revision, when there is one.
	PolicyRevision string                  `json:"policyRevision,omitempty"`
	Results        map[string]ImageVerdict `json:"results"`
}

// Verdict values.
const (
	VerdictPass    = "pass"
	VerdictWarn    = "warn"
	VerdictFail    = "fail"
	VerdictUnknown = "unknown"
)

// ImageVerdict is the runtime verdict of one image digest.
type ImageVerdict struct {
	// PolicyVerdict is pass, warn or fail from the image's latest policy report, or unknown
	// when there is none.
	PolicyVerdict    string `json:"policyVerdict"`
	Signed           bool   `json:"signed"`
	HasSBOMReferrers bool   `json:"hasSbomReferrers"`
	// Quiet is true when rules quieted findings; QuietedBy names them.
	Quiet     bool     `json:"quiet"`
	QuietedBy []string `json:"quietedBy,omitempty"`
	// Confidence is the share of the four evidence checks that hold (a report under the
	// active policy revision, a signature, an SBOM referrer, a verified transparency-log
	// entry): 0, 0.25, 0.5, 0.75 or 1.
	Confidence float64 `json:"confidence"`
	Rekor      *Rekor  `json:"rekor,omitempty"`
	ReportID   string  `json:"reportId,omitempty"`
	// PolicyRevision is the revision the report was evaluated under.
	PolicyRevision string `json:"policyRevision,omitempty"`
	// Reasons explain everything that keeps the verdict from a confident pass, in a fixed
	// order.
	Reasons []string `json:"reasons"`
	// Runtime summarises the stored runtime events of the digest, when there are any.
	Runtime *Observation `json:"runtime,omitempty"`
}

// Rekor is the image's transparency-log entry.
type Rekor struct {
	UUID     string `json:"uuid"`
	Index    uint64 `json:"index"`
	Verified bool   `json:"verified"`
}

// Observation summarises the runtime events of a digest.
type Observation struct {
	Events         int            `json:"events"`
	FirstSeen      string         `json:"firstSeen"`
	LastSeen       string         `json:"lastSeen"`
	Kinds          map[string]int `json:"kinds"`
	Namespaces     []string       `json:"namespaces"`
	NamespaceCount int            `json:"namespaceCount"`
	Nodes          []string       `json:"nodes"`
	NodeCount      int            `json:"nodeCount"`
	// InNamespace counts the events in the request's namespace (set when it named one).
	InNamespace *int `json:"inNamespace,omitempty"`
	// Posture is the observers' latest report of signature and SBOM referrer: their claim,
	// shown beside the server's own evidence, never in place of it.
	Posture *PostureReport `json:"posture,omitempty"`
}

// PostureReport is an observer's posture report.
type PostureReport struct {
	ImageSigned  *bool  `json:"imageSigned,omitempty"`
	SBOMReferrer string `json:"sbomReferrer,omitempty"`
	ObservedAt   string `json:"observedAt"`
	Node         string `json:"node"`
}

// Verdicts answers a verdict request. tenant limits the runtime events consulted ("" is
// every tenant); activeRevision is the active policy revision ("" when none); evidence may be
// nil when the server has no evidence source, and the verdicts then say so.
func (s *Service) Verdicts(ctx context.Context, req *PolicyRequest, tenant, activeRevision string, evidence EvidenceSource) (*PolicyResponse, error) {
	now := ms(s.cfg.Now())
	ttl := s.cfg.VerdictTTL.Round(time.Second)
	resp := &PolicyResponse{
		TTLSeconds: int(ttl / time.Second), ExpiresAtUTC: FormatTime(now.Add(ttl)), PolicyRevision: activeRevision,
		Results: make(map[string]ImageVerdict, len(req.Images)),
	}
	for _, d := range req.Images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ev ImageEvidence
		if evidence != nil {
			var err error
			if ev, err = evidence(ctx, d); err != nil {
				return nil, fmt.Errorf("runtime: evidence of %s: %w", d, err)
			}
			ev.Known = true
		}
		act, err := s.store.Image(ctx, ImageQuery{Digest: d, Tenant: tenant, Namespace: req.Namespace, Now: now})
		if err != nil {
			return nil, fmt.Errorf("runtime: events of %s: %w", d, err)
		}
		resp.Results[d] = verdict(ev, act, req.Namespace, activeRevision)
	}
	return resp, nil
}

// verdict combines the evidence and the runtime activity of one digest.
func verdict(ev ImageEvidence, act ImageActivity, namespace, activeRevision string) ImageVerdict {
	v := ImageVerdict{PolicyVerdict: VerdictUnknown, Signed: ev.Signed, HasSBOMReferrers: ev.HasSBOM,
		ReportID: ev.ReportID, PolicyRevision: ev.PolicyRevision, Reasons: []string{}}
	if len(ev.QuietedBy) > 0 {
		v.QuietedBy = slices.Compact(slices.Sorted(slices.Values(ev.QuietedBy)))
		v.Quiet = true
	}
	if a := ev.Attestation; a != nil {
		v.Rekor = &Rekor{UUID: a.UUID, Index: a.Index, Verified: a.Verified}
	}
	reason := func(format string, args ...any) { v.Reasons = append(v.Reasons, fmt.Sprintf(format, args...)) }
	checks := 0
	switch {
	case !ev.Known:
		reason("no supply-chain evidence is available on this server (image reports are not enabled): signature, SBOM and policy verdict are unknown")
	case ev.PolicyVerdict == "" && ev.ReportID == "":
		reason("no policy report names this image digest")
	default:
		switch ev.PolicyVerdict {
		case "pass":
			v.PolicyVerdict = VerdictPass
		case "warn":
			v.PolicyVerdict = VerdictWarn
			reason("the policy report %s warns", ev.ReportID)
		case "fail", "blocked":
			v.PolicyVerdict = VerdictFail
			reason("the policy report %s blocks this image", ev.ReportID)
		default:
			reason("the policy report %s has no verdict this server knows (%q)", ev.ReportID, ev.PolicyVerdict)
		}
		if v.PolicyVerdict != VerdictUnknown {
			if activeRevision != "" && ev.PolicyRevision != activeRevision {
				reason("the report was evaluated under policy revision %q; the active revision is %q", ev.PolicyRevision, activeRevision)
			} else {
				checks++
			}
		}
	}
	if ev.Known {
		if ev.Signed {
			checks++
		} else {
			reason("no trusted signature names this image digest")
		}
		if ev.HasSBOM {
			checks++
		} else {
			reason("no SBOM referrer is stored for this image digest")
		}
		switch a := ev.Attestation; {
		case a == nil:
			reason("no transparency-log entry attests this image digest")
		case !a.Verified:
			reason("the transparency-log entry %s did not verify", a.UUID)
		default:
			checks++
		}
	}
	v.Confidence = math.Round(float64(checks)/4*100) / 100
	if act.Events > 0 {
		v.Runtime = observation(act, namespace)
		if n := act.ByKind[KindDrift]; n > 0 {
			reason("observers reported %d drift event(s) for this image", n)
		}
		if n := act.ByKind[KindPolicyViolation]; n > 0 {
			reason("observers reported %d policy violation(s) for this image", n)
		}
	}
	return v
}

func observation(act ImageActivity, namespace string) *Observation {
	o := &Observation{
		Events: act.Events, FirstSeen: FormatTime(act.FirstSeen), LastSeen: FormatTime(act.LastSeen),
		Kinds: make(map[string]int, len(act.ByKind)), Namespaces: nonNil(act.Namespaces), NamespaceCount: act.NamespaceCount,
		Nodes: nonNil(act.Nodes), NodeCount: act.NodeCount,
	}
	for k, n := range act.ByKind {
		o.Kinds[string(k)] = n
	}
	if namespace != "" {
		n := act.InNamespace
		o.InNamespace = &n
	}
	if p := act.Posture; p != nil {
		o.Posture = &PostureReport{ImageSigned: p.ImageSigned, SBOMReferrer: p.SBOMReferrer, ObservedAt: FormatTime(p.ObservedAt), Node: p.Node}
	}
	return o
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
