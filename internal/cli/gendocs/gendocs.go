// Package gendocs generates the man pages and shell completion scripts of every command-line
// tool from its cobra command tree, so the documentation never drifts from the flags.
package gendocs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/stellaops/stellaops/internal/buildinfo"
	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/internal/cli/stella"
	"github.com/stellaops/stellaops/internal/cli/stellaops"
	"github.com/stellaops/stellaops/internal/cli/stellaopscli"
	"github.com/stellaops/stellaops/internal/cli/stellopsctl"
)

// Tools returns the command trees of the tools, built with inert streams.
func Tools() []*cobra.Command {
	stdio := cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: io.Discard}
	env := func(string) string { return "" }
	return []*cobra.Command{
		stella.Command(stdio),
		stellaopscli.Command(stdio, env),
		stellopsctl.Command(stdio),
		stellaops.Command(stdio, env),
	}
}

// Write writes out/man/man1/*.1 and out/completion/<tool>.{bash,zsh,fish}.
func Write(out string) error {
	man := filepath.Join(out, "man", "man1")
	comp := filepath.Join(out, "completion")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// A fixed date keeps the pages reproducible for one commit.
	date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d, err := time.Parse(time.RFC3339, buildinfo.Get().Date); err == nil {
		date = d.UTC()
	}
	for _, root := range Tools() {
		root.DisableAutoGenTag = true
		hdr := &doc.GenManHeader{Title: strings.ToUpper(root.Name()), Section: "1", Source: "StellaOps " + buildinfo.Get().Version,
			Manual: "StellaOps Manual", Date: &date}
		if err := doc.GenManTree(root, hdr, man); err != nil {
			return fmt.Errorf("%s man pages: %w", root.Name(), err)
		}
		for ext, gen := range map[string]func(*cobra.Command, io.Writer) error{
			"bash": func(c *cobra.Command, w io.Writer) error { return c.GenBashCompletionV2(w, true) },
			"zsh":  func(c *cobra.Command, w io.Writer) error { return c.GenZshCompletion(w) },
			"fish": func(c *cobra.Command, w io.Writer) error { return c.GenFishCompletion(w, true) },
		} {
			var b bytes.Buffer
			if err := gen(root, &b); err != nil {
				return fmt.Errorf("%s %s completion: %w", root.Name(), ext, err)
			}
			if err := os.WriteFile(filepath.Join(comp, root.Name()+"."+ext), b.Bytes(), 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}
