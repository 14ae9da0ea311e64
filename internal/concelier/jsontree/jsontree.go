// Package jsontree exports canonical advisories as a vuln-list-like JSON tree: one RFC 8785 JSON
// file per advisory under a path derived from its ID, a manifest of every file with its length and
// digest, a deterministic tar.gz of the tree, and metadata.json in the shape the spec gives for
// exports (mode, baseline, treeDigest, treeBytes, advisoryCount, delta changes). The same advisories
// always give the same bytes and the same treeDigest: files are sorted, the archive has fixed
// timestamps and owners, and the gzip header has no mtime.
//
// A delta export compares the new tree with a baseline's manifest: metadata lists the changed and
// removed paths, and the delta archive holds only the changed files.
package jsontree

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/canonjson"
)

// ExporterVersion stamps every export's metadata.
const ExporterVersion = "stellaops.concelier.jsontree/1"

// File is one file of the tree, as the manifest and delta lists record it.
type File struct {
	Path   string `json:"path"`
	Length int64  `json:"length"`
	Digest string `json:"digest"`
}

// Manifest lists every file of a tree, sorted by path.
type Manifest struct {
	ExportID   string `json:"exportId"`
	TreeDigest string `json:"treeDigest"`
	Files      []File `json:"files"`
}

// Delta is what changed against the baseline.
type Delta struct {
	ChangedFiles []File   `json:"changedFiles"`
	RemovedPaths []string `json:"removedPaths"`
}

// Metadata is metadata.json, with the spec's export fields.
type Metadata struct {
	ExportID           string    `json:"exportId"`
	Mode               string    `json:"mode"` // full | delta
	BaseExportID       string    `json:"baseExportId,omitempty"`
	BaseManifestDigest string    `json:"baseManifestDigest,omitempty"`
	ResetBaseline      bool      `json:"resetBaseline"`
	TreeDigest         string    `json:"treeDigest"`
	TreeBytes          int64     `json:"treeBytes"`
	AdvisoryCount      int       `json:"advisoryCount"`
	ExporterVersion    string    `json:"exporterVersion"`
	CreatedAt          time.Time `json:"createdAt"`
	Delta              *Delta    `json:"delta,omitempty"`
}

// Options control an export.
type Options struct {
	// Now is the export time (metadata only: it never changes the tree or its digest).
	Now time.Time
	// Baseline is the directory of an earlier full export. With it the export is a delta,
	// unless the tree changed so much that ResetRatio says to start a new baseline.
	Baseline string
	// ResetRatio: a delta that changes or removes more than this share of the baseline's files
	// becomes a full export with resetBaseline set. 0 means 0.5.
	ResetRatio float64
}

// Result says what was written.
type Result struct {
	Metadata       Metadata
	ManifestDigest string // sha256 of manifest.json
	ArchiveDigest  string // sha256 of the archive written
}

// Export writes the tree of advs into outDir (which must not exist or be empty):
//
//	outDir/tree/<path>.json   one canonical JSON file per advisory
//	outDir/manifest.json      every file with length and digest, and the treeDigest
//	outDir/tree.tar.gz        the tree (full) or the changed files (delta), deterministic
//	outDir/metadata.json      the export's metadata
func Export(ctx context.Context, advs []*advisory.Advisory, outDir string, opts Options) (*Result, error) {
	if err := emptyDir(outDir); err != nil {
		return nil, err
	}
	t, err := Build(ctx, advs)
	if err != nil {
		return nil, err
	}
	m := t.Manifest("jsontree-")
	md := Metadata{ExportID: m.ExportID, Mode: "full", TreeDigest: t.Digest, TreeBytes: t.Bytes, AdvisoryCount: len(t.Files),
		ExporterVersion: ExporterVersion, CreatedAt: opts.Now.UTC()}
	files, blobs := t.Files, t.blobs
	archived := files
	if opts.Baseline != "" {
		base, baseDigest, err := ReadManifest(filepath.Join(opts.Baseline, "manifest.json"))
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		p := PlanDelta(base, t, opts.ResetRatio)
		md.Mode, md.ResetBaseline, md.Delta = p.Mode, p.ResetBaseline, p.Delta
		if p.Mode == "delta" {
			md.BaseExportID, md.BaseManifestDigest = base.ExportID, baseDigest
			archived = p.Delta.ChangedFiles
		}
	}
	if err := writeTree(ctx, filepath.Join(outDir, "tree"), files, blobs); err != nil {
		return nil, err
	}
	res := &Result{Metadata: md}
	mb, err := canonjson.Marshal(m)
	if err != nil {
		return nil, err
	}
	res.ManifestDigest = digest(mb)
	if err := os.WriteFile(filepath.Join(outDir, "manifest.json"), mb, 0o644); err != nil {
		return nil, err
	}
	arc, err := archive(archived, blobs)
	if err != nil {
		return nil, err
	}
	res.ArchiveDigest = digest(arc)
	if err := os.WriteFile(filepath.Join(outDir, "tree.tar.gz"), arc, 0o644); err != nil {
		return nil, err
	}
	mdb, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, err
	}
	// metadata.json last: its presence marks a complete export.
	if err := os.WriteFile(filepath.Join(outDir, "metadata.json"), append(mdb, '\n'), 0o644); err != nil {
		return nil, err
	}
	return res, nil
}

// writeTree writes the files under dir. Creating a file costs far more than writing its few KB
// (a journalled metadata update), so directories are made once each and files are written by
// several goroutines.
func writeTree(ctx context.Context, dir string, files []File, blobs map[string][]byte) error {
	made := map[string]bool{}
	for _, f := range files {
		d := path.Dir(f.Path)
		if !made[d] {
			if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(d)), 0o755); err != nil {
				return err
			}
			made[d] = true
		}
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, f := range files {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, filepath.FromSlash(f.Path)), blobs[f.Path], 0o644)
		})
	}
	return g.Wait()
}

// FilePath is where an advisory's file goes: advisories/<scheme>/<bucket>/<ID>.json, the scheme
// being the ID's prefix (cve, ghsa, go, pysec, rustsec, alsa …) and the bucket its year when the
// ID carries one, else its first characters, so that no directory grows past a few thousand files.
func FilePath(id string) string {
	scheme, rest, ok := strings.Cut(id, "-")
	if !ok {
		scheme, rest = "other", id
	}
	scheme = strings.ToLower(scheme)
	bucket := ""
	if len(rest) >= 4 && isDigits(rest[:4]) && (len(rest) == 4 || !isDigit(rest[4])) {
		bucket = rest[:4]
	} else {
		bucket = strings.ToLower(rest[:min(2, len(rest))])
	}
	return path.Join("advisories", safe(scheme), safe(bucket), safe(id)+".json")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// safe keeps a path element to letters, digits, '.', '_' and '-'; anything else (':' in ALSA
// IDs, '/' in none we know of but possible in a feed) becomes '_'. An element of dots only would
// climb the tree and is prefixed.
func safe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if strings.Trim(string(b), ".") == "" {
		return "_" + string(b)
	}
	return string(b)
}

// Tree is a set of advisories rendered as files: canonical JSON, one file each, sorted by path.
type Tree struct {
	Files  []File
	Digest string // treeDigest
	Bytes  int64  // treeBytes: the files' total length
	blobs  map[string][]byte
}

// Blob is the content of the file at p.
func (t *Tree) Blob(p string) []byte { return t.blobs[p] }

// Manifest lists the tree's files; its export ID is prefix and the start of the tree digest, so
// two exports of the same data agree on it.
func (t *Tree) Manifest(prefix string) Manifest {
	return Manifest{ExportID: prefix + strings.TrimPrefix(t.Digest, "sha256:")[:16], TreeDigest: t.Digest, Files: t.Files}
}

// Build renders every advisory to canonical JSON, one file each, sorted by path.
func Build(ctx context.Context, advs []*advisory.Advisory) (*Tree, error) {
	t := &Tree{blobs: make(map[string][]byte, len(advs)), Files: make([]File, 0, len(advs))}
	for i, a := range advs {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		p := FilePath(a.ID)
		if _, dup := t.blobs[p]; dup {
			return nil, fmt.Errorf("two advisories map to %s (IDs must be unique)", p)
		}
		b, err := canonjson.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("advisory %s: %w", a.ID, err)
		}
		t.blobs[p] = b
		t.Files = append(t.Files, File{Path: p, Length: int64(len(b)), Digest: digest(b)})
		t.Bytes += int64(len(b))
	}
	slices.SortFunc(t.Files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	t.Digest = treeDigest(t.Files)
	return t, nil
}

// Plan is what an export against a baseline will be.
type Plan struct {
	Mode          string // "delta", or "full" when the baseline was rotated
	ResetBaseline bool
	Delta         *Delta // set for a delta
}

// PlanDelta compares t with the baseline's manifest. A delta that changes or removes more than
// ratio of the baseline's files (0 means 0.5), or a baseline with no files, rotates the baseline:
// the export is full with resetBaseline set, so consumers know to refresh everything.
func PlanDelta(base Manifest, t *Tree, ratio float64) Plan {
	d := Diff(base.Files, t.Files)
	if ratio <= 0 {
		ratio = 0.5
	}
	if len(base.Files) > 0 && float64(len(d.ChangedFiles)+len(d.RemovedPaths)) <= ratio*float64(len(base.Files)) {
		return Plan{Mode: "delta", Delta: &d}
	}
	return Plan{Mode: "full", ResetBaseline: true}
}

// treeDigest is sha256 over "<path> <digest> <length>\n" for every file in path order: the tree's
// identity, whatever the archive or the file system looks like.
func treeDigest(files []File) string {
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s %s %d\n", f.Path, f.Digest, f.Length)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Diff lists files that are new or changed in cur, and paths gone from it.
func Diff(base, cur []File) Delta {
	old := make(map[string]string, len(base))
	for _, f := range base {
		old[f.Path] = f.Digest
	}
	d := Delta{ChangedFiles: []File{}, RemovedPaths: []string{}}
	seen := make(map[string]bool, len(cur))
	for _, f := range cur {
		seen[f.Path] = true
		if old[f.Path] != f.Digest {
			d.ChangedFiles = append(d.ChangedFiles, f)
		}
	}
	for _, f := range base {
		if !seen[f.Path] {
			d.RemovedPaths = append(d.RemovedPaths, f.Path)
		}
	}
	return d
}

// archive packs files (sorted) as a tar.gz with fixed times, owners and modes.
func archive(files []File, blobs map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	// klauspost's writer stores ModTime.Unix() as is, so the zero time.Time would come out as a
	// date in 2042: set the Unix epoch, which gzip readers take as "no mtime".
	zw.ModTime = time.Unix(0, 0)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	all := make([]string, 0, len(dirs))
	for d := range dirs {
		all = append(all, d)
	}
	slices.Sort(all)
	epoch := time.Unix(0, 0).UTC()
	for _, d := range all {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		b := blobs[f.Path]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.Path, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadManifest reads a manifest and checks its file list against its treeDigest; it returns the
// manifest and the digest of its bytes.
func ReadManifest(p string) (Manifest, string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return Manifest{}, "", err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, "", fmt.Errorf("%s: %w", p, err)
	}
	if !slices.IsSortedFunc(m.Files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) }) || treeDigest(m.Files) != m.TreeDigest {
		return Manifest{}, "", fmt.Errorf("%s: the file list does not match its treeDigest", p)
	}
	return m, digest(b), nil
}

// emptyDir creates dir, or accepts it if it exists and is empty: an export never mixes with
// another's files.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return fmt.Errorf("export directory %s is not empty", dir)
	}
	return nil
}
