package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/textproto"
	"testing"

	"github.com/ccgw/ccgw"
)

// TestServiceTokenKeyIsCanonical: handShake reads the header under the key
// net/http files it under, whatever spelling the client sent.
func TestServiceTokenKeyIsCanonical(t *testing.T) {
	if got := textproto.CanonicalMIMEHeaderKey("service_token"); got != serviceTokenKey {
		t.Fatalf("canonical key %q, handShake reads %q", got, serviceTokenKey)
	}
}

// TestBareEnvelopeIsMarshalled: a result-less reply's cached body is what
// json.Marshal makes of its envelope, byte for byte, every time it is written.
func TestBareEnvelopeIsMarshalled(t *testing.T) {
	s := New(Config{})
	for _, code := range []ccgw.Retcode{ccgw.RetOK, ccgw.RetNotSignedIn, ccgw.RetNoPermission, ccgw.RetBadParam, ccgw.RetInternal, "999-999"} {
		for _, quiet := range []bool{false, true} {
			msg := code.Message()
			if code == ccgw.RetOK && quiet {
				msg = ""
			}
			want, err := json.Marshal(envelope{Message: msg, Retcode: code})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second is served from the cache
				w := httptest.NewRecorder()
				s.write(w, reply{code: code, quiet: quiet})
				if !bytes.Equal(w.Body.Bytes(), want) {
					t.Fatalf("%s quiet=%v: body %s, want %s", code, quiet, w.Body.Bytes(), want)
				}
			}
		}
	}
}
