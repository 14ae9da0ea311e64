package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stellaops/stellaops/internal/inventory"
)

// maxMetadataSize bounds manifest, index and config documents read into memory.
const maxMetadataSize = 16 << 20

func readSmall(st store, name string) ([]byte, error) {
	rc, err := st.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxMetadataSize {
		return nil, hostile("%s is larger than %d bytes", name, maxMetadataSize)
	}
	return b, nil
}

// openDockerArchive reads a `docker save` archive: manifest.json lists, per image, its config
// file and its layer files in order.
func openDockerArchive(_ context.Context, st store, archiveName string, opts Options) (*Image, error) {
	raw, err := readSmall(st, "manifest.json")
	if err != nil {
		return nil, err
	}
	var m tarball.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("docker archive: manifest.json: %w", err)
	}
	d, err := pickDescriptor(m, opts.Tag)
	if err != nil {
		return nil, err
	}
	cfgName, err := CleanPath(d.Config)
	if err != nil {
		return nil, err
	}
	cfgRaw, err := readSmall(st, cfgName)
	if err != nil {
		return nil, fmt.Errorf("docker archive: config: %w", err)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(cfgRaw)))
	if err != nil {
		return nil, fmt.Errorf("docker archive: config %s: %w", d.Config, err)
	}
	layers, err := layersFromConfig(cfg, len(d.Layers))
	if err != nil {
		return nil, fmt.Errorf("docker archive: %w", err)
	}
	blobs := make([]func(context.Context) (io.ReadCloser, error), len(d.Layers))
	for i, lp := range d.Layers {
		member, err := CleanPath(lp)
		if err != nil {
			return nil, err
		}
		if !st.exists(member) {
			return nil, fmt.Errorf("docker archive: layer %s listed in manifest.json is missing", lp)
		}
		// Docker 25+ writes OCI blobs (blobs/sha256/<hex>): the name is the stored digest.
		if dir, hexd := path.Split(member); dir == "blobs/sha256/" && len(hexd) == 64 {
			layers[i].Digest = "sha256:" + hexd
		}
		blobs[i] = func(context.Context) (io.ReadCloser, error) { return st.open(member) }
	}
	sum := sha256.Sum256(cfgRaw)
	id := "sha256:" + hex.EncodeToString(sum[:])
	tgt := inventory.Target{
		Kind: inventory.TargetImage, Name: archiveName, Digest: id, ImageID: id,
		Format: "docker-archive", Platform: platformString(cfg),
	}
	if len(d.RepoTags) > 0 {
		tgt.Name = d.RepoTags[0]
		if opts.Tag != "" {
			tgt.Name = opts.Tag
		}
	}
	return &Image{Target: tgt, Config: cfg, Layers: layers, blobs: blobs, limits: opts.Limits, close: st.close}, nil
}

// pickDescriptor chooses the image by tag; with no tag the archive must hold exactly one.
func pickDescriptor(m tarball.Manifest, tag string) (tarball.Descriptor, error) {
	if len(m) == 0 {
		return tarball.Descriptor{}, fmt.Errorf("docker archive: manifest.json lists no image")
	}
	if tag == "" {
		if len(m) == 1 {
			return m[0], nil
		}
		return tarball.Descriptor{}, fmt.Errorf("docker archive holds %d images (%s): choose one by tag",
			len(m), strings.Join(allTags(m), ", "))
	}
	want, err := name.NewTag(tag)
	if err != nil {
		return tarball.Descriptor{}, fmt.Errorf("tag %q: %w", tag, err)
	}
	for _, d := range m {
		for _, t := range d.RepoTags {
			if got, err := name.NewTag(t); err == nil && got.Name() == want.Name() {
				return d, nil
			}
		}
	}
	return tarball.Descriptor{}, fmt.Errorf("docker archive has no image tagged %s (it has: %s)", tag,
		strings.Join(allTags(m), ", "))
}

func allTags(m tarball.Manifest) []string {
	var tags []string
	for _, d := range m {
		if len(d.RepoTags) == 0 {
			tags = append(tags, "<untagged "+d.Config+">")
		}
		tags = append(tags, d.RepoTags...)
	}
	return tags
}
