// Command trivydb-build builds a Trivy DB from OSV directories with trivy-db's own builder
// (github.com/aquasecurity/trivy-db: vulnsrc/osv, vulndb), compacts it as upstream's release job
// does, and counts what any Trivy DB holds, so bench/trivy-db-size.sh can set our export beside
// what Trivy itself stores for the same advisories. It is its own module so trivy-db's builder
// and its dependencies never enter StellaOps' go.mod.
//
//	trivydb-build build -root DIR -out DIR ECOSYSTEM...   (OSV JSON in ROOT/<ECOSYSTEM>/: Go, PyPI, crates.io …)
//	trivydb-build count FILE...                         (prints JSON counts per file)
//	trivydb-build keys FILE                             (prints "<eco>\t<package>\t<vulnerability>" per entry)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulndb"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/osv"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/vulnerability"
	bolt "go.etcd.io/bbolt"
)

// ecosystems maps OSV ecosystem names to trivy-db's.
var ecosystems = map[string]types.Ecosystem{
	"Go": vulnerability.Go, "PyPI": vulnerability.Pip, "crates.io": vulnerability.Cargo, "npm": vulnerability.Npm,
	"Maven": vulnerability.Maven, "RubyGems": vulnerability.RubyGems, "NuGet": vulnerability.NuGet,
	"Packagist": vulnerability.Composer, "Hex": vulnerability.Erlang, "Pub": vulnerability.Pub,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: trivydb-build build -out DIR ECOSYSTEM=DIR... | count FILE...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "count":
		err = count(os.Args[2:])
	case "keys":
		err = keys(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "trivydb-build:", err)
		os.Exit(1)
	}
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	out := fs.String("out", "out", "output directory")
	root := fs.String("root", ".", "directory holding one directory of OSV JSON per ecosystem")
	_ = fs.Parse(args)
	// One vulnsrc per ecosystem, each reading its own directory under root.
	srcs := map[types.SourceID]vulnsrc.VulnSrc{}
	var targets []string
	for _, name := range fs.Args() {
		eco, known := ecosystems[name]
		if !known {
			return fmt.Errorf("%q: not a language ecosystem this builder knows", name)
		}
		if fi, err := os.Stat(filepath.Join(*root, name)); err != nil || !fi.IsDir() {
			return fmt.Errorf("%s: want a directory of OSV JSON", filepath.Join(*root, name))
		}
		id := types.SourceID("osv-" + strings.ToLower(name))
		srcs[id] = osv.New(name, id, map[types.Ecosystem]types.DataSource{
			eco: {ID: vulnerability.OSV, Name: "Open Source Vulnerabilities " + name, URL: "https://osv.dev/list?ecosystem=" + name},
		}, nil)
		targets = append(targets, string(id))
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := db.Init(*out); err != nil {
		return err
	}
	if err := vulndb.New(*root, *out, 24*time.Hour, vulndb.WithVulnSrcs(srcs)).Build(targets); err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	// Upstream ships the file after `bbolt compact`.
	src, err := bolt.Open(filepath.Join(*out, "trivy.db"), 0o644, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := bolt.Open(filepath.Join(*out, "trivy-compact.db"), 0o644, nil)
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		return err
	}
	return dst.Close()
}

// counts is what a Trivy DB holds.
type counts struct {
	File            string         `json:"file"`
	Bytes           int64          `json:"bytes"`
	Vulnerabilities int            `json:"vulnerabilities"`
	Entries         map[string]int `json:"entries"`  // package × vulnerability entries per advisory bucket
	Packages        map[string]int `json:"packages"` // packages per advisory bucket
}

func count(files []string) error {
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		bdb, err := bolt.Open(f, 0o444, &bolt.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		c := counts{File: f, Bytes: fi.Size(), Entries: map[string]int{}, Packages: map[string]int{}}
		err = bdb.View(func(tx *bolt.Tx) error {
			return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
				switch n := string(name); n {
				case "vulnerability":
					c.Vulnerabilities = b.Stats().KeyN
				case "data-source":
				default:
					return b.ForEachBucket(func(pkg []byte) error {
						c.Packages[n]++
						c.Entries[n] += b.Bucket(pkg).Stats().KeyN
						return nil
					})
				}
				return nil
			})
		})
		bdb.Close()
		if err != nil {
			return err
		}
		b, _ := json.Marshal(c) // map keys come out sorted
		fmt.Println(string(b))
	}
	return nil
}

// keys lists every advisory entry with its bucket's ecosystem prefix (so two DBs whose bucket
// names differ only in the data source compare).
func keys(files []string) error {
	if len(files) != 1 {
		return fmt.Errorf("keys: name one file")
	}
	bdb, err := bolt.Open(files[0], 0o444, &bolt.Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer bdb.Close()
	return bdb.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			n := string(name)
			if n == "vulnerability" || n == "data-source" {
				return nil
			}
			eco, _, _ := strings.Cut(n, "::")
			return b.ForEachBucket(func(pkg []byte) error {
				return b.Bucket(pkg).ForEach(func(k, _ []byte) error {
					fmt.Printf("%s\t%s\t%s\n", eco, pkg, k)
					return nil
				})
			})
		})
	})
}
