package vex

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The CSAF structs decode the csaf_vex profile's fields and nothing else; no CSAF library is
// pinned and the subset is small.
type csafDocument struct {
	Document struct {
		Category    string `json:"category"`
		CSAFVersion string `json:"csaf_version"`
		Publisher   struct {
			Name string `json:"name"`
		} `json:"publisher"`
		Tracking struct {
			ID                 string `json:"id"`
			CurrentReleaseDate string `json:"current_release_date"`
			InitialReleaseDate string `json:"initial_release_date"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree     csafProductTree     `json:"product_tree"`
	Vulnerabilities []csafVulnerability `json:"vulnerabilities"`
}

type csafVulnerability struct {
	CVE string `json:"cve"`
	IDs []struct {
		Text string `json:"text"`
	} `json:"ids"`
	ProductStatus struct {
		FirstAffected      []string `json:"first_affected"`
		KnownAffected      []string `json:"known_affected"`
		LastAffected       []string `json:"last_affected"`
		KnownNotAffected   []string `json:"known_not_affected"`
		FirstFixed         []string `json:"first_fixed"`
		Fixed              []string `json:"fixed"`
		UnderInvestigation []string `json:"under_investigation"`
	} `json:"product_status"`
	Flags []struct {
		Label string `json:"label"`
		csafProductRefs
	} `json:"flags"`
	Threats []struct {
		Category string `json:"category"`
		Details  string `json:"details"`
		csafProductRefs
	} `json:"threats"`
	Remediations []struct {
		Category string `json:"category"`
		Details  string `json:"details"`
		csafProductRefs
	} `json:"remediations"`
}

// csafProductRefs is how flags, threats and remediations name the products they apply to.
type csafProductRefs struct {
	ProductIDs []string `json:"product_ids"`
	GroupIDs   []string `json:"group_ids"`
}

func parseCSAF(b *builder, data []byte) error {
	var d csafDocument
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, jsonError(err))
	}
	if strings.TrimSpace(d.Document.CSAFVersion) == "" {
		return fmt.Errorf("%w: document.csaf_version is missing", ErrFormat)
	}
	if err := b.statements(len(d.Vulnerabilities)); err != nil {
		return err
	}
	b.doc.ID = strings.TrimSpace(d.Document.Tracking.ID)
	b.doc.Issuer = strings.TrimSpace(d.Document.Publisher.Name)
	ts, err := firstTime("document.tracking.current_release_date", d.Document.Tracking.CurrentReleaseDate,
		"document.tracking.initial_release_date", d.Document.Tracking.InitialReleaseDate)
	if err != nil {
		return err
	}
	b.doc.Timestamp = ts
	tree := newCSAFTree(&d.ProductTree)
	budget := &expandBudget{left: 4 * b.cfg.MaxClaims}
	for i := range d.Vulnerabilities {
		if err := b.next(); err != nil {
			return err
		}
		if err := csafVuln(b, i, &d.Vulnerabilities[i], tree, ts, budget); err != nil {
			return fmt.Errorf("vulnerabilities[%d]: %w", i, err)
		}
	}
	return nil
}

// csafStatuses lists the product_status categories in a fixed order, so claims and skip notes
// come out in the same order every time.
func csafStatuses(v *csafVulnerability) []struct {
	raw    string
	status Status
	ids    []string
} {
	ps := &v.ProductStatus
	return []struct {
		raw    string
		status Status
		ids    []string
	}{
		{"known_not_affected", StatusNotAffected, ps.KnownNotAffected},
		{"first_affected", StatusAffected, ps.FirstAffected},
		{"known_affected", StatusAffected, ps.KnownAffected},
		{"last_affected", StatusAffected, ps.LastAffected},
		{"first_fixed", StatusFixed, ps.FirstFixed},
		{"fixed", StatusFixed, ps.Fixed},
		{"under_investigation", StatusUnderInvestigation, ps.UnderInvestigation},
	}
}

func csafVuln(b *builder, i int, v *csafVulnerability, tree *csafTree, ts time.Time, budget *expandBudget) error {
	vuln := normalizeVulnID(v.CVE)
	if vuln == "" && len(v.IDs) > 0 {
		vuln = normalizeVulnID(v.IDs[0].Text)
	}
	if vuln == "" {
		return fmt.Errorf("%w: neither cve nor ids", ErrMalformed)
	}
	ann, err := csafAnnotate(v, tree, budget)
	if err != nil {
		return err
	}
	for _, st := range csafStatuses(v) {
		for _, id := range st.ids {
			purls, within := tree.resolve(id, 0)
			if len(purls) == 0 {
				if tree.known(id) {
					b.skip(i, id, "product has no purl")
				} else {
					b.skip(i, id, "product ID not in product_tree")
				}
				continue
			}
			c := Claim{
				Vulnerability:   vuln,
				Within:          within,
				Status:          st.status,
				RawStatus:       st.raw,
				ActionStatement: strings.Join(ann.action[id], "\n"),
				Timestamp:       ts,
				Source:          Source{Statement: i},
			}
			if st.status == StatusNotAffected {
				// The csaf_vex profile gives not-affected products a flag or an impact threat;
				// on other products Red Hat uses "impact" threats for severity, not impact.
				c.RawJustification = ann.flag[id]
				c.Justification = openVEXJustification(ann.flag[id])
				c.ImpactStatement = strings.Join(ann.impact[id], "\n")
			}
			for _, p := range purls {
				if err := b.addPURL(c, p, id); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// csafAnnotations are a vulnerability's per-product flag label, impact statements and action
// statements (one line per distinct text, in document order).
type csafAnnotations struct {
	flag           map[string]string
	impact, action map[string][]string
}

func csafAnnotate(v *csafVulnerability, tree *csafTree, budget *expandBudget) (csafAnnotations, error) {
	a := csafAnnotations{flag: map[string]string{}, impact: map[string][]string{}, action: map[string][]string{}}
	for _, f := range v.Flags {
		ids, err := tree.expand(f.csafProductRefs, budget)
		if err != nil {
			return a, err
		}
		label := strings.TrimSpace(f.Label)
		for _, id := range ids {
			if _, set := a.flag[id]; !set {
				a.flag[id] = label
			}
		}
	}
	for _, t := range v.Threats {
		if t.Category != "impact" || strings.TrimSpace(t.Details) == "" {
			continue
		}
		ids, err := tree.expand(t.csafProductRefs, budget)
		if err != nil {
			return a, err
		}
		appendText(a.impact, ids, strings.TrimSpace(t.Details))
	}
	for _, r := range v.Remediations {
		text := strings.TrimSpace(r.Category)
		if d := strings.TrimSpace(r.Details); d != "" {
			text += ": " + d
		}
		ids, err := tree.expand(r.csafProductRefs, budget)
		if err != nil {
			return a, err
		}
		appendText(a.action, ids, text)
	}
	return a, nil
}

// maxTextsPerProduct caps the statements kept per product: real documents have one or two, and
// the cap keeps the duplicate check cheap on hostile ones.
const maxTextsPerProduct = 16

func appendText(m map[string][]string, ids []string, text string) {
	for _, id := range ids {
		if len(m[id]) < maxTextsPerProduct && !slices.Contains(m[id], text) {
			m[id] = append(m[id], text)
		}
	}
}
