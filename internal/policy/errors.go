package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *ValidationErrors: the policy was rejected.
var ErrInvalid = errors.New("invalid policy")

// ErrNoPolicy is returned by Preview when the request carries no policy and there is no active
// one to compare against.
var ErrNoPolicy = errors.New("no policy: none in the request and none active")

// ValidationError is one problem with a policy, in the spec's shape
// ({"path":"$.rules[0].severity","msg":"Invalid level 'None'"}) plus the YAML line it was
// found on, when known. Code is the diagnostics issue code and is not part of that shape.
type ValidationError struct {
	Path string `json:"path"`
	Msg  string `json:"msg"`
	Line int    `json:"line,omitempty"`
	Code string `json:"-"`
}

func (e ValidationError) String() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", e.Path, e.Line, e.Msg)
	}
	return e.Path + ": " + e.Msg
}

// ValidationErrors is every problem found in a rejected policy, in document order. Its JSON
// encoding is the spec's validation error body ({"errors":[...]}).
type ValidationErrors struct {
	Errors []ValidationError `json:"errors"`
}

func (e *ValidationErrors) Error() string {
	var b strings.Builder
	b.WriteString("invalid policy: ")
	for i, v := range e.Errors {
		if i == 3 {
			b.WriteString("; and " + strconv.Itoa(len(e.Errors)-3) + " more")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationErrors) Is(target error) bool { return target == ErrInvalid }

// Issue codes for validation errors. Lint codes (warnings, infos) are in lint.go.
const (
	codeYAMLSyntax      = "policy.yaml.syntax"
	codeYAMLUnsupported = "policy.yaml.unsupported"
	codeLimit           = "policy.limit.exceeded"
	codeSchema          = "policy.schema.violation"
	codeFieldUnknown    = "policy.field.unknown"
	codeFieldRequired   = "policy.field.required"
	codeFieldType       = "policy.field.type"
	codeVersion         = "policy.version.unsupported"
	codeLevel           = "policy.level.invalid"
	codeAction          = "policy.action.invalid"
	codePackage         = "policy.package.invalid"
	codeExpires         = "policy.expires.invalid"
	codeWeight          = "policy.scoring.invalid"
	codeDuplicateName   = "policy.rule.name.duplicate"
	codeQuietConflict   = "policy.rule.quiet.conflict"
	codeRegoParse       = "policy.rego.parse"
	codeRegoCompile     = "policy.rego.compile"
	codeFormat          = "policy.format.unsupported"
)
