package scanjob_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stellaops/stellaops/internal/scan/scanjob"
)

// specRequest is API spec §2.4's example body.
const specRequest = `{
"image": {
"reference": "registry.example.com/acme/app:1.2.3"
},
"force": false,
"clientRequestId": "ci-build-1845",
"metadata": {
"pipeline": "github",
"trigger": "pull-request"
}
}`

func decode(t testing.TB, s string) scanjob.EnqueueRequest {
	t.Helper()
	var r scanjob.EnqueueRequest
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNormalizeAndScanID(t *testing.T) {
	spec, errs := scanjob.Normalize(decode(t, specRequest))
	if errs != nil {
		t.Fatal(errs)
	}
	id := spec.ScanID()
	if !scanjob.ValidScanID(id) || spec.Reference != "registry.example.com/acme/app:1.2.3" || spec.Given != spec.Reference {
		t.Fatalf("spec request: %+v %s", spec, id)
	}
	if got := string(spec.Doc()); got != `{"clientRequestId":"ci-build-1845","image":{"digest":"","reference":"registry.example.com/acme/app:1.2.3"},"kind":"image","metadata":{"pipeline":"github","trigger":"pull-request"}}` {
		t.Fatalf("canonical request %s", got)
	}
	same := []string{
		// whitespace, key order, force
		`{"metadata":{"trigger":"pull-request","pipeline":"github"},"clientRequestId":" ci-build-1845 ","force":true,"image":{"reference":" registry.example.com/acme/app:1.2.3"}}`,
	}
	for _, s := range same {
		n, errs := scanjob.Normalize(decode(t, s))
		if errs != nil || n.ScanID() != id {
			t.Errorf("%s: id %s, want %s (%v)", s, n.ScanID(), id, errs)
		}
	}
	differ := []string{
		`{"image":{"reference":"registry.example.com/acme/app:1.2.4"},"clientRequestId":"ci-build-1845","metadata":{"pipeline":"github","trigger":"pull-request"}}`,
		`{"image":{"reference":"registry.example.com/acme/app:1.2.3"},"clientRequestId":"ci-build-1846","metadata":{"pipeline":"github","trigger":"pull-request"}}`,
		`{"image":{"reference":"registry.example.com/acme/app:1.2.3"},"clientRequestId":"ci-build-1845","metadata":{"pipeline":"github"}}`,
		`{"image":{"reference":"registry.example.com/acme/app:1.2.3","digest":"sha256:` + strings.Repeat("a", 64) + `"},"clientRequestId":"ci-build-1845","metadata":{"pipeline":"github","trigger":"pull-request"}}`,
	}
	for _, s := range differ {
		if n, errs := scanjob.Normalize(decode(t, s)); errs != nil || n.ScanID() == id {
			t.Errorf("%s: same id as the spec's (%v)", s, errs)
		}
	}
	// Docker Hub shorthand is the fully qualified name; digests are lower-cased.
	a, _ := scanjob.Normalize(scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine", Digest: "SHA256:" + strings.Repeat("AB", 32)}})
	b, _ := scanjob.Normalize(scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "index.docker.io/library/alpine:latest", Digest: "sha256:" + strings.Repeat("ab", 32)}})
	if a.ScanID() != b.ScanID() || a.Reference != "index.docker.io/library/alpine:latest" || a.Given != "alpine" {
		t.Fatalf("%+v vs %+v", a, b)
	}
	// An upload's id covers its content, URL, options and threshold.
	u := scanjob.UploadRequest{ContentDigest: "sha256:1", Threshold: "critical"}
	for _, v := range []scanjob.UploadRequest{{ContentDigest: "sha256:2", Threshold: "critical"}, {ContentDigest: "sha256:1", Threshold: "low"},
		{ContentDigest: "sha256:1", Threshold: "critical", SBOMOnly: true}, {ContentDigest: "sha256:1", Threshold: "critical", SBOMType: "spdx-json"}} {
		if v.ScanID() == u.ScanID() {
			t.Errorf("%+v has the id of %+v", v, u)
		}
	}
	if u.ScanID() != (scanjob.UploadRequest{ContentDigest: "sha256:1", Threshold: "critical"}).ScanID() || u.ScanID() == id {
		t.Error("upload ids are not deterministic")
	}
}

func TestNormalizeRefuses(t *testing.T) {
	long := strings.Repeat("x", 2000)
	many := map[string]string{}
	for i := range 65 {
		many[fmt.Sprint("k", i)] = "v"
	}
	for _, tc := range []struct {
		req  scanjob.EnqueueRequest
		path string
		msg  string
	}{
		{scanjob.EnqueueRequest{}, "$.image", "image.reference or image.digest is required"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: " \t "}}, "$.image", "required"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Digest: "md5:abc"}}, "$.image.digest", "not an OCI digest"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Digest: "sha256:" + strings.Repeat("g", 64)}}, "$.image.digest", "needs 64 hex digits"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "a/" + long}}, "$.image.reference", "longer than 1024"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine\n:3"}}, "$.image.reference", "control characters"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "Alpine"}}, "$.image.reference", "not an image reference"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine@sha256:" + strings.Repeat("1", 64), Digest: "sha256:" + strings.Repeat("2", 64)}},
			"$.image.digest", "differs from the reference's digest"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine"}, ClientRequestID: long}, "$.clientRequestId", "longer than 256"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine"}, Metadata: many}, "$.metadata", "more than 64 entries"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine"}, Metadata: map[string]string{"": "x"}}, `$.metadata[""]`, "keys must be"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine"}, Metadata: map[string]string{"k": "\x00"}}, `$.metadata["k"]`, "control characters"},
		{scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: "alpine"}, Metadata: map[string]string{"k": long}}, `$.metadata["k"]`, "longer than 1024"},
	} {
		_, errs := scanjob.Normalize(tc.req)
		if !slices.ContainsFunc(errs, func(e scanjob.FieldError) bool { return e.Path == tc.path && strings.Contains(e.Msg, tc.msg) }) {
			t.Errorf("%+v: errors %v, want %s: …%s…", tc.req.Image, errs, tc.path, tc.msg)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add([]byte(specRequest))
	f.Add([]byte(`{"image":{"reference":"alpine","digest":"SHA256:` + strings.Repeat("A", 64) + `"}}`))
	f.Add([]byte(`{"image":{"reference":"/srv/images/app.tar"},"metadata":{"a":"\u2028"}}`))
	f.Add([]byte(`{"image":{"reference":"localhost:5000/x@sha256:` + strings.Repeat("0", 64) + `"},"force":true}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var req scanjob.EnqueueRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		n, errs := scanjob.Normalize(req)
		if errs != nil {
			for _, e := range errs {
				if !strings.HasPrefix(e.Path, "$.") || e.Msg == "" {
					t.Fatalf("bad field error %+v", e)
				}
			}
			return
		}
		doc := n.Doc()
		if !json.Valid(doc) || !utf8.Valid(doc) || !scanjob.ValidScanID(n.ScanID()) {
			t.Fatalf("doc %q id %q", doc, n.ScanID())
		}
		// The normal form is a fixed point: normalising it again gives the same id.
		again, errs := scanjob.Normalize(scanjob.EnqueueRequest{Image: scanjob.ImageRef{Reference: n.Reference, Digest: n.Digest},
			ClientRequestID: n.ClientRequestID, Metadata: n.Metadata, Force: !n.Force})
		if errs != nil || again.ScanID() != n.ScanID() {
			t.Fatalf("%q: normal form %+v renormalised to %+v (%v)", body, n, again, errs)
		}
	})
}

func TestParseLayers(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("a", 64), "sha512:"+strings.Repeat("b", 128)
	got, err := scanjob.ParseLayers([]byte(`{"layers": ["` + strings.ToUpper(d1) + `", "` + d2 + `", "` + d1 + `"]}`))
	if err != nil || !slices.Equal(got, []string{d1, d2}) {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := scanjob.ParseLayers([]byte(`{"layers": []}`)); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty: %#v %v", got, err)
	}
	many, _ := json.Marshal(map[string][]string{"layers": slices.Repeat([]string{d1}, scanjob.MaxLayers+1)})
	for _, tc := range []struct{ body, msg string }{
		{`{"layers": ["sha256:d38b...", "sha256:af45..."]}`, `layers[0]: "sha256:d38b..." is not an OCI digest`},
		{`{}`, "layers is required"},
		{`{"layers": null}`, "layers is required"},
		{`{"layers": ["` + d1 + `"], "more": 1}`, `unknown field "more"`},
		{`{"layers": [1]}`, "malformed JSON body"},
		{`{"layers": []} {}`, "data after the JSON value"},
		{`[`, "malformed JSON body"},
		{string(many), "more than 1024"},
	} {
		if _, err := scanjob.ParseLayers([]byte(tc.body)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%.60s: %v, want …%s…", tc.body, err, tc.msg)
		}
	}
}

func FuzzParseLayers(f *testing.F) {
	f.Add([]byte(`{"layers": ["sha256:d38b...", "sha256:af45..."]}`))
	f.Add([]byte(`{"layers": ["SHA256:` + strings.Repeat("A", 64) + `"]}`))
	f.Add([]byte(`{"layers": ["sha512:` + strings.Repeat("0", 128) + `", "sha256:` + strings.Repeat("f", 64) + `"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := scanjob.ParseLayers(body)
		if err != nil {
			return
		}
		if len(got) > scanjob.MaxLayers {
			t.Fatalf("%d layers", len(got))
		}
		seen := map[string]bool{}
		for _, d := range got {
			if seen[d] || strings.ToLower(d) != d || !(len(d) == 71 && strings.HasPrefix(d, "sha256:") || len(d) == 135 && strings.HasPrefix(d, "sha512:")) {
				t.Fatalf("layer %q in %v", d, got)
			}
			seen[d] = true
		}
		// Parsing the answer again is the identity.
		b, _ := json.Marshal(map[string][]string{"layers": got})
		again, err := scanjob.ParseLayers(b)
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("reparse %v: %v %v", got, again, err)
		}
	})
}

func TestFetchChecks(t *testing.T) {
	ctx := context.Background()
	cfg := scanjob.FetchConfig{Enabled: true, MaxBytes: 1 << 10}
	for _, tc := range []struct{ url, msg string }{
		{"http://127.0.0.1:8080/x", "loopback address 127.0.0.1"},
		{"http://[::1]/x", "loopback address ::1"},
		{"http://10.0.0.1/x", "private address 10.0.0.1"},
		{"http://169.254.169.254/latest/meta-data", "link-local address 169.254.169.254"},
		{"http://100.64.1.1/x", "shared (CGNAT) address"},
		{"http://0.0.0.0/x", "unspecified address"},
		{"ftp://example.com/x", `scheme "ftp"`},
		{"https://user:pw@example.com/x", "no user information"},
		{"https:///x", "needs a host"},
	} {
		if _, err := cfg.CheckURL(ctx, tc.url); !errors.Is(err, scanjob.ErrURLRefused) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want …%s…", tc.url, err, tc.msg)
		}
	}
	off := cfg
	off.Enabled = false
	if _, err := off.CheckURL(ctx, "https://example.com/x"); err == nil || !strings.Contains(err.Error(), "disabled") {
		t.Errorf("disabled: %v", err)
	}
	only := cfg
	only.AllowedHosts, only.AllowPrivateNetworks = []string{"sboms.example.com"}, true
	if _, err := only.CheckURL(ctx, "https://other.example.com/x"); err == nil || !strings.Contains(err.Error(), "not in scanner.urlFetch.allowedHosts") {
		t.Errorf("allowlist: %v", err)
	}

	// Fetching: a private server when allowed; the size bound; a redirect to a host off the
	// allowlist; and the dial-time check when private networks are not allowed.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			_, _ = w.Write([]byte("hello"))
		case "/big":
			_, _ = w.Write(make([]byte, 2<<10))
		case "/away":
			http.Redirect(w, r, "http://elsewhere.invalid/x", http.StatusFound)
		}
	}))
	defer srv.Close()
	priv := cfg
	priv.AllowPrivateNetworks = true
	dir := t.TempDir()
	p, err := priv.Fetch(ctx, must[*url.URL](t)(url.Parse(srv.URL+"/small")), dir)
	if err != nil || string(must[[]byte](t)(os.ReadFile(p))) != "hello" {
		t.Fatalf("fetch: %v", err)
	}
	if _, err := priv.Fetch(ctx, must[*url.URL](t)(url.Parse(srv.URL+"/big")), dir); err == nil || !strings.Contains(err.Error(), "over the limit of 1024") {
		t.Fatalf("big: %v", err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	priv.AllowedHosts = []string{strings.Split(host, ":")[0]}
	if _, err := priv.Fetch(ctx, must[*url.URL](t)(url.Parse(srv.URL+"/away")), dir); !errors.Is(err, scanjob.ErrURLRefused) {
		t.Fatalf("redirect off the allowlist: %v", err)
	}
	if _, err := cfg.Fetch(ctx, must[*url.URL](t)(url.Parse(srv.URL+"/small")), dir); !errors.Is(err, scanjob.ErrURLRefused) ||
		!strings.Contains(err.Error(), "connecting to the loopback address") {
		t.Fatalf("dial check: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("failed fetches left files: %d", len(ents))
	}
}
