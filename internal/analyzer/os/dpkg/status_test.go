package dpkg_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/inventory"
)

// Paragraphs below are taken from the bookworm status in testdata, cut down to the fields that
// matter plus enough of the others (multi-line Description, Conffiles) to exercise the parser.
const (
	bash = "Package: bash\nEssential: yes\nStatus: install ok installed\nArchitecture: amd64\n" +
		"Source: bash (5.2.15-2)\nVersion: 5.2.15-2+b13\nConffiles:\n /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d\n" +
		"Description: GNU Bourne Again SHell\n Bash is an sh-compatible command language interpreter.\n .\n Package: not-a-field\n"
	libcap2 = "Package: libcap2\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n" +
		"Source: libcap2 (1:2.66-4+deb12u3)\nVersion: 1:2.66-4+deb12u3+b1\n"
	libc6 = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n" +
		"Source: glibc\nVersion: 2.36-9+deb12u14\n"
	libc6i386 = "Package: libc6\nStatus: install ok installed\nArchitecture: i386\nMulti-Arch: same\n" +
		"Source: glibc\nVersion: 2.36-9+deb12u14\n"
	zlib = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\n"
)

func deb(name, version, arch, srcName, srcVersion, loc string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemDeb, Name: name, Version: version, Arch: arch,
		Source:    inventory.Source{Name: srcName, Version: srcVersion},
		Locations: []string{loc},
	}
}

func TestStatusParagraphs(t *testing.T) {
	const st = "var/lib/dpkg/status"
	const sd = "var/lib/dpkg/status.d/pkg"
	withStatus := func(p, status string) string {
		return strings.Replace(p, "Status: install ok installed", "Status: "+status, 1)
	}
	tests := []struct {
		name, path, in string
		want           []inventory.Component
		wantErr        string
	}{
		{
			name: "binNMU keeps the source version without +b",
			path: st, in: bash,
			want: []inventory.Component{deb("bash", "5.2.15-2+b13", "amd64", "bash", "5.2.15-2", st)},
		},
		{
			name: "epoch in binary and source versions",
			path: st, in: libcap2,
			want: []inventory.Component{deb("libcap2", "1:2.66-4+deb12u3+b1", "amd64", "libcap2", "1:2.66-4+deb12u3", st)},
		},
		{
			name: "source without version takes the binary version",
			path: st, in: libc6 + "\n" + zlib,
			want: []inventory.Component{
				deb("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14", st),
				deb("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", st),
			},
		},
		{
			name: "no Source field: the package is its own source",
			path: st, in: "Package: dash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.5.12-2\n",
			want: []inventory.Component{deb("dash", "0.5.12-2", "amd64", "dash", "0.5.12-2", st)},
		},
		{
			name: "multi-arch: one package, two architectures",
			path: st, in: libc6 + "\n" + libc6i386,
			want: []inventory.Component{
				deb("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14", st),
				deb("libc6", "2.36-9+deb12u14", "i386", "glibc", "2.36-9+deb12u14", st),
			},
		},
		{
			name: "states: hold and triggers count, config-files and half-installed do not",
			path: st,
			in: withStatus(libc6, "hold ok installed") + "\n" + withStatus(zlib, "deinstall ok config-files") + "\n" +
				withStatus(bash, "install reinstreq half-installed") + "\n" + withStatus(libcap2, "install ok triggers-pending") +
				"\n" + withStatus(libc6i386, "install ok unpacked"),
			want: []inventory.Component{
				deb("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14", st),
				deb("libcap2", "1:2.66-4+deb12u3+b1", "amd64", "libcap2", "1:2.66-4+deb12u3", st),
			},
		},
		{
			name: "CRLF, blank-only separator lines, no final newline",
			path: st, in: strings.TrimSuffix(strings.ReplaceAll(libc6+" \t\n"+zlib, "\n", "\r\n"), "\r\n"),
			want: []inventory.Component{
				deb("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14", st),
				deb("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", st),
			},
		},
		{
			name: "field names ignore case, values ignore surrounding blanks",
			path: st, in: "package:  dash \nSTATUS: install ok installed\nARCHITECTURE:amd64\nversion:\t0.5.12-2\nsource: dash ( 0.5.12-1 )\n",
			want: []inventory.Component{deb("dash", "0.5.12-2", "amd64", "dash", "0.5.12-1", st)},
		},
		{
			name: "Status missing in the status file: not installed",
			path: st, in: strings.Replace(zlib, "Status: install ok installed\n", "", 1),
		},
		{
			name: "Status missing in status.d: installed",
			path: sd, in: strings.Replace(zlib, "Status: install ok installed\n", "", 1),
			want: []inventory.Component{deb("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", sd)},
		},
		{
			name: "installed paragraph without version: partial result and an error",
			path: st, in: zlib + "\n\n\nPackage: broken\nStatus: install ok installed\n\n" + libc6,
			want: []inventory.Component{
				deb("zlib1g", "1:1.2.13.dfsg-1", "amd64", "zlib", "1:1.2.13.dfsg-1", st),
				deb("libc6", "2.36-9+deb12u14", "amd64", "glibc", "2.36-9+deb12u14", st),
			},
			wantErr: `var/lib/dpkg/status: skipped 1 installed package stanzas: line 9: package "broken" has no version`,
		},
		{
			name: "empty and comment-free garbage",
			path: st, in: "\n\n   \nno colon here\n continuation only\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := analyze(t, tt.path, []byte(tt.in))
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error = %q, want %q", got, tt.wantErr)
			}
			var got []inventory.Component
			if res != nil {
				got = res.Components
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("components (-want +got):\n%s", diff)
			}
		})
	}
}
