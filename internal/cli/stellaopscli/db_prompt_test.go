package stellaopscli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

// TestPromptExport drives the interactive choice of a trivy-db run's ORAS and bundle switches
// (shown only on a terminal, which tests never are).
func TestPromptExport(t *testing.T) {
	flag := func(b *bool) string {
		if b == nil {
			return "default"
		}
		if *b {
			return "yes"
		}
		return "no"
	}
	for _, c := range []struct {
		name, input string
		delta       bool
		publish     string
		bundle      string
	}{
		{"full yes no", "y\nn\n", false, "yes", "no"},
		{"delta defaults", "\n\n", true, "default", "default"},
		{"retry on nonsense", "maybe\nYES\n\n", false, "yes", "default"},
		{"end of input", "n", true, "no", "default"},
		{"nothing", "", false, "default", "default"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := client.ConcelierParameters{}
			if c.delta {
				p.Delta = client.JobFlag(true)
			}
			var out bytes.Buffer
			got, err := promptExport(strings.NewReader(c.input), &out, p)
			if err != nil {
				t.Fatal(err)
			}
			publish, bundle := got.PublishFull, got.IncludeFull
			other1, other2 := got.PublishDelta, got.IncludeDelta
			mode := "full"
			if c.delta {
				publish, bundle, other1, other2 = got.PublishDelta, got.IncludeDelta, got.PublishFull, got.IncludeFull
				mode = "delta"
			}
			if flag(publish) != c.publish || flag(bundle) != c.bundle || other1 != nil || other2 != nil {
				t.Errorf("publish %s bundle %s (other mode %v %v); want %s %s", flag(publish), flag(bundle), other1, other2, c.publish, c.bundle)
			}
			if !strings.Contains(out.String(), "Push this "+mode+" run to the ORAS registry? [y/n, Enter: server default]") {
				t.Errorf("prompt: %q", out.String())
			}
		})
	}
}

// TestNotInteractive: buffers are not terminals, so db export never prompts in tests or pipes.
func TestNotInteractive(t *testing.T) {
	g := &globals{io: cli.IO{In: strings.NewReader("y\n"), Out: &bytes.Buffer{}}}
	if g.interactive() {
		t.Error("buffers taken for a terminal")
	}
}
