package sbom

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// schemaFS holds the official CycloneDX JSON schemas, gzip-compressed; schema/PROVENANCE says
// where each comes from.
//
//go:embed schema/*.json.gz
var schemaFS embed.FS

// schemaBase is the URL the CycloneDX schemas are published under; their $refs resolve against it.
const schemaBase = "http://cyclonedx.org/schema/"

// cdxSpecVersions are the CycloneDX versions with an embedded schema, bom-<v>.schema.json.
func cdxSpecVersions() []string { return []string{"1.2", "1.3", "1.4", "1.5", "1.6"} }

// schemaSet is the compiled CycloneDX schemas, one per specVersion. It is immutable once built.
type schemaSet map[string]*jsonschema.Schema

// compileSchemas compiles every embedded CycloneDX schema. The CycloneDX schemas use formats
// (date-time, iri-reference, idn-email, …); they are asserted, as the specification's own tests
// expect.
func compileSchemas() (schemaSet, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.UseLoader(noLoader{})
	entries, err := schemaFS.ReadDir("schema")
	if err != nil {
		return nil, fmt.Errorf("reading embedded schemas: %w", err)
	}
	for _, ent := range entries {
		name := strings.TrimSuffix(ent.Name(), ".gz")
		doc, err := readSchema(ent.Name())
		if err != nil {
			return nil, err
		}
		if err := c.AddResource(schemaBase+name, doc); err != nil {
			return nil, fmt.Errorf("adding schema %s: %w", name, err)
		}
	}
	set := schemaSet{}
	for _, v := range cdxSpecVersions() {
		s, err := c.Compile(schemaBase + "bom-" + v + ".schema.json")
		if err != nil {
			return nil, fmt.Errorf("compiling CycloneDX %s schema: %w", v, err)
		}
		set[v] = s
	}
	return set, nil
}

func readSchema(file string) (any, error) {
	f, err := schemaFS.Open("schema/" + file)
	if err != nil {
		return nil, fmt.Errorf("opening embedded schema %s: %w", file, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("reading embedded schema %s: %w", file, err)
	}
	doc, err := jsonschema.UnmarshalJSON(zr)
	if err != nil {
		return nil, fmt.Errorf("parsing embedded schema %s: %w", file, err)
	}
	return doc, nil
}

// noLoader refuses to fetch anything: every schema needed is embedded.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("schema %s is not embedded (no network access)", url)
}

// validateCycloneDX validates a CycloneDX JSON document against the schema of its specVersion.
func (d *Decoder) validateCycloneDX(data []byte, specVersion string) error {
	const f = FormatCycloneDXJSON
	set, err := d.schemas()
	if err != nil {
		return fmt.Errorf("cyclonedx-json: %w", err) // a build problem, not the document's
	}
	s, ok := set[specVersion]
	if !ok {
		return unsupportedCycloneDX(f, specVersion)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return jsonSchemaInputError(f, data, err)
	}
	tolerate(doc)
	if err := s.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return schemaError(f, specVersion, ve)
		}
		return &Error{Format: f, Err: err}
	}
	return nil
}

// jsonSchemaInputError reports a document the schema library could not parse; encoding/json
// gives the better location, so ask it.
func jsonSchemaInputError(f Format, data []byte, err error) error {
	var v any
	if jerr := json.Unmarshal(data, &v); jerr != nil {
		return jsonError(f, data, jerr)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &Error{Format: f, Where: position(data, int64(len(data))), Err: errors.New("JSON document ends unexpectedly")}
	}
	return &Error{Format: f, Err: fmt.Errorf("JSON: %w", err)}
}

// schemaError renders the most specific failure of a validation: its JSON pointer and message.
func schemaError(f Format, specVersion string, ve *jsonschema.ValidationError) error {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	where := "/" + strings.Join(leaf.InstanceLocation, "/")
	msg := leaf.ErrorKind.LocalizedString(message.NewPrinter(language.English))
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &Error{Format: f, Where: where, Err: fmt.Errorf("does not conform to the CycloneDX %s schema: %s", specVersion, msg)}
}

// tolerate removes, before validation, known harmless defects of real tools' output:
//
//   - osv-scalibr (2025) writes an empty subject, "metadata": {"component": {"type": "", "name": ""}};
//     an empty type is not in the schema's enum. The empty subject says nothing, so it is ignored.
func tolerate(doc any) {
	root, _ := doc.(map[string]any)
	md, _ := root["metadata"].(map[string]any)
	if mc, ok := md["component"].(map[string]any); ok && mc["type"] == "" && mc["name"] == "" {
		delete(md, "component")
	}
}
