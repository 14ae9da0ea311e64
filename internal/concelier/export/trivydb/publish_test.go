package trivydb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPush pushes a full export and then a delta to go-containerregistry's in-process registry
// and reads both back as a registry client (Trivy's, crane) would.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/stellaops/trivy-db:2"

	advs := subset(t, 200)
	fullDir, deltaDir := t.TempDir(), t.TempDir()
	full := exportAt(t, advs, fullDir, "", testOpts.UpdatedAt)
	got, err := Push(context.Background(), fullDir, ref, PushOptions{PlainHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	if got != full.ManifestDigest {
		t.Errorf("pushed %s, export manifest %s", got, full.ManifestDigest)
	}
	checkRemote(t, ref, full.ManifestDigest, filepath.Join(fullDir, "db.tar.gz"))

	delta := exportAt(t, advs, deltaDir, fullDir, testOpts.UpdatedAt.Add(time.Hour))
	if _, err := Push(context.Background(), deltaDir, ref, PushOptions{PlainHTTP: true}); err != nil {
		t.Fatal(err)
	}
	checkRemote(t, ref, delta.ManifestDigest, filepath.Join(deltaDir, "db.tar.gz"))

	if _, err := Push(context.Background(), fullDir, host+"/stellaops/trivy-db", PushOptions{PlainHTTP: true}); err == nil ||
		!strings.Contains(err.Error(), "names no tag") {
		t.Errorf("push without a tag: %v", err)
	}
	if _, err := Push(context.Background(), t.TempDir(), ref, PushOptions{PlainHTTP: true}); err == nil {
		t.Error("push of an empty directory: no error")
	}
}

func checkRemote(t *testing.T, ref, wantDigest, tgzPath string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if d.String() != wantDigest {
		t.Errorf("registry serves %s for the tag, want %s", d, wantDigest)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %d, %v", len(layers), err)
	}
	mt, _ := layers[0].MediaType()
	if string(mt) != mediaTypeLayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	want, _ := os.ReadFile(tgzPath)
	if !bytes.Equal(b, want) {
		t.Error("the pushed layer is not the export's db.tar.gz")
	}
}

// TestBundle unpacks a full and a delta offline bundle: the full one is a complete OCI layout,
// the delta one leaves out what its baseline already holds.
func TestBundle(t *testing.T) {
	advs := subset(t, 200)
	fullDir, deltaDir := t.TempDir(), t.TempDir()
	full := exportAt(t, advs, fullDir, "", testOpts.UpdatedAt)
	f, err := Bundle(context.Background(), fullDir, full)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(fullDir, BundleName))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	side, _ := os.ReadFile(filepath.Join(fullDir, BundleName+".sha256"))
	if string(side) != hex.EncodeToString(sum[:])+"  "+BundleName+"\n" || f.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("sidecar %q, File %+v", side, f)
	}
	unpacked := untar(t, b)
	idx, err := layout.ImageIndexFromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if im.Manifests[0].Digest.String() != full.ManifestDigest {
		t.Errorf("bundle manifest %s, export %s", im.Manifests[0].Digest, full.ManifestDigest)
	}
	layers, _ := img.Layers()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(rc)
	rc.Close()
	tgz, _ := os.ReadFile(filepath.Join(fullDir, "db.tar.gz"))
	if !bytes.Equal(lb, tgz) {
		t.Error("bundle layer is not db.tar.gz")
	}
	var md ExportMetadata
	if mb, err := os.ReadFile(filepath.Join(unpacked, "metadata.json")); err != nil || json.Unmarshal(mb, &md) != nil || md.ExportID != full.Metadata.ExportID {
		t.Errorf("bundle metadata.json: %+v, %v", md, err)
	}

	// Same export, same bundle bytes.
	if _, err := Bundle(context.Background(), fullDir, full); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(filepath.Join(fullDir, BundleName))
	if !bytes.Equal(again, b) {
		t.Error("bundling the same export twice gave different bytes")
	}

	// A delta of unchanged data: only the manifest blob is new.
	delta := exportAt(t, advs, deltaDir, fullDir, testOpts.UpdatedAt.Add(time.Hour))
	if _, err := Bundle(context.Background(), deltaDir, delta); err != nil {
		t.Fatal(err)
	}
	db, _ := os.ReadFile(filepath.Join(deltaDir, BundleName))
	var blobs []string
	entries, _ := os.ReadDir(filepath.Join(untar(t, db), "blobs", "sha256"))
	for _, e := range entries {
		blobs = append(blobs, "sha256:"+e.Name())
	}
	if !slices.Equal(blobs, []string{delta.ManifestDigest}) {
		t.Errorf("delta bundle blobs %v, want only the manifest %s", blobs, delta.ManifestDigest)
	}
}

// untar unpacks a tar.gz into a new directory and returns it.
func untar(t *testing.T, tgz []byte) string {
	t.Helper()
	dir := t.TempDir()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
