package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// TestOpenAPIAnswersLive validates the answers of the live view and the
// console's JSON endpoints against the document, as TestOpenAPIAnswers does
// for the rest: the agents list, a force-out and its 100-006, the calls list,
// the stream's refusals (403, 429, a bad start) and its 200's media type,
// the console's sign-in and sign-out, a 403 for a cross-origin change, and
// the console's pages' media types.
func TestOpenAPIAnswersLive(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOps(t, doc)
	v := oaValidator{doc: doc}
	s := oaServer(t)
	admin := s.AdminHandler()
	check := func(key, path, body string, h map[string]string, want ccgw.Retcode) *httptest.ResponseRecorder {
		t.Helper()
		method, _, _ := strings.Cut(key, " ")
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		for k, val := range h {
			req.Header.Set(k, val)
		}
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, req)
		oaCheck(t, v, ops, key, body, rec)
		var env struct {
			Retcode ccgw.Retcode `json:"retcode"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &env); env.Retcode != want {
			t.Errorf("%s %s: retcode %q, want %q: %s", key, path, env.Retcode, want, rec.Body)
		}
		return rec
	}
	vendor := httptest.NewRecorder()
	s.ServeHTTP(vendor, httptest.NewRequest(http.MethodPut, "/agentgateway/resource/onlineagent/1001",
		strings.NewReader(`{"password":"secret","phonenum":"70001"}`)))
	if !strings.Contains(vendor.Body.String(), `"retcode":"0"`) {
		t.Fatalf("sign-in: %s", vendor.Body)
	}
	check("POST /ccgw/v1/agents", "/ccgw/v1/agents", `{"workNo":"2001"}`, nil, ccgw.RetOK)
	check("POST /ccgw/v1/calls", "/ccgw/v1/calls", `{"skillId":1,"caller":"13912345678"}`, nil, ccgw.RetOK)
	check("GET /ccgw/v1/agents", "/ccgw/v1/agents?limit=500", "", nil, ccgw.RetOK)
	check("GET /ccgw/v1/agents", "/ccgw/v1/agents?limit=501", "", nil, ccgw.RetBadParam)
	check("GET /ccgw/v1/calls", "/ccgw/v1/calls", "", nil, ccgw.RetOK)
	check("GET /ccgw/v1/calls", "/ccgw/v1/calls?after=x", "", nil, ccgw.RetBadParam)
	check("DELETE /ccgw/v1/agents/{agentid}", "/ccgw/v1/agents/1001", "", nil, ccgw.RetOK)
	check("DELETE /ccgw/v1/agents/{agentid}", "/ccgw/v1/agents/1001", "", nil, ccgw.RetNotSignedIn)
	check("POST /ccgw/v1/calls", "/ccgw/v1/calls", `{"skillId":1}`, map[string]string{"Sec-Fetch-Site": "cross-site"}, ccgw.RetNoPermission)
	check("GET /ccgw/v1/stream", "/ccgw/v1/stream", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, ccgw.RetNoPermission)
	check("GET /ccgw/v1/stream", "/ccgw/v1/stream?after=x", "", nil, ccgw.RetBadParam)
	s.streams.Store(DefaultMaxStreams) // as many open as allowed
	check("GET /ccgw/v1/stream", "/ccgw/v1/stream", "", nil, ccgw.RetRepeated)
	s.streams.Store(0)
	check("POST /console/login", "/console/login", `{"token":"anything"}`, nil, ccgw.RetOK)
	check("POST /console/logout", "/console/logout", "", nil, ccgw.RetOK)

	// The answers that are not JSON: their media types are the documented ones.
	media := func(key string, status int) []string {
		o := ops[key].op["responses"].(map[string]any)
		r, _ := o[strconv.Itoa(status)].(map[string]any)
		r = v.resolve(r)
		var out []string
		for m := range r["content"].(map[string]any) {
			out = append(out, m)
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for _, tc := range []struct{ key, path string }{
		{"GET /", "/"}, {"GET /console/{asset}", "/console/app.js"}, {"GET /console/{asset}", "/console/style.css"},
		{"GET /ccgw/v1/stream", "/ccgw/v1/stream"},
	} {
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil).WithContext(ctx))
		ct, _, _ := strings.Cut(rec.Header().Get("Content-Type"), ";")
		if got := media(tc.key, rec.Code); !slices.Contains(got, ct) {
			t.Errorf("%s: HTTP %d %s, documented %v", tc.path, rec.Code, ct, got)
		}
	}
}
