package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/stellaops/stellaops/internal/signing"
)

func TestEncodeShape(t *testing.T) {
	e := &signing.Envelope{
		PayloadType: signing.PayloadTypeReport,
		Payload:     []byte(`{"a":1}`),
		Signatures:  []signing.Signature{{KeyID: "scanner-report-signing", Algorithm: signing.HS256, Sig: []byte{1, 2, 3}}},
	}
	want := `{"payloadType":"application/vnd.stellaops.report+json","payload":"eyJhIjoxfQ==","signatures":[{"keyId":"scanner-report-signing","algorithm":"hs256","signature":"AQID"}]}`
	if got := string(encode(t, e)); got != want {
		t.Errorf("Encode:\n got  %s\n want %s", got, want)
	}
	// Embedded in an API response, the envelope marshals the same way.
	resp, err := json.Marshal(struct {
		DSSE signing.Envelope `json:"dsse"`
	}{*e})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp); got != `{"dsse":`+want+`}` {
		t.Errorf("json.Marshal: %s", got)
	}
	var back struct {
		DSSE *signing.Envelope `json:"dsse"`
	}
	if err := json.Unmarshal(resp, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back.DSSE); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestDecodeAccepts(t *testing.T) {
	want := &signing.Envelope{
		PayloadType: "application/vnd.in-toto+json",
		Payload:     []byte("hi"),
		Signatures:  []signing.Signature{{KeyID: "k1", Sig: []byte{1, 2, 3}}},
	}
	for name, in := range map[string]string{
		"standard DSSE": `{"payload":"aGk=","payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"k1","sig":"AQID"}]}`,
		"spec names":    `{"payloadType":"application/vnd.in-toto+json","payload":"aGk=","signatures":[{"keyId":"k1","signature":"AQID"}]}`,
		"whitespace":    " \n{ \"payloadType\" : \"application/vnd.in-toto+json\" ,\t\"payload\":\"aGk=\",\r\n\"signatures\" : [ { \"keyid\" : \"k1\" , \"sig\" : \"AQID\" } ] }\n",
		"escapes":       `{"payloadType":"application\/vnd.in-toto\u002bjson","payload":"aGk\u003d","signatures":[{"keyid":"\u006b1","sig":"AQID"}]}`,
		"unknown members ignored": `{"x":{"y":[1,2,{"z":"]}"}]},"payloadType":"application/vnd.in-toto+json","n":-1.5e3,"payload":"aGk=","t":true,` +
			`"signatures":[{"extension":{"kind":"x","ext":[null]},"keyid":"k1","sig":"AQID","s":"\"{"}],"z":null}`,
	} {
		t.Run(name, func(t *testing.T) {
			got, err := signing.Decode([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	const sigs = `"signatures":[{"keyid":"k","sig":"AQID"}]`
	big := `{"payloadType":"t","payload":"` + strings.Repeat("A", 1<<10) + `",` + sigs + `}`
	many := `{"payloadType":"t","payload":"",` + `"signatures":[` + strings.TrimSuffix(strings.Repeat(`{"sig":"AQID"},`, 3), ",") + `]}`
	small := signing.Limits{MaxEnvelopeBytes: 512, MaxSignatures: 2, MaxSignatureBytes: 2, MaxPayloadTypeBytes: 4, MaxKeyIDBytes: 3}
	for _, tc := range []struct {
		name, in string
		lim      signing.Limits
		want     error
		text     string
	}{
		{"empty", ``, signing.Limits{}, signing.ErrMalformedEnvelope, "expected an object"},
		{"array", `[]`, signing.Limits{}, signing.ErrMalformedEnvelope, "expected an object"},
		{"not UTF-8", "{\"payloadType\":\"\xff\"}", signing.Limits{}, signing.ErrMalformedEnvelope, "not UTF-8"},
		{"trailing data", `{"payloadType":"t","payload":"",` + sigs + `} {}`, signing.Limits{}, signing.ErrMalformedEnvelope, "trailing data"},
		{"missing payloadType", `{"payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "missing payloadType"},
		{"missing payload", `{"payloadType":"t",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "missing payload"},
		{"missing signatures", `{"payloadType":"t","payload":""}`, signing.Limits{}, signing.ErrMalformedEnvelope, "missing signatures"},
		{"no signatures", `{"payloadType":"t","payload":"","signatures":[]}`, signing.Limits{}, signing.ErrNoSignatures, ""},
		{"missing sig", `{"payloadType":"t","payload":"","signatures":[{"keyid":"k"}]}`, signing.Limits{}, signing.ErrMalformedEnvelope, "missing signature"},
		{"duplicate payload", `{"payloadType":"t","payload":"","payload":"aGk=",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, `duplicate member "payload"`},
		{"duplicate payloadType", `{"payloadType":"t","payloadType":"u","payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "duplicate"},
		{"duplicate signatures", `{"payloadType":"t","payload":"",` + sigs + `,` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "duplicate"},
		{"keyId and keyid", `{"payloadType":"t","payload":"","signatures":[{"keyId":"a","keyid":"b","sig":"AQID"}]}`, signing.Limits{}, signing.ErrMalformedEnvelope, `"keyid" after "keyId"`},
		{"sig and signature", `{"payloadType":"t","payload":"","signatures":[{"sig":"AQID","signature":"AQID"}]}`, signing.Limits{}, signing.ErrMalformedEnvelope, "second signature member"},
		{"duplicate algorithm", `{"payloadType":"t","payload":"","signatures":[{"algorithm":"hs256","algorithm":"ed25519","sig":"AQID"}]}`, signing.Limits{}, signing.ErrMalformedEnvelope, "duplicate"},
		{"payload not a string", `{"payloadType":"t","payload":1,` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "expected a string"},
		{"payloadType null", `{"payloadType":null,"payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "expected a string"},
		{"signatures object", `{"payloadType":"t","payload":"","signatures":{}}`, signing.Limits{}, signing.ErrMalformedEnvelope, "must be an array"},
		{"signature not object", `{"payloadType":"t","payload":"","signatures":["AQID"]}`, signing.Limits{}, signing.ErrMalformedEnvelope, "expected an object"},
		{"url-safe base64", `{"payloadType":"t","payload":"-_8=",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "URL-safe"},
		{"unpadded base64", `{"payloadType":"t","payload":"aGk",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "base64"},
		{"non-zero pad bits", `{"payloadType":"t","payload":"aGl=",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "base64"},
		{"line break in base64", `{"payloadType":"t","payload":"aGk=\n",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "line break"},
		{"raw newline in string", "{\"payloadType\":\"t\",\"payload\":\"aGk=\n\"," + sigs + "}", signing.Limits{}, signing.ErrMalformedEnvelope, "control character"},
		{"bad signature base64", `{"payloadType":"t","payload":"","signatures":[{"sig":"AQI"}]}`, signing.Limits{}, signing.ErrMalformedEnvelope, "signatures[0].signature"},
		{"bad escape", `{"payloadType":"\x","payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "invalid string"},
		{"unterminated", `{"payloadType":"t`, signing.Limits{}, signing.ErrMalformedEnvelope, "unterminated"},
		{"bad unknown value", `{"x":[1,],"payloadType":"t","payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "invalid JSON value"},
		{"bad unknown literal", `{"x":nul,"payloadType":"t","payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "invalid JSON value"},
		{"missing value", `{"x":,"payloadType":"t","payload":"",` + sigs + `}`, signing.Limits{}, signing.ErrMalformedEnvelope, "invalid JSON value"},
		{"trailing comma", `{"payloadType":"t","payload":"",` + sigs + `,}`, signing.Limits{}, signing.ErrMalformedEnvelope, "expected a string"},
		{"too large", big, small, signing.ErrEnvelopeTooLarge, "limit 512"},
		{"too many signatures", many, small, signing.ErrTooManySignatures, ""},
		{"long payloadType", `{"payloadType":"toolong","payload":"",` + `"signatures":[{"sig":"AQ=="}]}`, small, signing.ErrEnvelopeTooLarge, "payloadType"},
		{"long keyId", `{"payloadType":"t","payload":"",` + `"signatures":[{"keyid":"abcd","sig":"AQ=="}]}`, small, signing.ErrEnvelopeTooLarge, "keyId"},
		{"long signature", `{"payloadType":"t","payload":"",` + sigs + `}`, small, signing.ErrEnvelopeTooLarge, "signature over 2 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signing.DecodeWithLimits([]byte(tc.in), tc.lim)
			if !errors.Is(err, tc.want) || !errors.Is(err, signing.ErrMalformedEnvelope) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("got %v; want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}

func TestReadEnvelopeStopsAtLimit(t *testing.T) {
	r := strings.NewReader(`{"payloadType":"t","payload":"` + strings.Repeat("A", 4096) + `"}`)
	_, err := signing.ReadEnvelope(r, signing.Limits{MaxEnvelopeBytes: 100})
	if !errors.Is(err, signing.ErrEnvelopeTooLarge) {
		t.Errorf("got %v, want ErrEnvelopeTooLarge", err)
	}
	e, err := signing.ReadEnvelope(strings.NewReader(`{"payloadType":"t","payload":"aGk=","signatures":[{"sig":"AQID"}]}`), signing.Limits{})
	if err != nil || string(e.Payload) != "hi" {
		t.Errorf("got %v, %v", e, err)
	}
}

// Every encoded envelope decodes back to itself, whatever the bytes.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	e := &signing.Envelope{
		PayloadType: "text/plain; charset=\"utf-8\" <&>\u2028",
		Payload:     []byte{0, 1, 2, 0xff, '"', '\\'},
		Signatures: []signing.Signature{
			{KeyID: "k\"1\\", Algorithm: "future-alg", Sig: []byte{9}},
			{Sig: []byte{}},
		},
	}
	got, err := signing.Decode(encode(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if base64.StdEncoding.EncodeToString(got.Payload) != "AAEC/yJc" {
		t.Errorf("payload %x", got.Payload)
	}
}

// Raw control characters are refused anywhere in a string, everything else is kept; the check
// runs eight bytes at a time, so every position of a 20-byte string and every ASCII byte is tried.
func TestDecodeControlCharacters(t *testing.T) {
	for i := range 20 {
		for c := range 0x80 {
			if c == '"' || c == '\\' {
				continue
			}
			id := []byte(strings.Repeat("é", 3) + strings.Repeat("a", 14))
			id[i%len(id)] = byte(c)
			if !utf8.Valid(id) {
				continue
			}
			in := `{"payloadType":"t","payload":"","signatures":[{"keyid":"` + string(id) + `","sig":"AQID"}]}`
			_, err := signing.Decode([]byte(in))
			if (err != nil) != (c < 0x20) {
				t.Errorf("byte %#x at %d: %v", c, i, err)
			}
		}
	}
}
