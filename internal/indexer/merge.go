package indexer

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/stellaops/stellaops/internal/analyzer/osrelease"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/inventory"
)

// pathState is what the stacked filesystem holds at one analysed path.
type pathState struct {
	results []FileResult
	// intro and seen map a component key to the layer that introduced it and to every layer
	// whose copy of this path still held it.
	intro map[string]int
	seen  map[string][]int
}

// overlay stacks layer results base first, applying whiteouts and opaque directories, the way a
// container runtime stacks the layers themselves.
type overlay struct {
	paths map[string]*pathState
	tree  *image.Tree
}

func newOverlay() *overlay {
	return &overlay{paths: map[string]*pathState{}, tree: image.NewTree()}
}

func (o *overlay) removeUnder(prefix string, self bool) {
	if self {
		delete(o.paths, prefix)
	}
	pre := prefix + "/"
	for p := range o.paths {
		if strings.HasPrefix(p, pre) {
			delete(o.paths, p)
		}
	}
}

// apply stacks layer index i.
func (o *overlay) apply(i int, lr *LayerResult) {
	for _, w := range lr.Whiteouts {
		o.removeUnder(w, true)
		o.tree.Remove(w)
	}
	for _, d := range lr.Opaque {
		o.removeUnder(d, false)
		o.tree.Remove(d)
		o.tree.Add(d, image.Node{})
	}
	for _, p := range lr.Empty {
		delete(o.paths, p)
		o.tree.Add(p, image.Node{})
	}
	for _, s := range lr.Symlinks {
		delete(o.paths, s.Path)
		o.tree.Add(s.Path, image.Node{Symlink: true, Target: s.Target})
	}
	for j := 0; j < len(lr.Files); {
		// Files are sorted by path: gather this path's results from every analyzer.
		k := j
		for k < len(lr.Files) && lr.Files[k].Path == lr.Files[j].Path {
			k++
		}
		p := lr.Files[j].Path
		prev := o.paths[p]
		st := &pathState{results: lr.Files[j:k], intro: map[string]int{}, seen: map[string][]int{}}
		for _, f := range st.results {
			for ci := range f.Components {
				key := f.Components[ci].Key()
				if prev != nil {
					if in, ok := prev.intro[key]; ok {
						st.intro[key], st.seen[key] = in, slices.Clone(prev.seen[key])
					}
				}
				if _, ok := st.intro[key]; !ok {
					st.intro[key] = i
				}
				if s := st.seen[key]; len(s) == 0 || s[len(s)-1] != i {
					st.seen[key] = append(st.seen[key], i)
				}
			}
		}
		o.paths[p] = st
		o.tree.Add(p, image.Node{})
		j = k
	}
}

// validateSymlinks resolves every symlink left in the stacked tree and refuses the image if one
// escapes the root, loops or chains too deeply. Unknown intermediate names count as directories,
// so an escape hidden behind directories we did not record is still caught.
func (o *overlay) validateSymlinks(maxDepth int) error {
	lookup := func(p string) (image.Node, bool) {
		n, ok := o.tree.Lookup(p)
		if !ok {
			return image.Node{}, true
		}
		return n, true
	}
	// Links cluster in a few directories (lib/x86_64-linux-gnu, etc/alternatives): resolve each
	// directory once, then each link's target from there, which is what resolving the link's own
	// path does. With unknown names taken as directories, resolution fails only on hostile links.
	dirs := map[string]string{".": ""}
	for _, p := range o.tree.Symlinks() {
		dir := path.Dir(p)
		base, ok := dirs[dir]
		if !ok {
			var err error
			if base, err = image.Resolve(dir, lookup, maxDepth); err != nil {
				return fmt.Errorf("symlink %s: %w", p, err)
			}
			dirs[dir] = base
		}
		n, _ := o.tree.Lookup(p)
		target := n.Target
		if !strings.HasPrefix(target, "/") {
			target = base + "/" + target // relative to the resolved directory ("/…" from the root)
		}
		if _, err := image.Resolve(target, lookup, maxDepth-1); err != nil {
			return fmt.Errorf("symlink %s -> %s: %w", p, n.Target, err)
		}
	}
	return nil
}

// inventory turns the stacked state into components: OS packages get the image's distro, every
// component gets the layer that introduced it, and language packages living in files an OS
// package installed are dropped (the OS package accounts for them).
func (o *overlay) inventory(layers []inventory.Layer) (comps []inventory.Component, distro inventory.Distro, presence map[string][]int) {
	releases := map[string]inventory.Distro{}
	var owned []PathList
	for p, st := range o.paths {
		for _, f := range st.results {
			if f.Distro != nil {
				releases[p] = *f.Distro
			}
			if len(f.OwnedFiles) > 0 {
				owned = append(owned, f.OwnedFiles)
			}
		}
	}
	distro = osrelease.Resolve(releases)
	presence = map[string][]int{}
	for _, st := range o.paths {
		for _, f := range st.results {
			for _, c := range f.Components {
				if !c.Ecosystem.IsOS() && ownedByOS(c.Locations, owned) {
					continue
				}
				key := c.Key()
				if c.Ecosystem.IsOS() && c.Distro.IsZero() {
					c.Distro = distro
				}
				if in, ok := st.intro[key]; ok && in < len(layers) {
					c.Layer = layers[in].DiffID
				}
				k := c.Key()
				presence[k] = mergeSorted(presence[k], st.seen[key])
				comps = append(comps, c)
			}
		}
	}
	return comps, distro, presence
}

// ownedByOS reports whether every location is a file some OS package database lists. Only
// language components are checked, and there are few, so the sorted lists are searched rather
// than merged into one large set.
func ownedByOS(locs []string, owned []PathList) bool {
	if len(owned) == 0 || len(locs) == 0 {
		return false
	}
	for _, l := range locs {
		// A nested artifact ("app.jar!/BOOT-INF/lib/x.jar") belongs to its outer file.
		if i := strings.Index(l, "!/"); i > 0 {
			l = l[:i]
		}
		if !slices.ContainsFunc(owned, func(pl PathList) bool { return pl.Contains(l) }) {
			return false
		}
	}
	return true
}

func mergeSorted(a, b []int) []int {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
