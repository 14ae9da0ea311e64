package vex

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// maxSkipNotes bounds Document.Skipped: an old Red Hat advisory without purls skips hundreds of
// products per CVE, and the first few explain the rest.
const maxSkipNotes = 100

// builder collects one document's claims within the Config's limits, merging duplicates.
type builder struct {
	ctx       context.Context
	cfg       Config
	doc       *Document
	generated int
	index     map[claimKey]int
}

// claimKey is everything but the product references: two product IDs naming the same purl in the
// same statement with the same outcome are one claim.
type claimKey struct {
	stmt                          int
	stmtID, vuln, product, within string
	status                        Status
	rawStatus                     string
	just                          Justification
	rawJust, impact, action       string
}

func newBuilder(ctx context.Context, cfg Config, doc *Document) *builder {
	return &builder{ctx: ctx, cfg: cfg, doc: doc, index: map[claimKey]int{}}
}

// statements checks the statement count before any work is done on them.
func (b *builder) statements(n int) error {
	if n > b.cfg.MaxStatements {
		return fmt.Errorf("%w: %d statements, limit %d", ErrTooMany, n, b.cfg.MaxStatements)
	}
	return nil
}

// next is called once per statement so a cancelled context stops a large document.
func (b *builder) next() error {
	return b.ctx.Err()
}

// addPURL adds c for the product named by purl (ref is how the document wrote it), or records a
// skip when purl is not a valid package URL.
func (b *builder) addPURL(c Claim, purl, ref string) error {
	norm, err := normalizePURL(purl)
	if err != nil {
		b.skip(c.Source.Statement, ref, fmt.Sprintf("product is not a valid purl: %v", err))
		return nil
	}
	c.Product = norm
	return b.add(c, ref)
}

// add fills the document-level fields of c and adds it, merging it into an equal claim.
func (b *builder) add(c Claim, ref string) error {
	b.generated++
	if b.generated > b.cfg.MaxClaims {
		return fmt.Errorf("%w: more than %d claims", ErrTooMany, b.cfg.MaxClaims)
	}
	c.Issuer = b.doc.Issuer
	c.Source.Format = b.doc.Format
	c.Source.Document = b.doc.Name
	c.Source.DocumentID = b.doc.ID
	c.Source.Digest = b.doc.Digest
	k := claimKey{
		stmt: c.Source.Statement, stmtID: c.Source.StatementID, vuln: c.Vulnerability,
		product: c.Product, within: c.Within, status: c.Status, rawStatus: c.RawStatus,
		just: c.Justification, rawJust: c.RawJustification, impact: c.ImpactStatement,
		action: c.ActionStatement,
	}
	if i, ok := b.index[k]; ok {
		if ref != "" {
			b.doc.Claims[i].Source.ProductRefs = append(b.doc.Claims[i].Source.ProductRefs, ref)
		}
		return nil
	}
	c.Source.ProductRefs = nil
	if ref != "" {
		c.Source.ProductRefs = []string{ref}
	}
	b.index[k] = len(b.doc.Claims)
	b.doc.Claims = append(b.doc.Claims, c)
	return nil
}

func (b *builder) skip(stmt int, ref, reason string) {
	b.doc.SkippedTotal++
	if len(b.doc.Skipped) < maxSkipNotes {
		b.doc.Skipped = append(b.doc.Skipped, Skip{Statement: stmt, Ref: ref, Reason: reason})
	}
}

// finish sorts the claims and their references, so equal input gives equal output.
func (b *builder) finish() *Document {
	for i := range b.doc.Claims {
		refs := b.doc.Claims[i].Source.ProductRefs
		slices.Sort(refs)
		b.doc.Claims[i].Source.ProductRefs = slices.Compact(refs)
	}
	slices.SortFunc(b.doc.Claims, func(x, y Claim) int { return compareClaims(&x, &y) })
	if b.doc.Claims == nil {
		b.doc.Claims = []Claim{}
	}
	return b.doc
}

// parseTime reads an RFC 3339 timestamp as UTC; empty is the zero time.
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: invalid timestamp %q", ErrMalformed, field, s)
	}
	return t.UTC(), nil
}

// firstTime parses the first non-empty of the (field, value) pairs.
func firstTime(pairs ...string) (time.Time, error) {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) != "" {
			return parseTime(pairs[i], pairs[i+1])
		}
	}
	return time.Time{}, nil
}
