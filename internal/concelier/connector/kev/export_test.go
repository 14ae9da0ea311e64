package kev

import "github.com/stellaops/stellaops/internal/concelier/store"

var storeDoc = store.Document{URI: "test"}

// MapDocument parses a catalog and maps its entries, for the fuzz target.
func MapDocument(b []byte) (int, error) {
	cat, err := parse(b)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range cat.Vulnerabilities {
		if a := toAdvisory(e, storeDoc); a.ID != "" {
			n++
		}
	}
	return n, nil
}
