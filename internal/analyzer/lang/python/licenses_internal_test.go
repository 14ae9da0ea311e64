package python

import "testing"

func TestClassifierLicense(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"License :: OSI Approved :: MIT License", "MIT", true},
		{"License :: OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)", "LGPL-3.0-or-later", true},
		{"License :: OSI Approved :: Apache Software License", "Apache Software License", true},
		{"License :: Public Domain", "Public Domain", true},
		{"License :: OSI Approved", "", false},
		{"Programming Language :: Python", "", false},
		{"License ::", "", false},
	}
	for _, tt := range tests {
		got, ok := classifierLicense(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("classifierLicense(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
