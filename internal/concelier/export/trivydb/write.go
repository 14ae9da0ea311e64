package trivydb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bolt "go.etcd.io/bbolt"
)

// Media types of trivy-db's OCI artifact (ghcr.io/aquasecurity/trivy-db:2).
const (
	mediaTypeConfig = "application/vnd.aquasec.trivy.config.v1+json"
	mediaTypeLayer  = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	// annotationTitle names the layer's file; Trivy's OCI client refuses a layer without it.
	annotationTitle = "org.opencontainers.image.title"
)

// pageSize is fixed rather than taken from the OS so the file's bytes do not depend on the
// machine that built it.
const pageSize = 4096

// write stores db as a bbolt file at path, every bucket filled in key order with FillPercent 1:
// appending sorted keys into full pages gives about the layout `bbolt compact` would.
//
// Byte-identical output needs care: bbolt writes no clock into pages, but at commit it spills a
// bucket's dirty child buckets in Go map order, so with two or more child buckets big enough to
// need their own pages in one transaction, their page numbers vary from run to run. The advisory
// buckets are therefore written in transactions that each hold at most one such package bucket
// (inline ones are copied into the parent's page and allocate nothing), and each top-level bucket
// starts a transaction of its own. Syncing is left to the end: a half-written temporary file is
// discarded anyway.
func (db *database) write(ctx context.Context, path string) error {
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	bdb, err := bolt.Open(tmp, 0o644, &bolt.Options{PageSize: pageSize, Timeout: 5 * time.Second, NoSync: true, NoGrowSync: true})
	if err != nil {
		return err
	}
	err = db.fill(ctx, bdb)
	if err == nil {
		err = bdb.Sync()
	}
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func (db *database) fill(ctx context.Context, bdb *bolt.DB) error {
	top := map[string]func(*bolt.Bucket) error{
		bucketVulnerability: db.fillVulnerabilities,
		bucketDataSource:    db.fillDataSources,
	}
	for name := range db.advisories {
		if _, clash := top[name]; clash {
			return fmt.Errorf("advisory bucket %q clashes with a fixed bucket", name)
		}
		top[name] = nil
	}
	for _, name := range sortedKeys(top) {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		if f := top[name]; f != nil {
			err = bdb.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte(name))
				if err != nil {
					return err
				}
				b.FillPercent = 1
				return f(b)
			})
		} else {
			err = fillAdvisories(ctx, bdb, name, db.advisories[name])
		}
		if err != nil {
			return fmt.Errorf("bucket %q: %w", name, err)
		}
	}
	return nil
}

// inlineMax bounds the encoded size of a package bucket that bbolt surely stores inline in its
// parent's page (bbolt inlines up to a quarter page; the margin covers its element headers).
const inlineMax = pageSize/4 - 256

func fillAdvisories(ctx context.Context, bdb *bolt.DB, name string, pkgs map[string]map[string]*dbtypes.Advisory) error {
	tx, err := bdb.Begin(true)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // after Commit this only reports ErrTxClosed
	top, err := tx.CreateBucket([]byte(name))
	if err != nil {
		return err
	}
	for _, pkg := range sortedKeys(pkgs) {
		if err := ctx.Err(); err != nil {
			return err
		}
		top.FillPercent = 1
		pb, err := top.CreateBucket([]byte(pkg))
		if err != nil {
			return fmt.Errorf("package %q: %w", pkg, err)
		}
		pb.FillPercent = 1
		vs := pkgs[pkg]
		size := 0
		for _, id := range sortedKeys(vs) {
			val, err := json.Marshal(vs[id]) // *Advisory: its MarshalJSON writes Status as an int
			if err != nil {
				return fmt.Errorf("%s/%s: %w", pkg, id, err)
			}
			if err := pb.Put([]byte(id), val); err != nil {
				return fmt.Errorf("%s/%s: %w", pkg, id, err)
			}
			size += len(id) + len(val) + 16
		}
		if size <= inlineMax {
			continue
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if tx, err = bdb.Begin(true); err != nil {
			return err
		}
		top = tx.Bucket([]byte(name))
	}
	return tx.Commit()
}

func (db *database) fillVulnerabilities(b *bolt.Bucket) error {
	for _, id := range sortedKeys(db.vulns) {
		val, err := json.Marshal(db.vulns[id]) // maps marshal with sorted keys
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if err := b.Put([]byte(id), val); err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
	}
	return nil
}

func (db *database) fillDataSources(b *bolt.Bucket) error {
	for _, name := range sortedKeys(db.sources) {
		val, err := json.Marshal(db.sources[name])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := b.Put([]byte(name), val); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// writeArtifacts writes db.tar.gz from trivy.db and metadata.json in outDir (or, with pack
// false, takes the one already there), then the OCI layout oci/ holding it, and describes every
// file written. Blobs the baseline's layout already holds are copied from it; their digests are
// returned as reused.
func writeArtifacts(ctx context.Context, outDir string, base *baseline, pack bool, opts Options) (files []File, manifest string, reused []string, err error) {
	for _, name := range []string{"trivy.db", "metadata.json"} {
		f, err := describe(outDir, name)
		if err != nil {
			return nil, "", nil, err
		}
		files = append(files, f)
	}
	var tgz []byte
	if pack {
		if tgz, err = archive(ctx, outDir, []string{"metadata.json", "trivy.db"}); err != nil {
			return nil, "", nil, fmt.Errorf("db.tar.gz: %w", err)
		}
		if err := os.WriteFile(filepath.Join(outDir, "db.tar.gz"), tgz, 0o644); err != nil {
			return nil, "", nil, err
		}
	} else if tgz, err = os.ReadFile(filepath.Join(outDir, "db.tar.gz")); err != nil {
		return nil, "", nil, err
	}
	files = append(files, File{Path: "db.tar.gz", Size: int64(len(tgz)), Digest: digest(tgz)})
	blobs, manifest, reused, err := writeOCI(filepath.Join(outDir, "oci"), tgz, base, opts)
	if err != nil {
		return nil, "", nil, fmt.Errorf("oci layout: %w", err)
	}
	return append(files, blobs...), manifest, reused, nil
}

func describe(dir, name string) (File, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, err
	}
	return File{Path: filepath.ToSlash(name), Size: n, Digest: "sha256:" + hex.EncodeToString(h.Sum(nil))}, nil
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// archive tars names (in the order given) from dir and gzips the tar. Headers carry mode 0644,
// the Unix epoch as mtime, no owner, and the gzip header no time or name, so the bytes depend
// only on the files' contents (and the compressor of the Go release).
func archive(ctx context.Context, dir string, names []string) ([]byte, error) {
	return archiveLevel(ctx, dir, names, gzip.BestCompression)
}

// archiveLevel is archive at a given gzip level.
func archiveLevel(ctx context.Context, dir string, names []string, level int) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: fi.Size(),
				ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR})
		}
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
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

// writeOCI writes an OCI image layout at dir holding one manifest as trivy-db's artifact has it:
// config of Trivy's config media type with an empty JSON object, one layer of Trivy's layer media
// type titled db.tar.gz. The manifest is assembled here rather than through mutate, whose image
// config (rootfs, history) would differ from the artifact's "{}". Its only time is UpdatedAt.
func writeOCI(dir string, tgz []byte, base *baseline, opts Options) ([]File, string, []string, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, "", nil, err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return nil, "", nil, err
	}
	config := []byte("{}")
	configDesc := v1.Descriptor{MediaType: mediaTypeConfig, Size: int64(len(config)), Digest: mustHash(config)}
	layerDesc := v1.Descriptor{MediaType: mediaTypeLayer, Size: int64(len(tgz)), Digest: mustHash(tgz),
		Annotations: map[string]string{annotationTitle: "db.tar.gz"}}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        configDesc,
		Layers:        []v1.Descriptor{layerDesc},
		Annotations:   map[string]string{"org.opencontainers.image.created": opts.UpdatedAt.Format(time.RFC3339)},
	}
	manifest, err := json.Marshal(m)
	if err != nil {
		return nil, "", nil, err
	}
	manifestDesc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: int64(len(manifest)), Digest: mustHash(manifest),
		Annotations: map[string]string{"org.opencontainers.image.ref.name": opts.Tag}}
	var files []File
	var reused []string
	for _, blob := range []struct {
		d v1.Descriptor
		b []byte
	}{{configDesc, config}, {layerDesc, tgz}, {manifestDesc, manifest}} {
		rel := "blobs/sha256/" + blob.d.Digest.Hex
		// The spec's delta: unmodified blobs come from the baseline layout. One that does not
		// hash to its name there is not reused.
		ok := false
		if base != nil {
			if ok, err = copyBlob(filepath.Join(base.dir, "oci", rel), filepath.Join(dir, rel), blob.d.Digest.String()); err != nil {
				return nil, "", nil, err
			}
		}
		if ok {
			reused = append(reused, blob.d.Digest.String())
		} else if err := p.WriteBlob(blob.d.Digest, io.NopCloser(bytes.NewReader(blob.b))); err != nil {
			return nil, "", nil, err
		}
		files = append(files, File{Path: "oci/" + rel, Size: blob.d.Size, Digest: blob.d.Digest.String()})
	}
	if err := p.AppendDescriptor(manifestDesc); err != nil {
		return nil, "", nil, err
	}
	return files, manifestDesc.Digest.String(), reused, nil
}

func mustHash(b []byte) v1.Hash {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		panic(err) // reading from memory cannot fail
	}
	return h
}
