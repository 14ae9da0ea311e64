package rpm

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/stellaops/stellaops/internal/analyzer"
	"github.com/stellaops/stellaops/internal/inventory"
)

// maxReported caps how many skipped packages an error names; the count is always complete.
const maxReported = 5

// modeTypeMask and modeDir are the file-type bits of an rpm file mode (st_mode).
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
)

// convert turns go-rpmdb packages into components and owned files. gpg-pubkey entries (the
// imported signing keys rpm stores as pseudo-packages) are skipped; a package without a name or
// version, or whose file list is inconsistent, is reported in the error while the rest is kept.
func convert(ctx context.Context, pkgs []*rpmdb.PackageInfo, loc string) (*analyzer.Result, error) {
	res := &analyzer.Result{}
	var skipped []string
	nSkipped := 0
	skip := func(why string) {
		nSkipped++
		if len(skipped) < maxReported {
			skipped = append(skipped, why)
		}
	}
	for i, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if p.Name == "gpg-pubkey" {
			continue
		}
		if p.Name == "" || p.Version == "" {
			skip(fmt.Sprintf("header %d: no name or version", i))
			continue
		}
		res.Components = append(res.Components, component(p, loc))
		files, err := ownedFiles(p)
		if err != nil {
			skip(fmt.Sprintf("%s: file list: %v", p.Name, err))
		}
		res.OwnedFiles = append(res.OwnedFiles, files...)
	}
	if nSkipped == 0 {
		return res, nil
	}
	more := ""
	if nSkipped > len(skipped) {
		more = fmt.Sprintf("; and %d more", nSkipped-len(skipped))
	}
	return res, fmt.Errorf("%s: %d package headers incomplete: %s%s", loc, nSkipped, strings.Join(skipped, "; "), more)
}

// component builds the rpm component for one package: version "[epoch:]version-release" (no
// epoch recorded and epoch 0 are both written without one, as rpm compares them equal).
func component(p *rpmdb.PackageInfo, loc string) inventory.Component {
	vr := p.Version
	if p.Release != "" {
		vr += "-" + p.Release
	}
	epoch := ""
	if p.Epoch != nil {
		epoch = strconv.Itoa(*p.Epoch)
	}
	c := inventory.Component{
		Ecosystem: inventory.EcosystemRPM,
		Name:      p.Name,
		Version:   inventory.JoinEpoch(epoch, vr),
		Arch:      p.Arch,
		Module:    p.Modularitylabel,
		Locations: []string{loc},
	}
	if p.SourceRpm != "" {
		c.Source = inventory.ParseSourceRPM(p.SourceRpm, c.Version)
	}
	if p.License != "" {
		c.Licenses = []string{p.License}
	}
	return c
}

// ownedFiles lists the package's files, not its directories, relative and without leading slash.
func ownedFiles(p *rpmdb.PackageInfo) ([]string, error) {
	// go-rpmdb v0.1.1 indexes DirNames with each DirIndexes value unchecked for sign.
	if len(p.DirIndexes) != len(p.BaseNames) {
		return nil, fmt.Errorf("%d base names but %d directory indexes", len(p.BaseNames), len(p.DirIndexes))
	}
	for _, d := range p.DirIndexes {
		if d < 0 || int(d) >= len(p.DirNames) {
			return nil, fmt.Errorf("directory index %d out of %d directories", d, len(p.DirNames))
		}
	}
	names, err := p.InstalledFileNames()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(names))
	for i, n := range names {
		if i < len(p.FileModes) && p.FileModes[i]&modeTypeMask == modeDir {
			continue
		}
		n = strings.TrimLeft(n, "/")
		if n == "" || n == "." || n == ".." || strings.HasPrefix(n, "../") {
			continue // only a damaged header names such paths
		}
		out = append(out, n)
	}
	return out, nil
}
