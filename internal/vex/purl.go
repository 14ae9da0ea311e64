package vex

import (
	"fmt"
	"strings"

	packageurl "github.com/package-url/packageurl-go"
)

// normalizePURL returns packageurl-go's canonical rendering of s (lower-cased type, sorted
// qualifiers, type-specific name folding), so equal packages compare equal as strings.
func normalizePURL(s string) (string, error) {
	p, err := parsePURL(s)
	if err != nil {
		return "", err
	}
	return p.ToString(), nil
}

func parsePURL(s string) (packageurl.PackageURL, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return packageurl.PackageURL{}, fmt.Errorf("empty purl")
	}
	p, err := packageurl.FromString(s)
	if err != nil {
		return packageurl.PackageURL{}, err
	}
	if p.Type == "" || p.Name == "" {
		return packageurl.PackageURL{}, fmt.Errorf("purl %q has no type or name", s)
	}
	return p, nil
}

// ProductMatches reports whether a claim about claimPURL applies to a component identified by
// componentPURL, by the rule in the package documentation: same type, namespace and name; the
// claim's version, if any, equal to the component's; qualifiers and subpath compared only where
// both sides have them. Invalid purls match nothing.
func ProductMatches(claimPURL, componentPURL string) bool {
	c, err := parsePURL(claimPURL)
	if err != nil {
		return false
	}
	f, err := parsePURL(componentPURL)
	if err != nil {
		return false
	}
	return purlMatches(&c, &f)
}

func purlMatches(claim, comp *packageurl.PackageURL) bool {
	if claim.Type != comp.Type || claim.Namespace != comp.Namespace || claim.Name != comp.Name {
		return false
	}
	if claim.Version != "" && claim.Version != comp.Version {
		return false
	}
	if claim.Subpath != "" && comp.Subpath != "" && claim.Subpath != comp.Subpath {
		return false
	}
	// Qualifiers are sorted by key after normalisation: walk both lists together.
	cq, fq := claim.Qualifiers, comp.Qualifiers
	for i, j := 0, 0; i < len(cq) && j < len(fq); {
		switch {
		case cq[i].Key < fq[j].Key:
			i++
		case cq[i].Key > fq[j].Key:
			j++
		default:
			if cq[i].Value != fq[j].Value {
				return false
			}
			i++
			j++
		}
	}
	return true
}
