package offlinekit

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/atomicfile"
	"github.com/stellaops/stellaops/internal/attest"
	"github.com/stellaops/stellaops/internal/canonjson"
	"github.com/stellaops/stellaops/internal/signing"
)

// Signer signs DSSE envelopes; a *signing.Keyring is one.
type Signer interface {
	Sign(ctx context.Context, payloadType string, payload []byte) (*signing.Envelope, error)
}

// Roles of a published kit's files.
const (
	RoleBundle            = "bundle"
	RoleManifest          = "manifest"
	RoleBundleSignature   = "bundle-signature"
	RoleManifestSignature = "manifest-signature"
)

// DescriptorName is the file, in a published kit's directory, that lists its files.
const DescriptorName = "descriptor.json"

// Descriptor lists a published kit's files: what `offline kit pull` downloads and checks.
type Descriptor struct {
	BundleID       string    `json:"bundleId"`
	Kind           string    `json:"kind"`
	CapturedAt     time.Time `json:"capturedAt"`
	SnapshotDigest string    `json:"snapshotDigest"`
	Advisories     int       `json:"advisories"`
	Files          []File    `json:"files"`
}

// File is one published file of a kit.
type File struct {
	Role   string `json:"role"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// File returns the descriptor's file of role, or nil.
func (d *Descriptor) File(role string) *File {
	for i := range d.Files {
		if d.Files[i].Role == role {
			return &d.Files[i]
		}
	}
	return nil
}

// BundleID is the id of the kit built from a snapshot: its capture time and digest, so the same
// snapshot always gives the same kit.
func BundleID(meta snapshot.Meta) string {
	hexd := strings.TrimPrefix(meta.Digest, "sha256:")
	return fmt.Sprintf("stella-ops-offline-kit-%s-%s", meta.CreatedAt.UTC().Format("20060102-150405"), hexd[:min(12, len(hexd))])
}

// predicate is the bundle statement's predicate.
type predicate struct {
	BundleID       string    `json:"bundleId"`
	Kind           string    `json:"kind"`
	CapturedAt     time.Time `json:"capturedAt"`
	ManifestSHA256 string    `json:"manifestSha256"`
}

// Build publishes the kit of snap under root/<bundleId>/ and returns its descriptor. A kit
// already published there is returned as it is. The directory appears whole or not at all: the
// files are written to a temporary directory that is renamed into place.
func Build(ctx context.Context, root string, snap *snapshot.Snapshot, signer Signer, generator string) (*Descriptor, error) {
	meta := snap.Meta()
	id := BundleID(meta)
	final := filepath.Join(root, id)
	if d, err := ReadDescriptor(final); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return d, err
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	tmp, err := os.MkdirTemp(root, ".build-")
	if err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	defer os.RemoveAll(tmp)

	advPath := filepath.Join(tmp, "advisories.ndjson")
	sum, size, count, err := writeAdvisories(ctx, advPath, snap)
	if err != nil {
		return nil, err
	}
	if "sha256:"+sum != meta.Digest {
		return nil, fmt.Errorf("offline kit: snapshot %s holds content with digest sha256:%s", meta.Digest, sum)
	}
	m := Manifest{SchemaVersion: SchemaVersion, BundleID: id, Kind: KindFull, CapturedAt: meta.CreatedAt.UTC(), Generator: generator,
		Components: []Component{{Name: ComponentAdvisories, Version: meta.Digest, Path: AdvisoriesPath, SHA256: sum, Size: size,
			Advisories: count, Sources: meta.Sources}}}
	mb, err := canonjson.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	bundleName := id + ".tgz"
	bsum, bsize, err := writeBundle(filepath.Join(tmp, bundleName), mb, advPath, m.CapturedAt)
	if err != nil {
		return nil, err
	}
	if err := os.Remove(advPath); err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	msumRaw := sha256.Sum256(mb)
	msum := hex.EncodeToString(msumRaw[:])

	menv, err := signer.Sign(ctx, ManifestPayloadType, mb)
	if err != nil {
		return nil, fmt.Errorf("offline kit: signing the manifest: %w", err)
	}
	pred, err := json.Marshal(predicate{BundleID: id, Kind: KindFull, CapturedAt: m.CapturedAt, ManifestSHA256: msum})
	if err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	st, err := attest.New(attest.PredicateOfflineKit, pred, attest.Subject{Name: bundleName, Digest: map[string]string{"sha256": bsum}})
	if err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	benv, err := signer.Sign(ctx, attest.PayloadType, st.Bytes())
	if err != nil {
		return nil, fmt.Errorf("offline kit: signing the bundle: %w", err)
	}
	d := &Descriptor{BundleID: id, Kind: KindFull, CapturedAt: m.CapturedAt, SnapshotDigest: meta.Digest, Advisories: count,
		Files: []File{{Role: RoleBundle, Name: bundleName, SHA256: bsum, Size: bsize}}}
	for _, f := range []struct {
		role, name string
		env        *signing.Envelope
		raw        []byte
	}{
		{RoleManifest, id + "." + ManifestName, nil, mb},
		{RoleBundleSignature, bundleName + ".sig", benv, nil},
		{RoleManifestSignature, id + "." + ManifestName + ".sig", menv, nil},
	} {
		b := f.raw
		if f.env != nil {
			if b, err = f.env.Encode(); err != nil {
				return nil, fmt.Errorf("offline kit: %w", err)
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, f.name), b, 0o644); err != nil {
			return nil, fmt.Errorf("offline kit: %w", err)
		}
		s := sha256.Sum256(b)
		d.Files = append(d.Files, File{Role: f.role, Name: f.name, SHA256: hex.EncodeToString(s[:]), Size: int64(len(b))})
	}
	db, err := d.encode()
	if err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, DescriptorName), db, 0o644); err != nil {
		return nil, fmt.Errorf("offline kit: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		// Another replica published the same kit first: theirs is byte for byte ours.
		if d2, rerr := ReadDescriptor(final); rerr == nil {
			return d2, nil
		}
		return nil, fmt.Errorf("offline kit: publishing %s: %w", id, err)
	}
	return d, nil
}

// LatestName is the file, beside the published kits, holding the latest kit's descriptor.
const LatestName = "latest.json"

// WriteLatest makes d the latest kit published under root, unless it already is.
func WriteLatest(root string, d *Descriptor) error {
	b, err := d.encode()
	if err != nil {
		return err
	}
	p := filepath.Join(root, LatestName)
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, b) {
		return nil
	}
	return atomicfile.Write(p, b, 0o644)
}

func (d *Descriptor) encode() ([]byte, error) {
	b, err := json.MarshalIndent(d, "", "  ")
	return append(b, '\n'), err
}

// ReadDescriptor reads the descriptor of the kit published in dir.
func ReadDescriptor(dir string) (*Descriptor, error) {
	b, err := os.ReadFile(filepath.Join(dir, DescriptorName))
	if err != nil {
		return nil, err
	}
	var d Descriptor
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("offline kit descriptor %s: %w", dir, err)
	}
	return &d, nil
}

// writeAdvisories writes the snapshot's advisories as NDJSON and returns its sha256, size and
// line count.
func writeAdvisories(ctx context.Context, path string, snap *snapshot.Snapshot) (sum string, size int64, n int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return "", 0, 0, fmt.Errorf("offline kit: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<16)
	err = snap.ForEachRaw(func(raw []byte) error {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		n++
		size += int64(len(raw)) + 1
		if _, err := w.Write(raw); err != nil {
			return err
		}
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return "", 0, 0, fmt.Errorf("offline kit: writing advisories: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), size, n, nil
}

// writeBundle writes the tar.gz: the manifest, then the advisories. Every header field that
// could vary (times, owners, modes) is fixed, so equal content gives equal bytes.
func writeBundle(path string, manifest []byte, advPath string, captured time.Time) (sum string, size int64, err error) {
	f, err := os.Create(path)
	if err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, h)}
	gz := gzip.NewWriter(cw)
	gz.ModTime = captured
	tw := tar.NewWriter(gz)
	hdr := func(name string, size int64) *tar.Header {
		return &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: captured, Format: tar.FormatPAX,
			Uname: "root", Gname: "root"}
	}
	if err := tw.WriteHeader(hdr(ManifestName, int64(len(manifest)))); err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	if _, err := tw.Write(manifest); err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	af, err := os.Open(advPath)
	if err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	defer af.Close()
	fi, err := af.Stat()
	if err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	if err := tw.WriteHeader(hdr(AdvisoriesPath, fi.Size())); err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	if _, err := io.Copy(tw, af); err != nil {
		return "", 0, fmt.Errorf("offline kit: %w", err)
	}
	for _, c := range []io.Closer{tw, gz, f} {
		if err := c.Close(); err != nil {
			return "", 0, fmt.Errorf("offline kit: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
