// Command gendocs writes the man pages and shell completion scripts of the StellaOps command-line
// tools, generated from their cobra command trees (`make docs`):
//
//	<out>/man/man1/*.1                 one page per command
//	<out>/completion/<tool>.{bash,zsh,fish}
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/stellaops/stellaops/internal/cli/gendocs"
)

func main() {
	out := flag.String("out", "bin/docs", "output directory")
	flag.Parse()
	if err := gendocs.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
