package java_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/analyzer/analyzertest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/internal/langtest"
	"github.com/stellaops/stellaops/internal/analyzer/lang/java"
	"github.com/stellaops/stellaops/internal/inventory"
)

func mvn(name, version, loc string) inventory.Component {
	return inventory.Component{Ecosystem: inventory.EcosystemMaven, Name: name, Version: version, Locations: []string{loc}}
}

func TestAnalyze(t *testing.T) {
	const lib = "usr/share/java/"
	langtest.Run(t, java.New(java.DefaultConfig()), []langtest.Case{
		{
			Name: "pom.properties", File: "testdata/debian/commons-cli-1.5.0.jar", Path: lib + "commons-cli.jar",
			Want: []inventory.Component{mvn("commons-cli:commons-cli", "1.5.0", lib+"commons-cli.jar")},
		},
		{
			Name: "two pom.properties", File: "testdata/debian/maven3-slf4j-provider-3.8.7.jar", Path: lib + "maven3-slf4j-provider.jar",
			Golden: "testdata/maven3-slf4j-provider.golden.json",
		},
		{
			Name: "file name only", File: "testdata/debian/aopalliance-1.0.jar", Path: lib + "aopalliance-1.0.jar",
			Want: []inventory.Component{mvn("aopalliance", "1.0", lib+"aopalliance-1.0.jar")},
		},
		{
			Name: "bundle symbolic name", File: "testdata/debian/atinject-jsr330-api-1.0.jar", Path: lib + "atinject-jsr330-api-1.0.jar",
			Want: []inventory.Component{mvn("javax.inject:atinject-jsr330-api", "1.0", lib+"atinject-jsr330-api-1.0.jar")},
		},
		{
			Name: "no version anywhere", File: "testdata/debian/aopalliance-1.0.jar", Path: lib + "aopalliance.jar",
		},
		{
			Name: "shaded jar", File: "testdata/trivy/hadoop-shaded-guava-1.1.0-SNAPSHOT.jar", Path: "opt/hadoop/lib/hadoop-shaded-guava-1.1.0-SNAPSHOT.jar",
			Golden: "testdata/hadoop-shaded-guava.golden.json",
		},
		{
			Name: "manifest without version, file name", File: "testdata/trivy/heuristic-1.0.0-SNAPSHOT.jar", Path: "app/heuristic-1.0.0-SNAPSHOT.jar",
			Want: []inventory.Component{mvn("heuristic", "1.0.0-SNAPSHOT", "app/heuristic-1.0.0-SNAPSHOT.jar")},
		},
		{Name: "nested pom.properties", File: "testdata/trivy/nested.jar", Path: "app/nested.jar", Golden: "testdata/nested.golden.json"},
		{Name: "war", File: "testdata/trivy/gradle.war", Path: "usr/local/tomcat/webapps/gradle.war", Golden: "testdata/gradle-war.golden.json"},
		{Name: "spring boot fat jar", File: "testdata/generated/app-1.0.0.jar", Path: "app/app.jar", Golden: "testdata/fat-jar.golden.json"},
		{Name: "pom.properties at the root and BOOT-INF", File: "testdata/scalibr/complex.jar", Path: "app/complex.jar", Golden: "testdata/complex.golden.json"},
		{Name: "nesting beyond the depth limit", File: "testdata/scalibr/nested_at_10.jar", Path: "app/nested_at_10.jar", Golden: "testdata/nested_at_10.golden.json"},
		{Name: "empty zip", File: "testdata/scalibr/empty.jar", Path: "app/empty.jar"},
		{Name: "not a zip", File: "testdata/scalibr/invalid_jar.jar", Path: "app/invalid.jar", WantErr: true},
		{Name: "three bytes", File: "testdata/trivy/invalid.jar", Path: "app/invalid.jar", WantErr: true},
	})
}

func TestRequired(t *testing.T) {
	langtest.RunRequired(t, java.New(java.DefaultConfig()), []langtest.RequiredCase{
		{Path: "app/app.jar", Want: true},
		{Path: "app/APP.JAR", Want: true},
		{Path: "opt/tomcat/webapps/ROOT.war", Want: true},
		{Path: "opt/jboss/app.ear", Want: true},
		{Path: "a.par", Want: true},
		{Path: "a.sar", Want: true},
		{Path: "var/jenkins_home/plugins/git.jpi", Want: true},
		{Path: "var/jenkins_home/plugins/git.hpi", Want: true},
		{Path: "app/.jar", Want: false},
		{Path: "app/jar", Want: false},
		{Path: "app/app.jar.sha1", Want: false},
		{Path: "app/app.zip", Want: false},
		{Path: "app/app.rar", Want: false},
		{Path: "app/foo.tar", Want: false},
	})
}

// zipOf builds a zip archive in memory; names listed in stored use zip.Store, the others Deflate.
func zipOf(t testing.TB, files map[string][]byte, stored ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		method := zip.Deflate
		for _, s := range stored {
			if s == name {
				method = zip.Store
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLimits(t *testing.T) {
	ctx := context.Background()
	pom := []byte("groupId=g\nartifactId=a\nversion=1\n")
	inner := zipOf(t, map[string][]byte{"META-INF/maven/g/a/pom.properties": pom})

	t.Run("zip bomb fails the archive", func(t *testing.T) {
		bomb := zipOf(t, map[string][]byte{"lib/big.jar": bytes.Repeat([]byte{0}, 4<<20)})
		cfg := java.DefaultConfig()
		cfg.MaxTotalBytes = 1 << 20
		_, err := java.New(cfg).Analyze(ctx, analyzertest.Input(t, "app.jar", bomb, 0o644))
		if err == nil || !strings.Contains(err.Error(), "limit") {
			t.Errorf("Analyze() error = %v, want the budget error", err)
		}
	})
	t.Run("entry over the entry limit is skipped", func(t *testing.T) {
		arch := zipOf(t, map[string][]byte{
			"META-INF/maven/g/a/pom.properties": pom,
			"lib/big.jar":                       bytes.Repeat([]byte{1}, 2<<20),
		})
		cfg := java.DefaultConfig()
		cfg.MaxEntrySize = 1 << 20
		res, err := java.New(cfg).Analyze(ctx, analyzertest.Input(t, "app.jar", arch, 0o644))
		if err != nil || res == nil || len(res.Components) != 1 {
			t.Errorf("Analyze() = %+v, %v; want the one pom.properties component", res, err)
		}
	})
	t.Run("overlapping entries count against the entry limit", func(t *testing.T) {
		files := map[string][]byte{}
		var names []string
		for i := range 50 {
			n := "lib/x" + strings.Repeat("y", i) + ".jar"
			files[n] = inner
			names = append(names, n)
		}
		arch := zipOf(t, files, names...)
		cfg := java.DefaultConfig()
		cfg.MaxEntries = 20
		if _, err := java.New(cfg).Analyze(ctx, analyzertest.Input(t, "app.jar", arch, 0o644)); err == nil {
			t.Error("Analyze() over the entry limit succeeded")
		}
	})
	t.Run("depth", func(t *testing.T) {
		deep := inner
		for range 5 {
			deep = zipOf(t, map[string][]byte{"lib/n.jar": deep}, "lib/n.jar")
		}
		for depth, want := range map[int]int{4: 0, 5: 1} {
			cfg := java.DefaultConfig()
			cfg.MaxDepth = depth
			res, err := java.New(cfg).Analyze(ctx, analyzertest.Input(t, "app.jar", deep, 0o644))
			if err != nil {
				t.Fatal(err)
			}
			got := 0
			if res != nil {
				got = len(res.Components)
			}
			if got != want {
				t.Errorf("MaxDepth %d: %d components, want %d", depth, got, want)
			}
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := java.New(java.DefaultConfig()).Analyze(c, analyzertest.Input(t, "app.jar", inner, 0o644)); err == nil {
			t.Error("Analyze() with a cancelled context succeeded")
		}
	})
}

func BenchmarkFatJar(b *testing.B) {
	for _, file := range []string{"testdata/generated/app-1.0.0.jar", "testdata/trivy/gradle.war"} {
		data, err := os.ReadFile(file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(file[strings.LastIndexByte(file, '/')+1:], func(b *testing.B) {
			a := java.New(java.DefaultConfig())
			in := langtest.Input("app/app.jar", data, 0o644)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Analyze(context.Background(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
