package stellopsctl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// maxPolicyFile bounds what policy import reads: the server refuses far less.
const maxPolicyFile = 16 << 20

func policyCommand(g *globals) *cobra.Command {
	return group("policy", "Policy snapshots: export, import and history of the active policy",
		policyExportCommand(g), policyImportCommand(g), policyHistoryCommand(g))
}

func policyExportCommand(g *globals) *cobra.Command {
	var revision, output string
	c := &cobra.Command{
		Use:   "export",
		Short: "Write the active (or a given) policy's source, byte for byte (GET /policy/export)",
		Long: `Write the source of the active policy, or of --revision rev-N, byte for byte as it was
imported (YAML or Rego), to stdout or to --output FILE (written atomically). Needs scope policy.read.

  stellopsctl policy export > policies/backup-2025-07-14.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output == formatJSON || output == formatTable {
				// "stellopsctl -o json policy export" reaches this flag, not the global one.
				return cli.Usagef("policy export: --output is the file to write (the export is the policy source as imported, not a %s)", output)
			}
			bc, err := g.backend()
			if err != nil {
				return err
			}
			e, err := bc.ExportPolicy(cmd.Context(), revision)
			if err != nil {
				return failure(err, "policy export")
			}
			g.log.Debug("policy exported", "revision", e.RevisionID, "digest", e.Digest, "format", e.Format, "bytes", len(e.Content))
			if output == "" || output == "-" {
				_, err := g.io.Out.Write(e.Content)
				return err
			}
			if err := writeFileAtomic(output, e.Content, 0o644); err != nil {
				return fmt.Errorf("policy export: %w", err)
			}
			fmt.Fprintf(g.io.Err, "wrote %s (%s, %s, %s)\n", output, e.RevisionID, e.Format, e.Digest)
			return nil
		},
	}
	// --output here is a file and shadows the global --output format: an export is a
	// document, not a list.
	c.Flags().StringVarP(&output, "output", "o", "", "write to FILE instead of stdout")
	c.Flags().StringVar(&revision, "revision", "", "export this revision (rev-N) instead of the active one")
	return c
}

func policyImportCommand(g *globals) *cobra.Command {
	var format, description string
	c := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Make a YAML or Rego policy the active one (POST /policy/import)",
		Long: `Import FILE (or stdin for -) as the active policy and print the revision it became. The format
is --format, else the file's extension (.rego is Rego, .yaml/.yml YAML), else Rego when the source
starts with a package clause, YAML otherwise. Importing the active policy again creates no revision
and prints "unchanged". An invalid policy is refused with every problem listed. Needs scope
policy.write.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "" && format != "yaml" && format != "rego" {
				return cli.Usagef("unknown --format %q (yaml or rego)", format)
			}
			src, err := readPolicy(g.io.In, args[0])
			if err != nil {
				return err
			}
			if format == "" {
				format = policyFormat(args[0], src)
			}
			bc, err := g.backend()
			if err != nil {
				return err
			}
			res, err := bc.ImportPolicy(cmd.Context(), client.PolicySource{Format: format, Content: string(src),
				Actor: "stellopsctl", Description: description})
			if err != nil {
				return failure(err, "policy import")
			}
			for _, is := range res.Issues {
				fmt.Fprintf(g.io.Err, "%s: %s: %s (%s)\n", strings.ToLower(is.Severity), is.Code, is.Message, is.Path)
			}
			if g.json() {
				return writeJSON(g.io.Out, res)
			}
			r := res.Revision
			if !res.Created {
				fmt.Fprintf(g.io.Out, "unchanged: %s (%s) is already the active policy\n", r.RevisionID, r.Digest)
				return nil
			}
			fmt.Fprintf(g.io.Out, "imported %s (%s, %s)\n", r.RevisionID, r.Format, r.Digest)
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "policy format: yaml or rego (default: from the file name or content)")
	c.Flags().StringVar(&description, "description", "", "change note kept on the revision")
	return c
}

// readPolicy reads the policy file, or stdin for "-".
func readPolicy(stdin io.Reader, name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, cli.Usagef("policy import: %v", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxPolicyFile+1))
	if err != nil {
		return nil, fmt.Errorf("policy import: read %s: %w", name, err)
	}
	switch {
	case len(b) > maxPolicyFile:
		return nil, cli.Usagef("policy import: %s is larger than %d bytes", name, maxPolicyFile)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, cli.Usagef("policy import: %s is empty", name)
	case !utf8.Valid(b):
		return nil, cli.Usagef("policy import: %s is not UTF-8 text", name)
	}
	return b, nil
}

// policyFormat guesses the format of a source without --format: by extension, else a Rego
// package clause before anything but comments and blank lines.
func policyFormat(name string, src []byte) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".rego":
		return "rego"
	case ".yaml", ".yml":
		return "yaml"
	}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64<<10), maxPolicyFile)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(sc.Text(), "\uFEFF"))
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "package ") || strings.HasPrefix(line, "package\t") {
			return "rego"
		}
		break
	}
	return "yaml"
}

func policyHistoryCommand(g *globals) *cobra.Command {
	var limit int
	c := &cobra.Command{
		Use:   "history",
		Short: "List the policy revisions, newest first (GET /policy/history)",
		Long: `List the policy revisions newest first: id, creation time, format, digest, who imported it
and the change note. Needs scope policy.read.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return cli.Usagef("--limit must not be negative")
			}
			bc, err := g.backend()
			if err != nil {
				return err
			}
			var revs []client.PolicyRevision
			cursor := ""
			for {
				page, err := bc.PolicyHistory(cmd.Context(), 0, cursor)
				if err != nil {
					return failure(err, "policy history")
				}
				revs = append(revs, page.Revisions...)
				if page.NextCursor == "" || (limit > 0 && len(revs) >= limit) {
					break
				}
				cursor = page.NextCursor
			}
			if limit > 0 && len(revs) > limit {
				revs = revs[:limit]
			}
			if g.json() {
				if revs == nil {
					revs = []client.PolicyRevision{}
				}
				return writeJSON(g.io.Out, map[string]any{"revisions": revs})
			}
			if len(revs) == 0 {
				fmt.Fprintln(g.io.Out, "no policy has been imported yet")
				return nil
			}
			t := newTable(g.io.Out, "REVISION", "CREATED", "FORMAT", "DIGEST", "ACTOR", "DESCRIPTION")
			for _, r := range revs {
				t.row(r.RevisionID, stamp(r.CreatedAt), r.Format, r.Digest, r.Actor, r.Description)
			}
			return t.flush()
		},
	}
	c.Flags().IntVar(&limit, "limit", 20, "show at most N revisions (0: all)")
	return c
}
