package stellaopscli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stellaops/stellaops/internal/cli"
	"github.com/stellaops/stellaops/pkg/client"
)

type runtimePolicyFlags struct {
	images    []string
	file      string
	namespace string
	labels    []string
	json      bool
}

func runtimeCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "runtime", Short: "Query runtime verdicts"}
	policy := &cobra.Command{Use: "policy", Short: "Runtime policy verdicts (admission webhook parity)"}
	var f runtimePolicyFlags
	test := &cobra.Command{
		Use:   "test [-i DIGEST]... [-f FILE] [--namespace NS] [-l key=value]... [--json]",
		Short: "Ask Scanner.WebService for runtime verdicts (Webhook parity)",
		Long: `Ask Scanner.WebService for runtime verdicts, as the admission webhook does: posts to
POST /api/v1/scanner/policy/runtime, deduplicates image digests, and prints TTL/policy revision plus
per-image columns for signed state, SBOM referrers, quieted-by metadata, confidence, and Rekor
attestation (uuid + verified flag). Digests come from --image/-i (repeatable, comma/space lists
supported) and --file/-f (whitespace-delimited; "-" is standard input); with neither, newline or
whitespace-delimited digests are read from standard input when it is piped. --json emits the raw
response without additional logging.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.runtimePolicyTest(cmd.Context(), &f) },
	}
	fl := test.Flags()
	fl.StringArrayVarP(&f.images, "image", "i", nil, "image digest (sha256:…); repeatable, comma/space lists supported")
	fl.StringVarP(&f.file, "file", "f", "", "file of whitespace-delimited image digests (- for standard input)")
	fl.StringVar(&f.namespace, "namespace", "", "Kubernetes namespace the workload would run in")
	fl.StringVar(&f.namespace, "ns", "", "alias of --namespace")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "workload label key=value (repeatable)")
	fl.BoolVar(&f.json, "json", false, "print the raw JSON response")
	policy.AddCommand(test)
	cmd.AddCommand(policy)
	return cmd
}

func (g *globals) runtimePolicyTest(ctx context.Context, f *runtimePolicyFlags) error {
	var digests []string
	for _, v := range f.images {
		digests = append(digests, splitList(v)...)
	}
	if f.file != "" {
		var b []byte
		var err error
		if f.file == "-" {
			b, err = io.ReadAll(g.io.In)
		} else {
			b, err = os.ReadFile(f.file)
		}
		if err != nil {
			return cli.Usagef("--file: %v", err)
		}
		digests = append(digests, strings.Fields(string(b))...)
	}
	if len(f.images) == 0 && f.file == "" && g.piped() {
		b, err := io.ReadAll(g.io.In)
		if err != nil {
			return fmt.Errorf("reading standard input: %w", err)
		}
		digests = append(digests, strings.Fields(string(b))...)
	}
	digests = dedupe(digests)
	if len(digests) == 0 {
		return cli.Usagef("no image digests: pass --image/-i, --file/-f, or pipe them on standard input")
	}
	req := client.RuntimePolicyRequest{Namespace: f.namespace, Images: digests}
	for _, l := range f.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return cli.Usagef("--label %q: want key=value", l)
		}
		if req.Labels == nil {
			req.Labels = map[string]string{}
		}
		req.Labels[strings.TrimSpace(k)] = v
	}
	var resp client.RuntimePolicyResponse
	var raw *client.Response
	if err := g.call(ctx, "runtime policy test", func(c *client.Client) error {
		var err error
		resp, raw, err = c.RuntimePolicy(ctx, req)
		return err
	}); err != nil {
		return err
	}
	if f.json {
		b := raw.Body
		if len(b) == 0 || b[len(b)-1] != '\n' {
			b = append(b, '\n')
		}
		_, err := g.io.Out.Write(b)
		return err
	}
	writeVerdicts(g.io.Out, digests, resp)
	return nil
}

// piped reports whether standard input is something other than a terminal (a pipe, a file or,
// in tests, a buffer), from which digests may be read.
func (g *globals) piped() bool {
	if g.io.In == nil {
		return false
	}
	if f, ok := g.io.In.(*os.File); ok {
		return !cli.IsTerminal(f)
	}
	return true
}

// splitList splits a comma/space list.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// dedupe drops repeated digests (hex compared in lower case, as the server normalises it),
// keeping the first occurrence's order.
func dedupe(ds []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		d = normaliseDigest(d)
		if d == "" || seen[d] {
			continue
		}
		seen[d] = true
		out = append(out, d)
	}
	return out
}

func normaliseDigest(d string) string {
	d = strings.TrimSpace(d)
	if alg, hex, ok := strings.Cut(d, ":"); ok {
		return alg + ":" + strings.ToLower(hex)
	}
	return d
}

// writeVerdicts prints the response for people: TTL and policy revision, then one row per
// image in the order asked, then the reasons behind verdicts that are not a plain pass.
func writeVerdicts(w io.Writer, order []string, resp client.RuntimePolicyResponse) {
	fmt.Fprintf(w, "TTL:             %ds (expires %s)\n", resp.TTLSeconds, resp.ExpiresAtUTC.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "Policy revision: %s\n\n", orDash(resp.PolicyRevision))
	keys := slices.Clone(order)
	for k := range resp.Results {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tVERDICT\tSIGNED\tSBOM REFERRER\tQUIETED BY\tCONFIDENCE\tREKOR")
	for _, d := range keys {
		v, ok := resp.Results[d]
		if !ok {
			fmt.Fprintf(tw, "%s\t(no verdict)\t\t\t\t\t\n", d)
			continue
		}
		quieted := "-"
		if len(v.QuietedBy) > 0 {
			quieted = strings.Join(v.QuietedBy, ",")
		}
		rekor := "-"
		if v.Rekor != nil {
			state := "unverified"
			if v.Rekor.Verified {
				state = "verified"
			}
			rekor = v.Rekor.UUID + " (" + state + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d, v.PolicyVerdict, yesNo(v.Signed), yesNo(v.HasSBOMReferrers), quieted,
			strconv.FormatFloat(v.Confidence, 'f', 2, 64), rekor)
	}
	tw.Flush()
	first := true
	for _, d := range keys {
		v := resp.Results[d]
		if len(v.Reasons) == 0 {
			continue
		}
		if first {
			fmt.Fprintln(w, "\nReasons:")
			first = false
		}
		fmt.Fprintf(w, "  %s:\n", d)
		for _, r := range v.Reasons {
			fmt.Fprintf(w, "    - %s\n", r)
		}
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
