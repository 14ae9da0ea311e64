package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/stellaops/stellaops/internal/advisory"
	"github.com/stellaops/stellaops/internal/match"
	"github.com/stellaops/stellaops/internal/scan"
)

// SARIF 2.1.0, the subset code-scanning tools read: one rule per vulnerability, one result per
// finding, located at the file the package was found in (or the target for SBOMs).
const sarifSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifLevel     `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifLevel struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

// sarifLevelOf maps severity to SARIF levels as code-scanning tools expect.
func sarifLevelOf(l advisory.Level) string {
	switch l {
	case advisory.LevelCritical, advisory.LevelHigh:
		return "error"
	case advisory.LevelMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is the numeric string GitHub code scanning ranks by: the CVSS score when we
// have one, else the middle of the level's band.
func securitySeverity(f *match.Finding) string {
	best := 0.0
	for _, c := range f.CVSS {
		best = max(best, c.Score)
	}
	if best == 0 {
		switch f.Severity {
		case advisory.LevelCritical:
			best = 9.5
		case advisory.LevelHigh:
			best = 8.0
		case advisory.LevelMedium:
			best = 5.5
		case advisory.LevelLow:
			best = 2.0
		}
	}
	return strconv.FormatFloat(best, 'f', 1, 64)
}

func writeSARIF(w io.Writer, res *scan.Result, opts Options) error {
	ruleIndex := map[string]int{}
	var rules []sarifRule
	ids := make([]string, 0, len(res.Findings))
	first := map[string]*match.Finding{}
	for i := range res.Findings {
		f := &res.Findings[i]
		if _, ok := first[f.ID]; !ok {
			first[f.ID] = f
			ids = append(ids, f.ID)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := first[id]
		desc := f.Summary
		if desc == "" {
			desc = id
		}
		tags := []string{"security", "vulnerability", strings.ToLower(string(f.Severity))}
		ruleIndex[id] = len(rules)
		rules = append(rules, sarifRule{
			ID: id, Name: "Vulnerability", ShortDescription: sarifText{desc}, FullDescription: sarifText{desc},
			HelpURI: f.PrimaryURL,
			Help: sarifText{fmt.Sprintf("Vulnerability %s\nSeverity: %s\nAliases: %s\n%s", id, f.Severity,
				strings.Join(f.Aliases, ", "), f.PrimaryURL)},
			DefaultConfiguration: sarifLevel{sarifLevelOf(f.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity(f), "tags": tags, "precision": "very-high"},
		})
	}
	results := make([]sarifResult, 0, len(res.Findings))
	for i := range res.Findings {
		f := &res.Findings[i]
		msg := fmt.Sprintf("Package: %s\nInstalled version: %s\nVulnerability: %s\nSeverity: %s\nStatus: %s",
			f.Component.Name, f.InstalledVersion, f.ID, f.Severity, f.Status)
		if f.FixedVersion != "" {
			msg += "\nFixed version: " + f.FixedVersion
		}
		uri := res.Target.Name
		if len(f.Component.Locations) > 0 {
			uri = f.Component.Locations[0]
		}
		results = append(results, sarifResult{
			RuleID: f.ID, RuleIndex: ruleIndex[f.ID], Level: sarifLevelOf(f.Severity), Message: sarifText{msg},
			Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: uri}, Region: sarifRegion{StartLine: 1}}}},
			Properties: map[string]any{"purl": f.Component.PURL, "matchMethod": f.MatchMethod, "snapshot": f.Snapshot},
		})
	}
	log := sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{{
		Tool: sarifTool{Driver: sarifDriver{Name: "StellaOps", Version: opts.ToolVersion,
			InformationURI: "https://stella-ops.org", Rules: rules}},
		Results: results,
	}}}
	if log.Runs[0].Tool.Driver.Rules == nil {
		log.Runs[0].Tool.Driver.Rules = []sarifRule{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(log)
}
