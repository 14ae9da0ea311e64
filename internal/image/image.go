// Package image opens container images — docker-archive tarballs (`docker save`, plain or
// gzipped, multi-image bundles picked by tag), OCI layouts (directory or tar) and registry
// references — and streams their layers as verified tar entries with whiteouts interpreted and
// hostile content refused. It reads manifests and configs with go-containerregistry's types and
// pulls from registries with its remote package.
//
// It never extracts anything to disk: layers are streamed, member names are checked before use,
// and the only files it writes are temporary copies inside the caller's scan directory. It knows
// nothing about packages; internal/indexer feeds the entries to analyzers.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stellaops/stellaops/internal/inventory"
)

// ErrNotImage is returned by Open for a local path that exists but holds no image (for example a
// plain directory tree, which the caller may scan as a root filesystem instead).
var ErrNotImage = errors.New("not a container image")

// Options select and bound the image to open.
type Options struct {
	// Tag picks one image from a multi-image docker archive or OCI layout ("alpine:3.10", or an
	// OCI ref name such as "3.10"). Empty means the only image there.
	Tag string
	// Platform ("linux/amd64", "linux/arm64/v8") picks a manifest from a multi-platform index.
	// Empty means linux and the running architecture.
	Platform string
	// TempDir receives temporary files (an expanded .tar.gz archive). Required for archives.
	TempDir string
	// Limits bound sizes and counts; zero fields take DefaultLimits.
	Limits Limits
	// Keychain resolves registry credentials; nil means the docker config (DOCKER_CONFIG or
	// ~/.docker/config.json) and anonymous access otherwise.
	Keychain authn.Keychain
	// Insecure allows plain-HTTP registries (local test registries).
	Insecure bool
}

// Image is an opened image: what it is, its layers base first, and how to stream each.
type Image struct {
	Target inventory.Target
	Config *v1.ConfigFile
	Layers []inventory.Layer

	blobs  []func(ctx context.Context) (io.ReadCloser, error)
	limits Limits
	close  func() error
}

// Close releases the archive or connection behind the image.
func (img *Image) Close() error {
	if img.close == nil {
		return nil
	}
	return img.close()
}

// Open opens target: an existing file (docker-archive or OCI tar, optionally gzipped), an
// existing directory (OCI layout or unpacked docker-archive; anything else gives ErrNotImage), or
// otherwise a registry reference.
func Open(ctx context.Context, target string, opts Options) (*Image, error) {
	opts.Limits = opts.Limits.withDefaults()
	fi, err := os.Stat(target)
	var st store
	switch {
	case err == nil && fi.IsDir():
		st, err = openDirStore(target)
	case err == nil:
		if opts.TempDir == "" {
			opts.TempDir = os.TempDir()
		}
		st, err = openTarStore(ctx, target, opts.TempDir, opts.Limits.MaxImageSize, opts.Limits.MaxSymlinkDepth)
	case LooksLikePath(target):
		return nil, err // "stat <path>: no such file or directory"
	default:
		return openRemote(ctx, target, opts)
	}
	if err != nil {
		return nil, err
	}
	img, err := openFromStore(ctx, st, target, opts)
	if err != nil {
		st.close()
		return nil, err
	}
	return img, nil
}

// LooksLikePath tells a mistyped local path from a registry reference, so a missing file gives
// "no such file" rather than a confusing registry error.
func LooksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasSuffix(s, ".tar") || strings.HasSuffix(s, ".tar.gz") || strings.HasSuffix(s, ".tgz")
}

func openFromStore(ctx context.Context, st store, name string, opts Options) (*Image, error) {
	switch {
	case st.exists("manifest.json"):
		return openDockerArchive(ctx, st, name, opts)
	case st.exists("index.json"):
		return openOCILayout(ctx, st, name, opts)
	}
	return nil, fmt.Errorf("%s: %w (no manifest.json or index.json)", name, ErrNotImage)
}

// platform returns the wanted platform, defaulting to linux and the running architecture.
func (o Options) platform() (v1.Platform, error) {
	if o.Platform == "" {
		return v1.Platform{OS: "linux", Architecture: runtime.GOARCH}, nil
	}
	p, err := v1.ParsePlatform(o.Platform)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("platform %q: %w", o.Platform, err)
	}
	return *p, nil
}

// layersFromConfig builds the layer list from a config's diff IDs and history; digests, sizes
// and openers come from the caller, which knows where the blobs are.
func layersFromConfig(cfg *v1.ConfigFile, n int) ([]inventory.Layer, error) {
	if len(cfg.RootFS.DiffIDs) != n {
		return nil, fmt.Errorf("image config lists %d layer diff IDs but the manifest has %d layers",
			len(cfg.RootFS.DiffIDs), n)
	}
	layers := make([]inventory.Layer, n)
	var created []string
	for _, h := range cfg.History {
		if !h.EmptyLayer {
			created = append(created, h.CreatedBy)
		}
	}
	for i, d := range cfg.RootFS.DiffIDs {
		layers[i].DiffID = d.String()
		if len(created) == n {
			layers[i].CreatedBy = created[i]
		}
	}
	return layers, nil
}

// platformString renders a config's platform as "os/arch[/variant]".
func platformString(cfg *v1.ConfigFile) string {
	s := cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		s += "/" + cfg.Variant
	}
	return s
}
