package sbom

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	packageurl "github.com/package-url/packageurl-go"

	"github.com/stellaops/stellaops/internal/inventory"
)

// builder turns a document's entries into an inventory. One builder serves one decode.
type builder struct {
	format Format
	inv    inventory.Inventory
	// osDistro is the distro named by an operating-system entry, when the document has one.
	osDistro *inventory.Distro
}

func newBuilder(f Format) *builder {
	return &builder{format: f, inv: inventory.Inventory{Target: inventory.Target{Kind: inventory.TargetSBOM, Format: string(f)}}}
}

// diagnose records a per-entry problem that made the inventory incomplete.
func (b *builder) diagnose(format string, args ...any) {
	b.inv.Diagnostics = append(b.inv.Diagnostics, inventory.Diagnostic{
		Source:  b.format.foundBy(),
		Message: fmt.Sprintf(format, args...),
	})
}

// setOSDistro records the distro of an operating-system entry; the first one wins.
func (b *builder) setOSDistro(d inventory.Distro) {
	if b.osDistro == nil && !d.IsZero() {
		b.osDistro = &d
	}
}

// add turns an entry into a component, or records why it cannot be one.
func (b *builder) add(e *entry) {
	ps := indexProps(e.props)
	if e.purl == "" && e.ecosystem == inventory.EcosystemUnknown {
		// Trivy names the package type of every component; it stands in for a missing purl.
		if t := ps.first(trivyPkgType); t != "" {
			e.ecosystem = trivyEcosystem("", t)
		}
	}
	c, ok := b.component(e)
	if !ok {
		return
	}
	applySource(&c, e, ps)
	applyPlacement(&c, e, ps)
	for _, l := range e.licenses {
		// "(A OR B)" and "A OR B" are the same licence; keep one spelling.
		c.Licenses = append(c.Licenses, trimParens(strings.TrimSpace(l)))
	}
	c.Hashes = append(c.Hashes, e.hashes...)
	for _, v := range ps[propHash] {
		if alg, val, ok := strings.Cut(v, ":"); ok && alg != "" && val != "" {
			c.Hashes = append(c.Hashes, inventory.Hash{Algorithm: alg, Value: val})
		}
	}
	c.CPEs = append(c.CPEs, e.cpes...)
	c.CPEs = append(c.CPEs, ps[propCPE]...)
	c.CPEs = append(c.CPEs, ps[syftCPE]...)
	c.Direct = c.Direct || ps.first(propDirect) == "true"
	c.FoundBy = b.format.foundBy()
	b.inv.Components = append(b.inv.Components, c)
}

// component builds the identity of an entry from its purl, or from its fields.
func (b *builder) component(e *entry) (inventory.Component, bool) {
	if e.purl != "" {
		c, err := inventory.FromPURL(fixPURL(e.purl))
		if err != nil {
			b.diagnose("%s: dropped: %v", e.describe(), err)
			return c, false
		}
		readScalibrQualifiers(&c, e.purl)
		return c, true
	}
	if e.ecosystem != inventory.EcosystemUnknown && e.name != "" {
		return inventory.Component{Ecosystem: e.ecosystem, Name: e.name, Version: e.version, Arch: e.arch, Distro: e.distro}, true
	}
	if !e.keepUnknown || e.name == "" || e.version == "" {
		return inventory.Component{}, false
	}
	name := e.name
	if e.group != "" {
		name = e.group + "/" + e.name
	}
	return inventory.Component{Name: name, Version: e.version}, true
}

// fixPURL rewrites purls older tools wrote into today's form: Syft before 0.45 wrote Alpine
// packages as "pkg:alpine/name@version" (type alpine, no namespace).
func fixPURL(s string) string {
	if rest, ok := strings.CutPrefix(s, "pkg:alpine/"); ok {
		return "pkg:apk/alpine/" + rest
	}
	return s
}

// readScalibrQualifiers reads the source package from osv-scalibr's purl qualifiers (source=,
// sourceversion= for dpkg; origin= for apk) when the purl has no Syft upstream=.
func readScalibrQualifiers(c *inventory.Component, s string) {
	if !c.Source.IsZero() || !c.Ecosystem.IsOS() ||
		!(strings.Contains(s, "source=") || strings.Contains(s, "origin=")) {
		return
	}
	p, err := packageurl.FromString(s)
	if err != nil {
		return
	}
	q := p.Qualifiers.Map()
	name := cmp.Or(q["source"], q["origin"])
	if name == "" {
		return
	}
	c.Source = inventory.Source{Name: name, Version: cmp.Or(q["sourceversion"], c.Version)}
}

// applySource sets the component's source package from the strongest evidence: our own
// properties, Trivy's, the purl's upstream= (already read), Syft's metadata, SPDX source info.
func applySource(c *inventory.Component, e *entry, ps propIndex) {
	if n := ps.first(propSourceName); n != "" {
		c.Source = inventory.Source{Name: n, Version: ps.first(propSourceVersion)}
		return
	}
	if n := ps.first(trivySrcName); n != "" {
		v := ps.first(trivySrcVersion)
		if r := ps.first(trivySrcRelease); r != "" && v != "" {
			v += "-" + r
		}
		if v != "" {
			v = inventory.JoinEpoch(ps.first(trivySrcEpoch), v)
		}
		c.Source = inventory.Source{Name: n, Version: v}
		return
	}
	if !c.Source.IsZero() {
		return
	}
	if n := cmp.Or(ps.first(syftSource), ps.first(syftOrigin)); n != "" {
		c.Source = inventory.Source{Name: n, Version: cmp.Or(ps.first(syftSourceVersion), c.Version)}
		return
	}
	if name, version, ok := parseSourceInfo(e.sourceInfo); ok && c.Ecosystem.IsOS() {
		c.Source = inventory.Source{Name: name, Version: version}
	}
}

// parseSourceInfo reads Trivy's SPDX "built package from: NAME VERSION".
func parseSourceInfo(s string) (name, version string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "built package from: ")
	if !ok {
		return "", "", false
	}
	name, version, _ = strings.Cut(strings.TrimSpace(rest), " ")
	return name, strings.TrimSpace(version), name != ""
}

// applyPlacement sets where the component was found: layer, locations and distro.
func applyPlacement(c *inventory.Component, e *entry, ps propIndex) {
	locs := syftLocations(e.props)
	c.Layer = cmp.Or(ps.first(propLayer), ps.first(trivyLayerDiffID), syftLayer(locs))
	add := func(p string) {
		if p = cleanLocation(p); p != "" {
			c.Locations = append(c.Locations, p)
		}
	}
	for _, p := range ps[propLocation] {
		add(p)
	}
	for _, p := range e.locations {
		add(p)
	}
	for _, p := range ps[trivyFilePath] {
		add(p)
	}
	for _, l := range locs {
		add(l.path)
	}
	if d := ps.first(propDistro); d != "" && c.Ecosystem.IsOS() {
		c.Distro = inventory.ParseDistroQualifier(d, c.Distro.ID)
	}
}

// finish settles the inventory distro and the OS components' distros, then finalises.
func (b *builder) finish() *inventory.Inventory {
	inv := &b.inv
	if b.osDistro != nil {
		inv.Distro = *b.osDistro
	} else {
		inv.Distro = commonDistro(inv.Components)
	}
	d := inv.Distro
	for i := range inv.Components {
		c := &inv.Components[i]
		if !c.Ecosystem.IsOS() || d.IsZero() {
			continue
		}
		switch {
		case c.Distro.VersionID == "" && c.Distro.Codename == "" && (c.Distro.ID == "" || c.Distro.ID == d.ID):
			c.Distro = d
		case c.Distro.ID == d.ID && c.Distro.VersionID == d.VersionID && (c.Distro.Codename == "" || c.Distro.Codename == d.Codename):
			c.Distro = d
		}
	}
	inv.Finalize()
	return inv
}

// commonDistro is the most common release among the OS components (ties: the smallest in
// string order, so the choice is deterministic).
func commonDistro(cs []inventory.Component) inventory.Distro {
	counts := map[inventory.Distro]int{}
	for i := range cs {
		d := cs[i].Distro
		if cs[i].Ecosystem.IsOS() && (d.VersionID != "" || d.Codename != "") {
			counts[d]++
		}
	}
	if len(counts) == 0 {
		return inventory.Distro{}
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b inventory.Distro) int {
		return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a.String(), b.String()),
			cmp.Compare(a.Codename, b.Codename), cmp.Compare(a.PrettyName, b.PrettyName))
	})
	return keys[0]
}

// distroFromOS builds a distro from an operating-system entry's name and version, as Trivy
// ("debian", "12.5"; "redhat", "8.9"; "opensuse.leap", "15.5") and Syft ("debian", "12") write them.
func distroFromOS(name, version string) inventory.Distro {
	id := strings.ToLower(strings.TrimSpace(name))
	switch id {
	case "opensuse.leap", "opensuse leap":
		id = "opensuse-leap"
	case "opensuse.tumbleweed":
		id = "opensuse-tumbleweed"
	case "suse linux enterprise server", "sles", "suse linux enterprise micro", "slem":
		id = "sles"
	case "amazon linux":
		id = "amzn"
	case "oracle linux":
		id = "ol"
	}
	id = strings.ReplaceAll(id, " ", "-")
	version = strings.TrimSpace(version)
	if id == "" {
		return inventory.Distro{}
	}
	if version == "" {
		return inventory.ParseDistroQualifier("", id)
	}
	if version[0] >= '0' && version[0] <= '9' {
		d := inventory.ParseDistroQualifier(id+"-"+version, id)
		if d.VersionID == version {
			return d
		}
	}
	d := inventory.ParseDistroQualifier("", id)
	d.Codename = version
	return d
}
