package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed policy-schema.json
var schemaJSON []byte

// SchemaMediaType is the media type Schema is served as.
const SchemaMediaType = "application/schema+json"

// schemaID is the schema's $id, under which it is registered with the compiler.
const schemaID = "https://stellaops.org/schemas/policy-schema@1.json"

// Schema returns the policy-schema@1 JSON Schema (draft 2020-12), a fresh copy each call.
func Schema() []byte {
	return bytes.Clone(schemaJSON)
}

// compiledSchema compiles the embedded schema once. It never changes after that, so one
// package-level value is shared by every engine.
var compiledSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, fmt.Errorf("policy schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	// Only the embedded schema and the embedded draft metaschemas may be used: nothing is ever
	// fetched, not even from a file.
	c.UseLoader(noLoader{})
	if err := c.AddResource(schemaID, doc); err != nil {
		return nil, fmt.Errorf("policy schema: %w", err)
	}
	s, err := c.Compile(schemaID)
	if err != nil {
		return nil, fmt.Errorf("policy schema: %w", err)
	}
	return s, nil
})

type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("policy schema: refusing to load %s", url)
}

var schemaPrinter = message.NewPrinter(language.English)

// schemaErrors validates a converted YAML tree against the schema and returns its leaf errors
// as validation errors at the spec's paths.
func schemaErrors(t *tree) ([]ValidationError, error) {
	s, err := compiledSchema()
	if err != nil {
		return nil, err
	}
	err = s.Validate(t.root)
	if err == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return nil, fmt.Errorf("policy schema: %w", err)
	}
	var out []ValidationError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		path := pointerToPath(t.root, e.InstanceLocation)
		msg := e.ErrorKind.LocalizedString(schemaPrinter)
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		out = append(out, ValidationError{Path: path, Line: t.line(path), Code: codeSchema, Msg: msg})
	}
	walk(ve)
	return out, nil
}
