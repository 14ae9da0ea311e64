package trivydb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stellaops/stellaops/internal/concelier/jsontree"
)

// ExporterVersion stamps every export's metadata.
const ExporterVersion = "stellaops.concelier.trivydb/1"

// ExportMetadata is oci/metadata.json: the spec's export fields, as the JSON tree export has
// them, plus builder — the database's own metadata.json, which Trivy reads.
type ExportMetadata struct {
	jsontree.Metadata
	Builder json.RawMessage `json:"builder,omitempty"`
}

// baseline is an earlier full export a delta builds on.
type baseline struct {
	dir            string
	meta           ExportMetadata
	manifestDigest string // of its OCI manifest
}

// ReadMetadata reads the export metadata of the export in dir; an error says the export is
// missing or incomplete (oci/metadata.json is written last).
func ReadMetadata(dir string) (ExportMetadata, error) {
	var md ExportMetadata
	b, err := os.ReadFile(filepath.Join(dir, "oci", "metadata.json"))
	if err != nil {
		return md, err
	}
	if err := json.Unmarshal(b, &md); err != nil {
		return md, fmt.Errorf("%s: %w", filepath.Join(dir, "oci", "metadata.json"), err)
	}
	return md, nil
}

// plan fills the metadata of an export of tree and, for a delta, reads the baseline.
func plan(tree *jsontree.Tree, opts Options) (ExportMetadata, *baseline, error) {
	md := ExportMetadata{Metadata: jsontree.Metadata{Mode: "full", TreeDigest: tree.Digest, TreeBytes: tree.Bytes,
		ExporterVersion: ExporterVersion, CreatedAt: opts.UpdatedAt}}
	if opts.Baseline == "" {
		return md, nil, nil
	}
	bmd, err := ReadMetadata(opts.Baseline)
	if err != nil {
		return md, nil, fmt.Errorf("baseline: %w", err)
	}
	if bmd.Mode != "full" {
		return md, nil, fmt.Errorf("baseline %s is a %s export; a delta builds on a full one", opts.Baseline, bmd.Mode)
	}
	manifest, _, err := jsontree.ReadManifest(filepath.Join(opts.Baseline, "oci", "tree-manifest.json"))
	if err != nil {
		return md, nil, fmt.Errorf("baseline: %w", err)
	}
	if manifest.TreeDigest != bmd.TreeDigest {
		return md, nil, fmt.Errorf("baseline %s: tree manifest and metadata disagree on the treeDigest", opts.Baseline)
	}
	idx, err := readIndex(filepath.Join(opts.Baseline, "oci"))
	if err != nil {
		return md, nil, fmt.Errorf("baseline: %w", err)
	}
	p := jsontree.PlanDelta(manifest, tree, opts.ResetRatio)
	md.Mode, md.ResetBaseline, md.Delta = p.Mode, p.ResetBaseline, p.Delta
	if p.Mode != "delta" {
		return md, nil, nil // rotated: a new full export, built from scratch
	}
	md.BaseExportID, md.BaseManifestDigest = bmd.ExportID, idx
	return md, &baseline{dir: opts.Baseline, meta: bmd, manifestDigest: idx}, nil
}

// readIndex returns the digest of the single manifest an export's OCI layout holds.
func readIndex(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return "", fmt.Errorf("%s: %w", filepath.Join(dir, "index.json"), err)
	}
	if len(idx.Manifests) != 1 {
		return "", fmt.Errorf("%s: want one manifest, found %d", filepath.Join(dir, "index.json"), len(idx.Manifests))
	}
	return idx.Manifests[0].Digest.String(), nil
}

// exportID names an export by its OCI manifest, which covers the database and the build time:
// deterministic for the same input, distinct for two builds.
func exportID(manifestDigest string) string {
	return "trivydb-" + strings.TrimPrefix(manifestDigest, "sha256:")[:16]
}

// writeOwn writes oci/tree-manifest.json and then oci/metadata.json, the completion marker.
func writeOwn(outDir string, tree *jsontree.Tree, md ExportMetadata) ([]File, error) {
	var files []File
	m := tree.Manifest("tree-")
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mdb, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"oci/tree-manifest.json", mb}, {"oci/metadata.json", append(mdb, '\n')}} {
		if err := os.WriteFile(filepath.Join(outDir, filepath.FromSlash(f.name)), f.b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, File{Path: f.name, Size: int64(len(f.b)), Digest: digest(f.b)})
	}
	return files, nil
}

// copyBlob copies the blob at src to dst if it exists and hashes to want; false when it is
// missing or differs (then nothing is written).
func copyBlob(src, dst, want string) (bool, error) {
	b, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if digest(b) != want {
		return false, nil
	}
	return true, copyFile(src, dst)
}

// copyFile copies src to dst through a temporary file, so a failure leaves no partial dst. A
// hard link would be cheaper, but a later export rewriting the baseline in place (same --output)
// would then change this one too.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".copy-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(tmp, in)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}
