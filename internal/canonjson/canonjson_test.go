package canonjson_test

import (
	"testing"

	"github.com/stellaops/stellaops/internal/canonjson"
)

// The RFC 8785 example values: key order by UTF-16 code units, ES6 number forms, minimal escapes.
func TestRFC8785(t *testing.T) {
	in := []byte(`{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}`)
	want := `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`
	got, err := canonjson.Transform(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestDigestIgnoresFieldOrder(t *testing.T) {
	type a struct {
		X string `json:"x"`
		Y int    `json:"y"`
	}
	type b struct {
		Y int    `json:"y"`
		X string `json:"x"`
	}
	da, _ := canonjson.Digest(a{"<&>", 1})
	db, _ := canonjson.Digest(b{1, "<&>"})
	if da != db || len(da) != len("sha256:")+64 {
		t.Errorf("digests differ: %s %s", da, db)
	}
}
