package gendocs_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli/gendocs"
)

// TestWrite generates every page and script: one man page per command of every tool (each
// naming its flags), and bash, zsh and fish completion for each tool.
func TestWrite(t *testing.T) {
	out := t.TempDir()
	if err := gendocs.Write(out); err != nil {
		t.Fatal(err)
	}
	var want []string
	var walk func(prefix string, c *cobra.Command)
	walk = func(prefix string, c *cobra.Command) {
		if !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		name := prefix + c.Name()
		want = append(want, name)
		for _, sub := range c.Commands() {
			walk(name+"-", sub)
		}
	}
	for _, root := range gendocs.Tools() {
		walk("", root)
		for _, ext := range []string{"bash", "zsh", "fish"} {
			b, err := os.ReadFile(filepath.Join(out, "completion", root.Name()+"."+ext))
			if err != nil || !strings.Contains(string(b), root.Name()) {
				t.Errorf("%s %s completion: %v", root.Name(), ext, err)
			}
		}
	}
	for _, name := range []string{"stella", "stellaops-cli-scanner-download", "stellaops-cli-auth-login", "stellaops-cli-db-export",
		"stellaops-cli-runtime-policy-test", "stellopsctl-user-add", "stellopsctl-feed-refresh", "stellaops-serve"} {
		found := false
		for _, w := range want {
			found = found || w == name
		}
		if !found {
			t.Errorf("command %s missing from the trees", name)
		}
	}
	for _, name := range want {
		b, err := os.ReadFile(filepath.Join(out, "man", "man1", name+".1"))
		if err != nil {
			t.Errorf("man page of %s: %v", name, err)
			continue
		}
		if !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s.1 has no NAME section", name)
		}
	}
	stella, err := os.ReadFile(filepath.Join(out, "man", "man1", "stella.1"))
	if err != nil || !strings.Contains(string(stella), "--wait-quota") || !strings.Contains(string(stella), "Exit codes") {
		t.Errorf("stella.1 lacks its flags or exit codes: %v", err)
	}
}
