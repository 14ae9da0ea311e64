package stella

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/stellaops/stellaops/internal/analyzer/list"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/image"
	"github.com/stellaops/stellaops/internal/indexer"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/target"
	"github.com/stellaops/stellaops/pkg/client"
)

// submitted is a finished scan as stella reports it.
type submitted struct {
	ScanID       string
	PolicyStatus string
}

// submit scans arg on the server and waits for the outcome:
//   - an SBOM (or --sbom-type) is posted as it is;
//   - an image archive is uploaded whole, unless --delta;
//   - an OCI layout directory or a registry reference is inventoried here and sent as a delta
//     SBOM, every layer supplied, or with --delta only the layers the server lacks.
func (s *session) submit(ctx context.Context, arg string, format sbom.Format, delta bool) (submitted, error) {
	fi, statErr := os.Stat(arg)
	switch {
	case format != sbom.FormatAuto:
		return s.postFile(ctx, arg, client.ScanUploadOptions{SBOMType: string(format), ContentType: "application/json"})
	case statErr == nil && !fi.IsDir():
		isTar, err := target.LooksLikeTar(arg)
		if err != nil {
			return submitted{}, cli.Usagef("%s: %v", arg, err)
		}
		if !isTar {
			return s.postFile(ctx, arg, client.ScanUploadOptions{ContentType: "application/json"})
		}
		if !delta {
			return s.postFile(ctx, arg, client.ScanUploadOptions{ContentType: "application/x-tar"})
		}
	case statErr != nil && image.LooksLikePath(arg):
		return submitted{}, cli.Usagef("%s: no such file or directory", arg)
	}
	return s.postDelta(ctx, arg, delta)
}

// postFile streams the file at path to POST /scan.
func (s *session) postFile(ctx context.Context, path string, o client.ScanUploadOptions) (submitted, error) {
	o.Threshold = s.threshold
	return s.post(ctx, func() (io.ReadCloser, error) { return os.Open(path) }, o)
}

// post sends the body open returns (again, for a retry) and waits for the scan.
func (s *session) post(ctx context.Context, open func() (io.ReadCloser, error), o client.ScanUploadOptions) (submitted, error) {
	res, err := retryQuota(ctx, s, func() (client.ScanUploadResult, error) {
		body, err := open()
		if err != nil {
			return client.ScanUploadResult{}, cli.Usagef("%v", err)
		}
		defer body.Close()
		r, _, err := s.c.ScanUpload(ctx, body, o)
		return r, err
	})
	if err != nil {
		return submitted{}, err
	}
	if c := res.Completed; c != nil {
		return submitted{ScanID: c.ScanID, PolicyStatus: c.PolicyStatus}, nil
	}
	id := res.Accepted.ScanID
	s.log.Info("the scan outlasted the server's synchronous budget; waiting", "scanId", id)
	st, err := s.c.WaitScan(ctx, id, time.Second)
	if err != nil {
		return submitted{}, fmt.Errorf("scan %s: %w", id, err)
	}
	if st.Status != "Succeeded" || st.Result == nil {
		reason := ""
		if st.FailureReason != nil {
			reason = ": " + *st.FailureReason
		}
		return submitted{}, fmt.Errorf("scan %s %s%s", id, strings.ToLower(st.Status), reason)
	}
	return submitted{ScanID: id, PolicyStatus: st.Result.PolicyStatus}, nil
}

// postDelta inventories the image here and sends its delta SBOM: with onlyMissing, only the
// layers POST /layers/missing names; if the server has meanwhile dropped one it answers 422
// naming it, and every layer is sent once more.
func (s *session) postDelta(ctx context.Context, arg string, onlyMissing bool) (submitted, error) {
	tmp, err := os.MkdirTemp("", "stella-*")
	if err != nil {
		return submitted{}, err
	}
	defer os.RemoveAll(tmp)
	img, err := image.Open(ctx, arg, image.Options{TempDir: tmp, Insecure: s.insecure})
	if err != nil {
		return submitted{}, fmt.Errorf("%s: %w", arg, err)
	}
	defer img.Close()
	x := indexer.New(indexer.Config{Analyzers: list.Default(), TempDir: tmp, Progress: s.progress.Indexer})
	var want func(string) bool
	if onlyMissing {
		ids := make([]string, len(img.Layers))
		for i, l := range img.Layers {
			ids[i] = l.DiffID
		}
		missing, err := retryQuota(ctx, s, func() ([]string, error) { return s.c.LayersMissing(ctx, ids) })
		if err != nil {
			return submitted{}, fmt.Errorf("layers/missing: %w", err)
		}
		set := make(map[string]bool, len(missing))
		for _, m := range missing {
			set[strings.ToLower(m)] = true
		}
		want = func(d string) bool { return set[d] }
		s.log.Info("delta", "layers", len(ids), "missing", len(missing))
	}
	send := func(want func(string) bool) (submitted, error) {
		supplied, err := x.AnalyzeLayers(ctx, img, want)
		s.progress.Done()
		if err != nil {
			return submitted{}, fmt.Errorf("%s: %w", arg, err)
		}
		b, err := json.Marshal(x.Delta(img, supplied))
		if err != nil {
			return submitted{}, err
		}
		return s.post(ctx, func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
			client.ScanUploadOptions{ContentType: indexer.DeltaMediaType, Threshold: s.threshold})
	}
	out, err := send(want)
	var ce *client.Error
	if want != nil && errors.As(err, &ce) && ce.StatusCode == 422 && strings.Contains(ce.Detail, "neither supplied nor cached") {
		s.log.Warn("the server no longer has every layer it said it had; sending them all", "detail", ce.Detail)
		return send(nil)
	}
	return out, err
}
