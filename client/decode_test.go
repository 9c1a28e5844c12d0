package client

import (
	"encoding/json"
	"testing"
)

// TestTextDecodesAsStrings checks that text reads a JSON string exactly as
// encoding/json reads it into a string — escapes, invalid UTF-8 (replaced) and
// all — whether or not it takes the shortcut for strings without escapes; and
// numbers, booleans and null as before.
func TestTextDecodesAsStrings(t *testing.T) {
	for _, in := range []string{
		`""`, `"0"`, `"100-006"`, `"success"`, `"成功"`, `"a\"b"`, `"\\"`, `"\u00e9t\u00E9"`,
		`"tab\there"`, `"\ud83d\ude00"`, `"\ud800"`, "\"\xff\xfe\"", "\"caf\xc3\"", `"/path\/x"`,
	} {
		var want string
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var env struct {
			T text `json:"t"`
		}
		if err := json.Unmarshal([]byte(`{"t":`+in+`}`), &env); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !env.T.set || env.T.s != want {
			t.Errorf("%s: got %q (set %v), want %q", in, env.T.s, env.T.set, want)
		}
	}
	for in, want := range map[string]text{
		`0`: {"0", true}, `-1.5`: {"-1.5", true}, `true`: {"true", true}, `null`: {},
	} {
		var got text
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: got %+v, %v; want %+v", in, got, err, want)
		}
	}
	var got text
	if err := json.Unmarshal([]byte(`{"a":1}`), &got); err == nil {
		t.Errorf("an object: no error, got %+v", got)
	}
}
