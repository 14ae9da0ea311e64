package trivydb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content/oci"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// PushOptions say how to reach the registry.
type PushOptions struct {
	// PlainHTTP talks HTTP instead of HTTPS (a registry on loopback, a test).
	PlainHTTP bool
	// Username and Password, when set, are the registry credential; otherwise the Docker
	// credential store ($DOCKER_CONFIG or ~/.docker/config.json) is asked, as docker and oras do.
	Username, Password string
	// Client is the HTTP client; nil means oras' retrying client.
	Client *http.Client
}

// Push copies the OCI artifact of the export in outDir to ref (registry/repository:tag), the way
// `oras copy --from-oci-layout` would, and returns the pushed manifest's digest. Blobs the
// registry already has are not uploaded again, so pushing a delta costs its new blobs.
func Push(ctx context.Context, outDir, ref string, o PushOptions) (string, error) {
	layoutDir := filepath.Join(outDir, "oci")
	manifest, err := readIndex(layoutDir)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	src, err := oci.NewFromFS(ctx, os.DirFS(layoutDir))
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	repo, err := remote.NewRepository(ref)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	if repo.Reference.Reference == "" {
		return "", fmt.Errorf("push: %s names no tag (for example %s:2)", ref, ref)
	}
	repo.PlainHTTP = o.PlainHTTP
	client := &auth.Client{Client: o.Client, Cache: auth.NewCache()}
	if client.Client == nil {
		client.Client = retry.DefaultClient
	}
	if o.Username != "" || o.Password != "" {
		client.Credential = auth.StaticCredential(repo.Reference.Registry, auth.Credential{Username: o.Username, Password: o.Password})
	} else if store, err := credentials.NewStoreFromDocker(credentials.StoreOptions{}); err == nil {
		client.Credential = credentials.Credential(store)
	}
	repo.Client = client
	desc, err := oras.Copy(ctx, src, manifest, repo, repo.Reference.Reference, oras.DefaultCopyOptions)
	if err != nil {
		return "", fmt.Errorf("push to %s: %w", ref, err)
	}
	return desc.Digest.String(), nil
}

// BundleName is the offline bundle's file name in the export directory; a sidecar with its
// sha256 (in sha256sum's format) sits beside it.
const BundleName = "offline-bundle.tar.gz"

// Bundle packs the export's OCI layout (with metadata.json and tree-manifest.json) into
// outDir/offline-bundle.tar.gz for sites that move files rather than talk to a registry: unpacked,
// it is an OCI layout `oras copy --from-oci-layout DIR:2` pushes to a local registry, whose layer
// is the db.tar.gz Trivy reads. A delta export's bundle leaves out the blobs reused from its
// baseline (metadata.json names it): the receiving side already has them. Deterministic like the
// rest of the export.
func Bundle(ctx context.Context, outDir string, res Result) (File, error) {
	layoutDir := filepath.Join(outDir, "oci")
	names := []string{"oci-layout", "index.json", "metadata.json", "tree-manifest.json"}
	var blobs []string
	for _, f := range res.Files {
		if rel, ok := strings.CutPrefix(f.Path, "oci/blobs/"); ok && !(res.Metadata.Mode == "delta" && slices.Contains(res.ReusedBlobs, f.Digest)) {
			blobs = append(blobs, "blobs/"+rel)
		}
	}
	if len(blobs) == 0 && res.Metadata.Mode != "delta" {
		return File{}, errors.New("bundle: the export lists no OCI blobs")
	}
	slices.Sort(blobs)
	tgz, err := archiveLevel(ctx, layoutDir, append(names, blobs...), 1) // the layer is gzip already
	if err != nil {
		return File{}, fmt.Errorf("bundle: %w", err)
	}
	sum := sha256.Sum256(tgz)
	if err := os.WriteFile(filepath.Join(outDir, BundleName), tgz, 0o644); err != nil {
		return File{}, fmt.Errorf("bundle: %w", err)
	}
	side := hex.EncodeToString(sum[:]) + "  " + BundleName + "\n"
	if err := os.WriteFile(filepath.Join(outDir, BundleName+".sha256"), []byte(side), 0o644); err != nil {
		return File{}, fmt.Errorf("bundle: %w", err)
	}
	return File{Path: BundleName, Size: int64(len(tgz)), Digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}
