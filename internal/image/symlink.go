package image

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Errors returned when resolving a path through symlinks in a virtual tree. Escapes, cycles and
// over-long chains are hostile; a dangling link is merely not there.
var (
	ErrSymlinkEscape = fmt.Errorf("%w: symlink points outside the root", ErrHostile)
	ErrSymlinkCycle  = fmt.Errorf("%w: symlink cycle", ErrHostile)
	ErrSymlinkDepth  = fmt.Errorf("%w: too many levels of symlinks", ErrHostile)
)

// Node is what a virtual tree holds at one path.
type Node struct {
	Symlink bool
	Target  string // symlink target as written
}

// Lookup returns the node at a root-relative path, or ok=false when nothing is there.
type Lookup func(p string) (n Node, ok bool)

// Resolve follows symlinks in every component of the root-relative path p, inside a tree known
// only through lookup, and returns the root-relative path it names. It never touches the host
// filesystem. A climb above the root gives ErrSymlinkEscape (Linux would clamp it; an image that
// relies on that is refused), a loop ErrSymlinkCycle, more than maxDepth links ErrSymlinkDepth,
// and a missing component an error wrapping fs.ErrNotExist.
func Resolve(p string, lookup Lookup, maxDepth int) (string, error) {
	remaining := splitPath(p)
	var resolved []string // resolved[i] is the resolved path of the first i+1 components
	links := 0
	var seen map[string]bool // cycle detection, needed only once a path follows many links
	for len(remaining) > 0 {
		seg := remaining[0]
		remaining = remaining[1:]
		switch seg {
		case "", ".":
			continue
		case "..":
			if len(resolved) == 0 {
				return "", fmt.Errorf("resolve %q: %w", p, ErrSymlinkEscape)
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		cur := seg
		if len(resolved) > 0 {
			cur = resolved[len(resolved)-1] + "/" + seg
		}
		n, ok := lookup(cur)
		if !ok {
			return "", fmt.Errorf("resolve %q: %s: %w", p, cur, fs.ErrNotExist)
		}
		if !n.Symlink {
			resolved = append(resolved, cur) // each element is the full path so far
			continue
		}
		links++
		if links > 8 {
			if seen == nil {
				seen = map[string]bool{}
			}
			key := fmt.Sprintf("%s\x00%d", cur, len(remaining))
			if seen[key] {
				return "", fmt.Errorf("resolve %q: %s -> %s: %w", p, cur, n.Target, ErrSymlinkCycle)
			}
			seen[key] = true
		}
		if links > maxDepth {
			return "", fmt.Errorf("resolve %q: more than %d links: %w", p, maxDepth, ErrSymlinkDepth)
		}
		if strings.HasPrefix(n.Target, "/") {
			resolved = resolved[:0]
		}
		remaining = append(splitPath(n.Target), remaining...)
	}
	if len(resolved) == 0 {
		return "", nil
	}
	return resolved[len(resolved)-1], nil
}

func splitPath(p string) []string {
	return strings.FieldsFunc(p, func(r rune) bool { return r == '/' })
}

// Tree is an in-memory view of a filesystem's names: files, directories and symlinks, with
// directories implied by the paths below them (layers often omit parent entries).
type Tree struct {
	nodes map[string]Node
}

// NewTree returns an empty tree.
func NewTree() *Tree { return &Tree{nodes: map[string]Node{}} }

// Add records n at the root-relative path p and its parents as directories.
func (t *Tree) Add(p string, n Node) {
	t.nodes[p] = n
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := t.nodes[dir]; ok {
			break
		}
		t.nodes[dir] = Node{}
	}
}

// Remove deletes p and everything below it.
func (t *Tree) Remove(p string) {
	delete(t.nodes, p)
	prefix := p + "/"
	for k := range t.nodes {
		if strings.HasPrefix(k, prefix) {
			delete(t.nodes, k)
		}
	}
}

// Lookup implements the Lookup function type.
func (t *Tree) Lookup(p string) (Node, bool) {
	n, ok := t.nodes[p]
	return n, ok
}

// Symlinks returns every symlink path in the tree, sorted.
func (t *Tree) Symlinks() []string {
	var out []string
	for p, n := range t.nodes {
		if n.Symlink {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}
