package vex

import "errors"

// Errors wrapped by every parse error, for callers that act on the kind of failure.
var (
	// ErrMalformed: the document is not valid JSON or a field has an impossible value.
	ErrMalformed = errors.New("malformed VEX document")
	// ErrTooLarge: the document is larger than Config.MaxDocumentBytes.
	ErrTooLarge = errors.New("VEX document too large")
	// ErrTooMany: the document has more statements or claims than the Config allows.
	ErrTooMany = errors.New("VEX document has too many statements or claims")
	// ErrFormat: the document is not in the expected (or any supported) VEX format.
	ErrFormat = errors.New("not a supported VEX document")
)

// Config bounds what a Parser accepts. A zero or negative field means its default.
type Config struct {
	// MaxDocumentBytes is the largest document accepted, counted after gunzip. Red Hat's
	// per-CVE VEX files for the kernel reach tens of MB, hence the default of 64 MiB.
	MaxDocumentBytes int64
	// MaxStatements bounds OpenVEX statements, CycloneDX vulnerabilities and CSAF
	// vulnerabilities.
	MaxStatements int
	// MaxClaims bounds the claims a document expands to (statements × products), counted before
	// merging duplicates, so a small document cannot fan out into unbounded memory.
	MaxClaims int
}

// DefaultConfig returns the limits used by the package-level Parse functions.
func DefaultConfig() Config {
	return Config{
		MaxDocumentBytes: 64 << 20,
		MaxStatements:    100_000,
		MaxClaims:        250_000,
	}
}

// withDefaults fills the zero fields, so Config{MaxClaims: 10} keeps the other defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxDocumentBytes <= 0 {
		c.MaxDocumentBytes = d.MaxDocumentBytes
	}
	if c.MaxStatements <= 0 {
		c.MaxStatements = d.MaxStatements
	}
	if c.MaxClaims <= 0 {
		c.MaxClaims = d.MaxClaims
	}
	return c
}

// Parser parses VEX documents within its Config's limits. It is safe for concurrent use.
type Parser struct {
	cfg Config
}

// New returns a Parser with cfg's limits (zero fields take their defaults).
func New(cfg Config) *Parser {
	return &Parser{cfg: cfg.withDefaults()}
}
