package vex

import (
	"fmt"
	"strings"
)

type csafProductTree struct {
	Branches         []csafBranch  `json:"branches"`
	FullProductNames []csafProduct `json:"full_product_names"`
	Relationships    []struct {
		FullProductName  csafProduct `json:"full_product_name"`
		ProductReference string      `json:"product_reference"`
		RelatesTo        string      `json:"relates_to_product_reference"`
	} `json:"relationships"`
	ProductGroups []struct {
		GroupID    string   `json:"group_id"`
		ProductIDs []string `json:"product_ids"`
	} `json:"product_groups"`
}

type csafBranch struct {
	Product  *csafProduct `json:"product"`
	Branches []csafBranch `json:"branches"`
}

type csafProduct struct {
	ProductID string `json:"product_id"`
	Helper    *struct {
		PURL  string   `json:"purl"`
		PURLs []string `json:"purls"` // CSAF 2.1
	} `json:"product_identification_helper"`
}

// maxRelationshipDepth bounds chains of relationships (a relationship whose product_reference is
// itself a relationship's product); real trees have one level, cycles must end.
const maxRelationshipDepth = 8

// csafTree indexes a product tree: product ID → purls, relationship product ID → (component,
// platform), group ID → product IDs.
type csafTree struct {
	purls  map[string][]string
	rels   map[string]csafRel
	groups map[string][]string
	ids    map[string]bool
}

type csafRel struct {
	component, platform string
}

func newCSAFTree(pt *csafProductTree) *csafTree {
	t := &csafTree{
		purls:  map[string][]string{},
		rels:   map[string]csafRel{},
		groups: map[string][]string{},
		ids:    map[string]bool{},
	}
	t.branches(pt.Branches)
	for i := range pt.FullProductNames {
		t.product(&pt.FullProductNames[i])
	}
	for i := range pt.Relationships {
		r := &pt.Relationships[i]
		t.product(&r.FullProductName)
		id := r.FullProductName.ProductID
		if _, dup := t.rels[id]; id != "" && !dup {
			t.rels[id] = csafRel{component: r.ProductReference, platform: r.RelatesTo}
		}
	}
	for _, g := range pt.ProductGroups {
		if _, dup := t.groups[g.GroupID]; g.GroupID != "" && !dup {
			t.groups[g.GroupID] = g.ProductIDs
		}
	}
	return t
}

// branches walks the branch tree iteratively: a hostile document may nest deeply.
func (t *csafTree) branches(bs []csafBranch) {
	stack := [][]csafBranch{bs}
	for len(stack) > 0 {
		level := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for i := range level {
			if level[i].Product != nil {
				t.product(level[i].Product)
			}
			if len(level[i].Branches) > 0 {
				stack = append(stack, level[i].Branches)
			}
		}
	}
}

// product records a product's purls; the first definition of an ID wins (IDs must be unique).
func (t *csafTree) product(p *csafProduct) {
	if p.ProductID == "" || t.ids[p.ProductID] {
		return
	}
	t.ids[p.ProductID] = true
	if p.Helper == nil {
		return
	}
	var ps []string
	if s := strings.TrimSpace(p.Helper.PURL); s != "" {
		ps = append(ps, s)
	}
	for _, s := range p.Helper.PURLs {
		if s = strings.TrimSpace(s); s != "" {
			ps = append(ps, s)
		}
	}
	if len(ps) > 0 {
		t.purls[p.ProductID] = ps
	}
}

func (t *csafTree) known(id string) bool { return t.ids[id] }

// resolve returns the purls naming product id and, for a relationship, the platform it is part
// of. A relationship's product without its own purl takes its component's.
func (t *csafTree) resolve(id string, depth int) (purls []string, platform string) {
	rel, isRel := t.rels[id]
	if ps := t.purls[id]; len(ps) > 0 {
		return ps, rel.platform
	}
	if !isRel || depth >= maxRelationshipDepth {
		return nil, ""
	}
	ps, _ := t.resolve(rel.component, depth+1)
	return ps, rel.platform
}

// expandBudget bounds the product IDs expanded for flags, threats and remediations: product
// groups let a small document name the same large group many times.
type expandBudget struct {
	left int
}

// expand lists the product IDs named directly or through groups, counting them against the
// budget before allocating.
func (t *csafTree) expand(r csafProductRefs, budget *expandBudget) ([]string, error) {
	n := len(r.ProductIDs)
	for _, g := range r.GroupIDs {
		n += len(t.groups[g])
		if n > budget.left {
			break
		}
	}
	if n > budget.left {
		return nil, fmt.Errorf("%w: product references in flags, threats and remediations exceed the limit", ErrTooMany)
	}
	budget.left -= n
	ids := make([]string, 0, n)
	ids = append(ids, r.ProductIDs...)
	for _, g := range r.GroupIDs {
		ids = append(ids, t.groups[g]...)
	}
	return ids, nil
}
