package python_test

import (
	"context"
	"os"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/python"
	"github.com/stellaops/stellaops/internal/inventory"
)

func dist(name, version, loc string, licenses ...string) inventory.Component {
	return inventory.Component{
		Ecosystem: inventory.EcosystemPyPI, Name: name, Version: version, Locations: []string{loc}, Licenses: licenses,
	}
}

func TestAnalyzeMetadata(t *testing.T) {
	const sp = "usr/lib/python3.11/site-packages/"
	meta := func(name string) string { return sp + name + ".dist-info/METADATA" }
	langtest.Run(t, python.New(python.DefaultConfig()), []langtest.Case{
		{
			Name: "License-Expression", File: "testdata/site-packages/attrs-26.1.0.dist-info/METADATA", Path: meta("attrs-26.1.0"),
			Want: []inventory.Component{dist("attrs", "26.1.0", meta("attrs-26.1.0"), "MIT")},
		},
		{
			Name: "License field wins over classifier", File: "testdata/site-packages/certifi-2026.5.20.dist-info/METADATA", Path: meta("certifi"),
			Want: []inventory.Component{dist("certifi", "2026.5.20", meta("certifi"), "MPL-2.0")},
		},
		{
			Name: "License field", File: "testdata/site-packages/six-1.17.0.dist-info/METADATA", Path: meta("six"),
			Want: []inventory.Component{dist("six", "1.17.0", meta("six"), "MIT")},
		},
		{
			Name: "licence text in License field falls back to classifiers", File: "testdata/site-packages/traitlets-5.15.0.dist-info/METADATA", Path: meta("traitlets"),
			Want: []inventory.Component{dist("traitlets", "5.15.0", meta("traitlets"), "BSD License")},
		},
		{
			Name: "UNKNOWN licence", File: "testdata/site-packages/backcall-0.2.0.dist-info/METADATA", Path: meta("backcall"),
			Want: []inventory.Component{dist("backcall", "0.2.0", meta("backcall"), "BSD License")},
		},
		{
			Name: "post release", File: "testdata/site-packages/outcome-1.3.0.post0.dist-info/METADATA", Path: meta("outcome"),
			Golden: "testdata/outcome.golden.json",
		},
		{
			Name: "egg-info PKG-INFO", File: "testdata/syft/requests.PKG-INFO", Path: sp + "requests-2.22.0.egg-info/PKG-INFO",
			Golden: "testdata/requests-egg.golden.json",
		},
		{
			Name: "EGG-INFO in an egg", File: "testdata/syft/requests.PKG-INFO", Path: sp + "requests-2.22.0-py3.8.egg/EGG-INFO/PKG-INFO",
			Golden: "testdata/requests-egg-dir.golden.json",
		},
		{
			Name: "HTML in Summary", File: "testdata/syft/invalid.PKG-INFO", Path: sp + "mxnet.egg-info/PKG-INFO",
			Golden: "testdata/mxnet.golden.json",
		},
		{
			Name: "single-file egg-info", File: "testdata/syft/Python-2.7.egg-info", Path: "usr/lib/python2.7/Python-2.7.egg-info",
			Golden: "testdata/python27.golden.json",
		},
		{Name: "no version", File: "testdata/syft/no-version-py3.8.egg-info", Path: sp + "no-version-py3.8.egg-info"},
		{Name: "empty", File: "testdata/syft/empty-1.0.0-py3.8.egg-info", Path: sp + "empty-1.0.0-py3.8.egg-info"},
		{Name: "partial", File: "testdata/syft/partial.METADATA", Path: meta("partial"), Golden: "testdata/partial.golden.json"},
		{Name: "not metadata", File: "testdata/syft/Pipfile.lock", Path: meta("x"), WantErr: true},
	})
}

func TestAnalyzeLockfiles(t *testing.T) {
	langtest.Run(t, python.New(python.DefaultConfig()), []langtest.Case{
		{Name: "requirements", File: "testdata/syft/requirements.txt", Path: "app/requirements.txt", Golden: "testdata/requirements.golden.json"},
		{Name: "requirements directory", File: "testdata/syft/requirements.txt", Path: "app/requirements/prod.txt", Golden: "testdata/requirements-dir.golden.json"},
		{Name: "Pipfile.lock", File: "testdata/syft/Pipfile.lock", Path: "app/Pipfile.lock", Golden: "testdata/pipfile.golden.json"},
		{Name: "Pipfile.lock corrupt", File: "testdata/syft/requirements.txt", Path: "app/Pipfile.lock", WantErr: true},
		{Name: "poetry", File: "testdata/syft/simple-deps.poetry.lock", Path: "app/poetry.lock", Golden: "testdata/poetry-simple.golden.json"},
		{Name: "poetry dev", File: "testdata/syft/dev-deps.poetry.lock", Path: "app/poetry.lock", Golden: "testdata/poetry-dev.golden.json"},
		{Name: "poetry not toml", File: "testdata/syft/Pipfile.lock", Path: "app/poetry.lock", WantErr: true},
		{Name: "uv", File: "testdata/syft/simple-deps.uv.lock", Path: "app/uv.lock", Golden: "testdata/uv-simple.golden.json"},
		{Name: "uv not toml", File: "testdata/syft/Pipfile.lock", Path: "app/uv.lock", WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, python.New(python.DefaultConfig()), []langtest.RequiredCase{
		{Path: "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA", Want: true},
		{Path: "usr/lib/python3/dist-packages/six-1.16.0.dist-info/RECORD", Want: false},
		{Path: "usr/lib/python3/dist-packages/foo.egg-info/PKG-INFO", Want: true},
		{Path: "usr/lib/python3/site-packages/foo-1.0-py3.8.egg/EGG-INFO/PKG-INFO", Want: true},
		{Path: "usr/lib/python2.7/lib-dynload/Python-2.7.egg-info", Want: true},
		{Path: "app/poetry.lock", Want: true},
		{Path: "app/uv.lock", Want: true},
		{Path: "app/Pipfile.lock", Want: true},
		{Path: "app/Pipfile", Want: false},
		{Path: "app/requirements.txt", Want: true},
		{Path: "requirements-dev.txt", Want: true},
		{Path: "app/dev-requirements.txt", Want: true},
		{Path: "app/requirements/base.txt", Want: true},
		{Path: "app/requirements.in", Want: false},
		{Path: "usr/lib/python3/site-packages/foo/requirements.txt", Want: false},
		{Path: "app/setup.py", Want: false},
		{Path: "app/PKG-INFO", Want: false},
	})
}

func TestLimits(t *testing.T) {
	b, err := os.ReadFile("testdata/syft/simple-deps.poetry.lock")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	small := python.Config{MaxMetadataSize: 10, MaxLockfileSize: 10, MaxPackages: 1}
	if _, err := python.New(small).Analyze(ctx, analyzertest.Input(t, "poetry.lock", b, 0o644)); err == nil {
		t.Error("size limit: Analyze() succeeded")
	}
	few := python.Config{MaxMetadataSize: 1 << 20, MaxLockfileSize: 1 << 20, MaxPackages: 1}
	for _, tc := range []struct{ file, path string }{
		{"testdata/syft/simple-deps.poetry.lock", "poetry.lock"},
		{"testdata/syft/simple-deps.uv.lock", "uv.lock"},
		{"testdata/syft/Pipfile.lock", "Pipfile.lock"},
		{"testdata/syft/requirements.txt", "requirements.txt"},
	} {
		b, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := python.New(few).Analyze(ctx, analyzertest.Input(t, tc.path, b, 0o644)); err == nil {
			t.Errorf("%s: package limit: Analyze() succeeded", tc.path)
		}
	}
}
