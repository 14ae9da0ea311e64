package image

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/stellaops/stellaops/internal/inventory"
)

// openRemote resolves a registry reference (tag or digest) to the image for the wanted platform.
// Manifest and config are fetched now; layer blobs only when a layer is opened, so layers whose
// inventory is cached are never downloaded.
func openRemote(ctx context.Context, ref string, opts Options) (*Image, error) {
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	r, err := name.ParseReference(ref, nopts...)
	if err != nil {
		return nil, fmt.Errorf("%q is neither a local file or directory nor an image reference: %w", ref, err)
	}
	plat, err := opts.platform()
	if err != nil {
		return nil, err
	}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(plat)}
	img, err := remote.Image(r, ropts...)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("pull %s: config: %w", r, err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("pull %s: config: %w", r, err)
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("pull %s: layers: %w", r, err)
	}
	layers, err := layersFromConfig(cfg, len(ls))
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r, err)
	}
	blobs := make([]func(context.Context) (io.ReadCloser, error), len(ls))
	for i, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("pull %s: layer %d: %w", r, i, err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("pull %s: layer %d: %w", r, i, err)
		}
		layers[i].Digest, layers[i].Size = d.String(), size
		blobs[i] = func(ctx context.Context) (io.ReadCloser, error) {
			// The layer was resolved with the open's context; a fresh fetch honours this one.
			bl, err := remote.Layer(r.Context().Digest(d.String()), append(ropts, remote.WithContext(ctx))...)
			if err != nil {
				return nil, fmt.Errorf("fetch layer %s: %w", d, err)
			}
			return bl.Compressed()
		}
	}
	tgt := inventory.Target{
		Kind: inventory.TargetImage, Name: r.String(), Digest: digest.String(), ImageID: cfgName.String(),
		Format: "registry", Platform: platformString(cfg),
	}
	return &Image{Target: tgt, Config: cfg, Layers: layers, blobs: blobs, limits: opts.Limits}, nil
}
