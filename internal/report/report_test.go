package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/advisory/snapshot"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/report"
	"github.com/stellaops/stellaops/internal/sbom"
	"github.com/stellaops/stellaops/internal/scan"
	"github.com/stellaops/stellaops/internal/target"
)

var update = flag.Bool("update", false, "rewrite golden files")

// result scans the real postgres-stretch SBOM against a snapshot of the real Go records that
// concern it.
func result(t *testing.T) *scan.Result {
	t.Helper()
	ctx := context.Background()
	res, err := advisory.LoadOSV(ctx, "osv:Go", "testdata/osv")
	if err != nil || len(res.Errors) > 0 {
		t.Fatalf("load: %v %+v", err, res)
	}
	p := filepath.Join(t.TempDir(), "s.db")
	if _, err := snapshot.Build(ctx, p, res.Advisories, []snapshot.SourceInfo{{Name: "osv:Go", Documents: res.Documents, Advisories: len(res.Advisories)}},
		time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	s, err := snapshot.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	tr, err := target.Inventory(ctx, "testdata/postgres-stretch.cdx.xml.gz", target.Options{Decoder: sbom.NewDecoder(sbom.DefaultConfig())})
	if err != nil {
		t.Fatal(err)
	}
	r, err := scan.MatchInventory(ctx, tr.Inventory, s, match.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestFormats(t *testing.T) {
	res := result(t)
	if len(res.Findings) != 13 {
		t.Fatalf("findings = %d, want osv-scanner's 13 (the withdrawn record must not count)", len(res.Findings))
	}
	for _, f := range report.Formats {
		t.Run(f, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := report.Write(&a, res, f, report.Options{ToolVersion: "test"}); err != nil {
				t.Fatal(err)
			}
			if err := report.Write(&b, result(t), f, report.Options{ToolVersion: "test"}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Fatal("output differs between two runs")
			}
			golden(t, "postgres-stretch."+f+".golden", a.Bytes())
		})
	}
}

// The CycloneDX report is a valid CycloneDX 1.6 document (our decoder validates against the
// official schema) whose vulnerabilities point at components that exist in it.
func TestCycloneDXReportIsValidAndLinked(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, result(t), "cyclonedx-json", report.Options{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sbom.NewDecoder(sbom.DefaultConfig()).Decode(context.Background(), bytes.NewReader(buf.Bytes()), sbom.FormatCycloneDXJSON); err != nil {
		t.Fatalf("our CycloneDX report fails validation: %v", err)
	}
	var doc struct {
		Components []struct {
			Ref string `json:"bom-ref"`
		} `json:"components"`
		Vulnerabilities []struct {
			ID         string `json:"id"`
			References []struct {
				ID string `json:"id"`
			} `json:"references"`
			Affects []struct {
				Ref string `json:"ref"`
			} `json:"affects"`
		} `json:"vulnerabilities"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	refs := map[string]bool{}
	for _, c := range doc.Components {
		refs[c.Ref] = true
	}
	if len(doc.Vulnerabilities) != 13 {
		t.Fatalf("vulnerabilities = %d, want 13", len(doc.Vulnerabilities))
	}
	for _, v := range doc.Vulnerabilities {
		if len(v.Affects) == 0 {
			t.Errorf("%s affects nothing", v.ID)
		}
		for _, a := range v.Affects {
			if !refs[a.Ref] {
				t.Errorf("%s affects %q, which is not a component", v.ID, a.Ref)
			}
		}
		goID := false
		for _, r := range v.References {
			goID = goID || strings.HasPrefix(r.ID, "GO-")
		}
		if !goID {
			t.Errorf("%s: the GO- identifier is not among its references", v.ID)
		}
	}
}

// sarifValidator compiles the official OASIS SARIF 2.1.0 schema (testdata/PROVENANCE.md), with
// formats such as uri asserted.
func sarifValidator(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	const id = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Our SARIF validates against the SARIF 2.1.0 schema, for a report with findings and for an
// empty one; the validator is shown to refuse a log the schema forbids.
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schema := sarifValidator(t)
	validate := func(b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return err
		}
		return schema.Validate(v)
	}
	for name, res := range map[string]*scan.Result{"findings": result(t), "empty": {}} {
		var buf bytes.Buffer
		if err := report.Write(&buf, res, "sarif", report.Options{ToolVersion: "test"}); err != nil {
			t.Fatal(err)
		}
		if err := validate(buf.Bytes()); err != nil {
			t.Errorf("%s: our SARIF fails the 2.1.0 schema: %v", name, err)
		}
	}
	if err := validate([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{}},"results":[{"level":"severe","message":{"text":"x"}}]}]}`)); err == nil {
		t.Error("the validator accepts a log with no driver name and an unknown level")
	}
}

func TestSARIFShape(t *testing.T) {
	var buf bytes.Buffer
	if err := report.Write(&buf, result(t), "sarif", report.Options{ToolVersion: "test"}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID string `json:"id"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Level     string `json:"level"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	if log.Version != "2.1.0" || len(run.Results) != 13 || len(run.Tool.Driver.Rules) != 13 {
		t.Fatalf("version %s, %d results, %d rules", log.Version, len(run.Results), len(run.Tool.Driver.Rules))
	}
	for _, r := range run.Results {
		if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Level == "" {
			t.Errorf("result %s points at rule %d (%s)", r.RuleID, r.RuleIndex, run.Tool.Driver.Rules[r.RuleIndex].ID)
		}
	}
}

func TestUnknownFormat(t *testing.T) {
	if err := report.Write(&bytes.Buffer{}, result(t), "xml", report.Options{}); err == nil || report.Known("xml") {
		t.Error("unknown format accepted")
	}
}
