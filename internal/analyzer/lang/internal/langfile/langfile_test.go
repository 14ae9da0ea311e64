package langfile_test

import (
	"io/fs"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langfile"
	"github.com/stellaops/stellaops/internal/inventory"
)

func TestSniff(t *testing.T) {
	gobin, err := os.ReadFile("../../gobinary/testdata/semvercheck")
	if err != nil {
		t.Skipf("gobinary fixture: %v", err)
	}
	tests := []struct {
		name string
		b    []byte
		want langfile.Format
	}{
		{"elf", gobin[:64], langfile.FormatELF},
		{"pe", []byte("MZ\x90\x00\x03\x00\x00\x00"), langfile.FormatPE},
		{"macho 64 le", []byte("\xcf\xfa\xed\xfe\x0c\x00\x00\x01"), langfile.FormatMachO},
		{"macho 32 be", []byte("\xfe\xed\xfa\xce\x00\x00\x00\x07"), langfile.FormatMachO},
		{"fat", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"), langfile.FormatMachOFat},
		{"java class", []byte("\xca\xfe\xba\xbe\x00\x00\x00\x34"), langfile.FormatUnknown},
		{"script", []byte("#!/bin/sh\necho"), langfile.FormatUnknown},
		{"short", []byte("\x7fELF"), langfile.FormatUnknown},
	}
	for _, tt := range tests {
		in := analyzertest.Input(t, "x", tt.b, 0o755)
		if got := langfile.Sniff(in.Content); got != tt.want {
			t.Errorf("%s: Sniff = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestIsExecutable(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		size int64
		want bool
	}{
		{0o755, 100, true},
		{0o100, 100, true},
		{0o644, 100, false},
		{0o755, 10, false},
		{fs.ModeDir | 0o755, 100, false},
		{fs.ModeSymlink | 0o777, 100, false},
	}
	for _, tt := range tests {
		info := analyzertest.FileInfo{FName: "x", FSize: tt.size, FMode: tt.mode}
		if got := langfile.IsExecutable(info, 50); got != tt.want {
			t.Errorf("IsExecutable(%v, %d) = %v, want %v", tt.mode, tt.size, got, tt.want)
		}
	}
	if langfile.IsExecutable(nil, 0) {
		t.Error("IsExecutable(nil) = true")
	}
}

func TestResult(t *testing.T) {
	if langfile.Result(nil) != nil {
		t.Error("Result(nil) != nil")
	}
	c := inventory.Component{Ecosystem: inventory.EcosystemNPM, Name: "a", Version: "1", Locations: []string{"x"}}
	r := langfile.Result([]inventory.Component{c, c})
	if r == nil || len(r.Components) != 1 {
		t.Errorf("Result did not merge duplicates: %+v", r)
	}
}
