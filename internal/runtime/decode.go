package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits bound a batch (spec §2.8: 256 envelopes, 1 MiB by default).
type Limits struct {
	MaxBatchSize    int
	MaxPayloadBytes int64
}

// DefaultLimits are the spec's defaults.
func DefaultLimits() Limits { return Limits{MaxBatchSize: 256, MaxPayloadBytes: 1 << 20} }

// Reason classifies why a batch was refused; every reason is a 400 on the wire.
type Reason string

// Refusal reasons, in the spec's terms.
const (
	ReasonEmpty     Reason = "empty batch"
	ReasonTooMany   Reason = "too many events"
	ReasonTooLarge  Reason = "payload too large"
	ReasonDuplicate Reason = "duplicate event ids"
	ReasonSchema    Reason = "unsupported schema version"
	ReasonInvalid   Reason = "invalid"
)

// FieldError locates one problem in a request ("$.events[3].event.kind").
type FieldError struct {
	Path string
	Msg  string
}

// ValidationError is a refused request: the first reason met and every field error found
// (at most maxFieldErrors).
type ValidationError struct {
	Reason Reason
	Errors []FieldError
	// Total counts the errors found, listed or not.
	Total int
}

func (e *ValidationError) Error() string {
	if len(e.Errors) == 0 {
		return string(e.Reason)
	}
	msg := e.Errors[0].Path + ": " + e.Errors[0].Msg
	if n := max(e.Total, len(e.Errors)) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// maxFieldErrors bounds the errors one refusal lists: enough to fix a batch, not an echo of it.
const maxFieldErrors = 20

type collector struct {
	reason Reason
	errs   []FieldError
	n      int // errors added, listed or not
}

func (c *collector) add(reason Reason, path, format string, args ...any) {
	if c.reason == "" {
		c.reason = reason
	}
	c.n++
	if len(c.errs) == maxFieldErrors {
		return
	}
	c.errs = append(c.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *collector) err() error {
	if c.reason == "" {
		return nil
	}
	return &ValidationError{Reason: c.reason, Errors: c.errs, Total: c.n}
}

// Batch is a decoded, validated batch. Every envelope's schema version is SchemaVersion,
// timestamps and digests are normalised, and (tenant, eventId) pairs are unique.
type Batch struct {
	BatchID string
	Events  []Envelope
}

type wireBatch struct {
	BatchID *string           `json:"batchId"`
	Events  []json.RawMessage `json:"events"`
}

type wireEnvelope struct {
	SchemaVersion *string         `json:"schemaVersion"`
	Event         json.RawMessage `json:"event"`
}

// strict decodes one JSON value into dst, refusing unknown fields and trailing data.
func strict(b []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return errors.New(jsonMsg(err))
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// jsonMsg words a decoding error without Go type names.
func jsonMsg(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := te.Field
		if where == "" {
			return fmt.Sprintf("a JSON %s is not allowed here", te.Value)
		}
		return fmt.Sprintf("%s: a JSON %s is not allowed here", where, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// DecodeBatch decodes and validates a request body of POST /api/v1/runtime/events. A refusal
// is a *ValidationError.
//
// A valid batch is decoded in one typed pass over the body. Anything that pass cannot accept
// whole is decoded again piece by piece (batch, envelope, event), which locates every
// problem at its $.events[i] path: refusals are rare, and they must be precise. The two
// agree on every body without repeated object keys (FuzzDecodeBatch holds them to that);
// with repeated keys, encoding/json's merging may pick a different one, and the result is
// validated all the same.
func DecodeBatch(body []byte, lim Limits) (*Batch, error) {
	if lim.MaxBatchSize <= 0 || lim.MaxPayloadBytes <= 0 {
		lim = DefaultLimits()
	}
	if int64(len(body)) > lim.MaxPayloadBytes {
		return nil, &ValidationError{Reason: ReasonTooLarge, Errors: []FieldError{{Path: "$",
			Msg: fmt.Sprintf("the batch is %d bytes; at most %d are accepted (maxPayloadBytes)", len(body), lim.MaxPayloadBytes)}}}
	}
	if b := decodeValid(body, lim); b != nil {
		return b, nil
	}
	return decodePieces(body, lim)
}

// fastBatch and fastEnvelope are the body typed through, for the one-pass decoder.
type fastBatch struct {
	BatchID *string        `json:"batchId"`
	Events  []fastEnvelope `json:"events"`
}

type fastEnvelope struct {
	SchemaVersion *string `json:"schemaVersion"`
	Event         *Event  `json:"event"`
}

// decodeValid is the one-pass decoder: the batch when body is entirely valid, else nil.
func decodeValid(body []byte, lim Limits) *Batch {
	var fb fastBatch
	if strict(body, &fb) != nil || len(fb.Events) == 0 || len(fb.Events) > lim.MaxBatchSize {
		return nil
	}
	c := &collector{}
	b := &Batch{Events: make([]Envelope, 0, len(fb.Events))}
	if fb.BatchID != nil {
		if b.BatchID = *fb.BatchID; checkText(b.BatchID, 256, false) != "" {
			return nil
		}
	}
	seen := make(map[[2]string]struct{}, len(fb.Events))
	for _, fe := range fb.Events {
		if fe.SchemaVersion == nil || *fe.SchemaVersion != SchemaVersion || fe.Event == nil {
			return nil
		}
		env := Envelope{SchemaVersion: SchemaVersion, Event: *fe.Event}
		validateEvent(c, "", &env.Event)
		key := [2]string{env.Event.Tenant, env.Event.EventID}
		if _, dup := seen[key]; dup || c.n > 0 {
			return nil
		}
		seen[key] = struct{}{}
		b.Events = append(b.Events, env)
	}
	return b
}

// decodePieces decodes body a level at a time, collecting every problem with its path.
func decodePieces(body []byte, lim Limits) (*Batch, error) {
	var wb wireBatch
	if err := strict(body, &wb); err != nil {
		return nil, &ValidationError{Reason: ReasonInvalid, Errors: []FieldError{{Path: "$", Msg: "malformed JSON: " + err.Error()}}}
	}
	c := &collector{}
	b := &Batch{}
	if wb.BatchID != nil {
		b.BatchID = *wb.BatchID
		if msg := checkText(b.BatchID, 256, false); msg != "" {
			c.add(ReasonInvalid, "$.batchId", "%s", msg)
		}
	}
	switch n := len(wb.Events); {
	case n == 0:
		c.add(ReasonEmpty, "$.events", "the batch has no events")
		return nil, c.err()
	case n > lim.MaxBatchSize:
		c.add(ReasonTooMany, "$.events", "the batch has %d events; at most %d are accepted (maxBatchSize)", n, lim.MaxBatchSize)
		return nil, c.err()
	}
	b.Events = make([]Envelope, 0, len(wb.Events))
	seen := make(map[[2]string]int, len(wb.Events))
	for i, raw := range wb.Events {
		path := fmt.Sprintf("$.events[%d]", i)
		env, ok := decodeEnvelope(c, path, raw)
		if !ok {
			continue
		}
		key := [2]string{env.Event.Tenant, env.Event.EventID}
		if first, dup := seen[key]; dup {
			c.add(ReasonDuplicate, path+".event.eventId", "eventId %q of tenant %q repeats $.events[%d]", key[1], key[0], first)
			continue
		}
		seen[key] = i
		b.Events = append(b.Events, env)
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	return b, nil
}

// decodeEnvelope decodes one element of events; problems go to c.
func decodeEnvelope(c *collector, path string, raw json.RawMessage) (Envelope, bool) {
	var we wireEnvelope
	if err := strict(raw, &we); err != nil {
		c.add(ReasonInvalid, path, "%s", err)
		return Envelope{}, false
	}
	switch {
	case we.SchemaVersion == nil:
		c.add(ReasonInvalid, path+".schemaVersion", "is required (%s)", SchemaVersion)
		return Envelope{}, false
	case *we.SchemaVersion != SchemaVersion:
		c.add(ReasonSchema, path+".schemaVersion", "%q is not supported; this server accepts %s", *we.SchemaVersion, SchemaVersion)
		return Envelope{}, false
	case len(we.Event) == 0 || string(we.Event) == "null":
		c.add(ReasonInvalid, path+".event", "is required")
		return Envelope{}, false
	}
	env := Envelope{SchemaVersion: SchemaVersion}
	if err := strict(we.Event, &env.Event); err != nil {
		c.add(ReasonInvalid, path+".event", "%s", err)
		return Envelope{}, false
	}
	before := c.n
	validateEvent(c, path+".event", &env.Event)
	return env, c.n == before
}

// Bounds of the event's fields. The batch's byte cap bounds the totals; these keep single
// values, which become index keys and log attributes, reasonable.
const (
	maxIDLen    = 128
	maxNameLen  = 256
	maxRefLen   = 1024
	maxPathLen  = 4096
	maxValueLen = 8192
	// maxSafeInteger is I-JSON's (RFC 7493) largest exact integer: the stored canonical form
	// (RFC 8785) writes numbers as IEEE doubles, so larger ones would change.
	maxSafeInteger = 1<<53 - 1
)

func validateEvent(c *collector, path string, e *Event) {
	// Empty lists and maps are left out of the stored form, like absent ones: make them nil
	// so that a stored payload decodes to the same event.
	if len(e.LoadedLibs) == 0 {
		e.LoadedLibs = nil
	}
	if len(e.Evidence) == 0 {
		e.Evidence = nil
	}
	if len(e.Annotations) == 0 {
		e.Annotations = nil
	}
	if e.Process != nil && len(e.Process.Entrypoint) == 0 {
		e.Process.Entrypoint = nil
	}
	need := func(field, v string, max int, id bool) {
		if v == "" {
			c.add(ReasonInvalid, path+"."+field, "is required")
			return
		}
		if msg := checkText(v, max, id); msg != "" {
			c.add(ReasonInvalid, path+"."+field, "%s", msg)
		}
	}
	opt := func(field, v string, max int, id bool) {
		if v == "" {
			return
		}
		if msg := checkText(v, max, id); msg != "" {
			c.add(ReasonInvalid, path+"."+field, "%s", msg)
		}
	}
	need("eventId", e.EventID, maxIDLen, true)
	need("tenant", e.Tenant, maxIDLen, true)
	need("node", e.Node, maxNameLen, false)
	switch {
	case e.When == "":
		c.add(ReasonInvalid, path+".when", "is required (RFC 3339)")
	default:
		t, err := time.Parse(time.RFC3339Nano, e.When)
		if err != nil || len(e.When) > 64 {
			c.add(ReasonInvalid, path+".when", "%q is not an RFC 3339 timestamp", clip(e.When))
		} else {
			e.When = FormatTime(t)
		}
	}
	switch {
	case e.Kind == "":
		c.add(ReasonInvalid, path+".kind", "is required (%s)", kindList())
	case !e.Kind.known():
		c.add(ReasonInvalid, path+".kind", "%q is not a kind of %s (%s)", clip(string(e.Kind)), SchemaVersion, kindList())
	}
	if r := e.Runtime; r != nil {
		opt("runtime.engine", r.Engine, maxIDLen, false)
		opt("runtime.version", r.Version, maxIDLen, false)
		if *r == (Engine{}) {
			e.Runtime = nil
		}
	}
	if w := e.Workload; w != nil {
		opt("workload.platform", w.Platform, maxIDLen, false)
		opt("workload.namespace", w.Namespace, maxNameLen, true)
		opt("workload.pod", w.Pod, maxNameLen, true)
		opt("workload.container", w.Container, maxNameLen, true)
		opt("workload.containerId", w.ContainerID, maxRefLen, true)
		opt("workload.imageRef", w.ImageRef, maxRefLen, true)
		if name, d, ok := strings.Cut(w.ImageRef, "@"); ok {
			nd, err := NormaliseDigest(d)
			if name == "" || err != nil {
				c.add(ReasonInvalid, path+".workload.imageRef", "%q: want <name>@<algorithm>:<hex>", clip(w.ImageRef))
			} else {
				w.ImageRef = name + "@" + nd
			}
		}
		if *w == (Workload{}) {
			e.Workload = nil
		}
	}
	if p := e.Process; p != nil {
		if p.PID != nil && (*p.PID < 0 || *p.PID > maxSafeInteger) {
			c.add(ReasonInvalid, path+".process.pid", "%d is not a process id", *p.PID)
		}
		for i, a := range p.Entrypoint {
			if len(a) > maxPathLen || !utf8.ValidString(a) {
				c.add(ReasonInvalid, fmt.Sprintf("%s.process.entrypoint[%d]", path, i), "longer than %d bytes or not UTF-8", maxPathLen)
			}
		}
		if p.PID == nil && len(p.Entrypoint) == 0 {
			e.Process = nil
		}
	}
	for i, l := range e.LoadedLibs {
		lp := fmt.Sprintf("loadedLibs[%d]", i)
		need(lp+".path", l.Path, maxPathLen, false)
		opt(lp+".sha256", l.SHA256, maxIDLen, true)
		if l.Inode != nil && *l.Inode > maxSafeInteger {
			c.add(ReasonInvalid, path+"."+lp+".inode", "%d is larger than 2^53-1, the largest integer JSON keeps exactly", *l.Inode)
		}
	}
	if p := e.Posture; p != nil {
		opt("posture.sbomReferrer", p.SBOMReferrer, maxIDLen, true)
		if *p == (Posture{}) {
			e.Posture = nil
		}
	}
	if d := e.Delta; d != nil {
		if d.BaselineImageDigest != "" {
			nd, err := NormaliseDigest(d.BaselineImageDigest)
			if err != nil {
				c.add(ReasonInvalid, path+".delta.baselineImageDigest", "%s", err)
			} else {
				d.BaselineImageDigest = nd
			}
		} else {
			e.Delta = nil
		}
	}
	for i, ev := range e.Evidence {
		ep := fmt.Sprintf("evidence[%d]", i)
		need(ep+".signal", ev.Signal, maxIDLen, false)
		if len(ev.Value) > maxValueLen {
			c.add(ReasonInvalid, path+"."+ep+".value", "longer than %d bytes", maxValueLen)
		}
	}
	for k, v := range e.Annotations {
		if k == "" || checkText(k, maxNameLen, false) != "" || len(v) > maxValueLen {
			c.add(ReasonInvalid, path+".annotations", "key %q: keys are 1 to %d printable bytes, values at most %d", clip(k), maxNameLen, maxValueLen)
		}
	}
}

// checkText returns why s is not acceptable text of at most max bytes: control characters
// are never allowed; id also refuses white space, and other text leading or trailing blanks.
func checkText(s string, max int, id bool) string {
	if len(s) > max {
		return fmt.Sprintf("longer than %d bytes", max)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("%q contains a control character", clip(s))
		}
		if id && unicode.IsSpace(r) {
			return fmt.Sprintf("%q contains white space", clip(s))
		}
	}
	if strings.TrimSpace(s) != s {
		return fmt.Sprintf("%q has leading or trailing blanks", clip(s))
	}
	return ""
}

// clip shortens a quoted value in an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 80
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func kindList() string {
	ks := Kinds()
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// ErrInvalidDigest means a digest is not "<algorithm>:<hex>".
var ErrInvalidDigest = errors.New("invalid digest")

// NormaliseDigest checks "<algorithm>:<hex>" (OCI's digest grammar with a hex encoding, any
// length, as the spec's own examples use short ones) and lower-cases the hex.
func NormaliseDigest(d string) (string, error) {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || alg == "" || hex == "" || len(alg) > 32 || len(hex) > 128 {
		return "", fmt.Errorf("%w %q: want <algorithm>:<hex>", ErrInvalidDigest, clip(d))
	}
	for _, c := range alg {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '_' || c == '-') {
			return "", fmt.Errorf("%w %q: the algorithm must be lower-case letters and digits", ErrInvalidDigest, clip(d))
		}
	}
	hex = strings.ToLower(hex)
	for _, c := range hex {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("%w %q: the encoded part is not hex", ErrInvalidDigest, clip(d))
		}
	}
	return alg + ":" + hex, nil
}
