package client

import (
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"time"
)

// OfflineKitDescriptor lists a published offline kit's files (GET
// /api/offline-kit/bundles/latest.json, or <bundleId>/descriptor.json).
type OfflineKitDescriptor struct {
	BundleID       string           `json:"bundleId"`
	Kind           string           `json:"kind"`
	CapturedAt     time.Time        `json:"capturedAt"`
	SnapshotDigest string           `json:"snapshotDigest"`
	Advisories     int              `json:"advisories"`
	Files          []OfflineKitFile `json:"files"`
}

// Roles of an offline kit's files.
const (
	OfflineKitBundle            = "bundle"
	OfflineKitManifest          = "manifest"
	OfflineKitBundleSignature   = "bundle-signature"
	OfflineKitManifestSignature = "manifest-signature"
)

// OfflineKitFile is one file of a kit.
type OfflineKitFile struct {
	Role   string `json:"role"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// File returns the descriptor's file of role, or nil.
func (d *OfflineKitDescriptor) File(role string) *OfflineKitFile {
	for i := range d.Files {
		if d.Files[i].Role == role {
			return &d.Files[i]
		}
	}
	return nil
}

// OfflineKitImport is the record of an import.
type OfflineKitImport struct {
	ImportID       string                `json:"importId"`
	Status         string                `json:"status"`
	BundleID       string                `json:"bundleId"`
	Kind           string                `json:"kind"`
	CapturedAt     time.Time             `json:"capturedAt"`
	ImportedAt     time.Time             `json:"importedAt"`
	BundleSHA256   string                `json:"bundleSha256"`
	ManifestSHA256 string                `json:"manifestSha256"`
	SnapshotDigest string                `json:"snapshotDigest"`
	Advisories     int                   `json:"advisories"`
	Generator      string                `json:"generator"`
	Components     []OfflineKitComponent `json:"components"`
	SignedBy       []string              `json:"signedBy,omitempty"`
}

// OfflineKitComponent is a component of an imported kit.
type OfflineKitComponent struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Size    int64  `json:"size"`
}

// OfflineKitStatus is the answer of GET /api/offline-kit/status.
type OfflineKitStatus struct {
	Current *OfflineKitImport  `json:"current"`
	Imports []OfflineKitImport `json:"imports"`
}

// OfflineKitUpload is what ImportOfflineKit sends; the optional parts are sent when not nil.
type OfflineKitUpload struct {
	Bundle            io.Reader
	BundleName        string
	Manifest          []byte
	BundleSignature   []byte
	ManifestSignature []byte
}

// ImportOfflineKit uploads a kit (POST /api/offline-kit/import), streaming the bundle. created
// is false when the server had imported the kit already.
func (c *Client) ImportOfflineKit(ctx context.Context, u OfflineKitUpload) (rec OfflineKitImport, created bool, err error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		// The small parts first: the server reads them before it spools the bundle.
		for _, p := range []struct {
			name string
			b    []byte
		}{{"manifest", u.Manifest}, {"bundleSignature", u.BundleSignature}, {"manifestSignature", u.ManifestSignature}} {
			if p.b == nil {
				continue
			}
			w, err := mw.CreateFormFile(p.name, p.name)
			if err == nil {
				_, err = w.Write(p.b)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		name := u.BundleName
		if name == "" {
			name = "bundle.tgz"
		}
		w, err := mw.CreateFormFile("bundle", name)
		if err == nil {
			_, err = io.Copy(w, u.Bundle)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	r, err := c.do(ctx, request{method: http.MethodPost, path: "/api/offline-kit/import", body: pr, contentType: mw.FormDataContentType(), auth: true})
	pr.CloseWithError(io.ErrClosedPipe) // stops the writer if the server answered early
	if err != nil {
		return rec, false, err
	}
	if err := decode(r, &rec); err != nil {
		return rec, false, err
	}
	if r.StatusCode != http.StatusCreated && r.StatusCode != http.StatusOK {
		return rec, false, fmt.Errorf("client: import answered %d", r.StatusCode)
	}
	return rec, r.StatusCode == http.StatusCreated, nil
}

// OfflineKitStatus returns the imports (GET /api/offline-kit/status).
func (c *Client) OfflineKitStatus(ctx context.Context) (OfflineKitStatus, error) {
	var st OfflineKitStatus
	_, err := c.getJSON(ctx, "/api/offline-kit/status", nil, true, false, &st)
	return st, err
}
