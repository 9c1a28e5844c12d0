package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Seeds beyond testdata/fuzz/FuzzRequest (which holds the spec's examples). In
// headers, "$GUID" stands for the GUID of agent 1001, signed in before fuzzing.
var fuzzRequestSeeds = []struct{ method, path, header, body string }{
	{"PUT", "/agentgateway/resource/onlineagent/1002", "Content-Type: application/json; charset=UTF-8", loginBody},
	{"PUT", "/agentgateway/resource/onlineagent/1003/loginex", "", `{}`},
	{"PUT", "/agentgateway/resource/onlineagent/1001", "", loginBody},
	{"PUT", "/agentgateway/resource/onlineagent/abc", "", loginBody},
	{"PUT", "/agentgateway/resource/onlineagent/1004", "", `{"password":"x","phonenum":"1","status":"7","ip":"::1"}`},
	{"PUT", "/agentgateway/resource/onlineagent/1005", "", `{"password":`},
	{"POST", "/agentgateway/resource/onlineagent/1001/handshake", "guid: JSESSIONID=$GUID\nservice_token: a!b", ""},
	{"GET", "/agentgateway/resource/agentevent/1001", "Guid: $GUID", ""},
	{"GET", "/agentgateway/resource/onlineagent/1001/agentstatus", "Guid: wrong", ""},
	{"DELETE", "/agentgateway/resource/onlineagent/1009/forcelogoutwithreason/256", "Guid: $GUID", ""},
	{"PATCH", "/agentgateway/resource/onlineagent/1001/updateGuid", "Guid: $GUID", ""},
	{"GET", "/agentgateway/resource/onlineagent//logout", "", ""},
	{"GET", "/readyz", "", ""},
	{"GET", "/", "", ""},
}

// FuzzRequest drives the handler in process with arbitrary requests. Property:
// it never panics (nor recovers a panic), answers HTTP 200, 404, 405, 413, 429 or 503 with
// Content-Type application/json; charset=UTF-8, a correct Content-Length, and a
// JSON object whose retcode is a known retcode string; 405 carries Allow; and it
// never answers 100-007, which only a failing store or a panic produces.
// Bodies are delivered in two halves.
func FuzzRequest(f *testing.F) {
	for _, s := range fuzzRequestSeeds {
		f.Add(s.method, s.path, s.header, []byte(s.body))
	}
	pl := &panicLog{}
	ts := testServer(f, tConfig{pollWait: time.Millisecond, log: slog.New(pl)})
	guid := ts.mustLogin(f, "1001")

	f.Fuzz(func(t *testing.T, method, target, header string, body []byte) {
		req, ok := fuzzRequest(method, target, strings.ReplaceAll(header, "$GUID", guid), body)
		if !ok {
			t.Skip("not a request a server would pass on")
		}
		rec := httptest.NewRecorder()
		ts.handler.ServeHTTP(rec, req)
		if p := pl.take(); p != "" {
			t.Fatalf("%s %q: handler panicked: %s", method, target, p)
		}
		what := method + " " + strconv.Quote(target)
		mustValidResponse(t, what, rec.Code, rec.Header(), rec.Body.Bytes())
		if got, want := rec.Header().Get("Content-Length"), strconv.Itoa(rec.Body.Len()); got != want {
			t.Fatalf("%s: Content-Length %q, body %s bytes", what, got, want)
		}
		var env struct {
			Retcode string `json:"retcode"`
		}
		json.Unmarshal(rec.Body.Bytes(), &env)
		if env.Retcode == "100-007" && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: internal error: %s", what, rec.Body.Bytes())
		}
	})
}

// fuzzRequest builds the request a server would hand to its handler, or reports
// false for input no server would pass on (a bad method token or request target).
func fuzzRequest(method, target, header string, body []byte) (*http.Request, bool) {
	if !strings.HasPrefix(target, "/") {
		return nil, false
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, false
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://ccgw.test/", nil)
	if err != nil {
		return nil, false
	}
	req.URL, req.RequestURI = u, target
	req.Body = io.NopCloser(twoHalves(body))
	req.ContentLength = int64(len(body))
	for _, line := range strings.Split(header, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return req, true
}

// twoHalves returns a reader that yields b in two reads, split in the middle.
func twoHalves(b []byte) io.Reader {
	return io.MultiReader(bytes.NewReader(b[:len(b)/2]), bytes.NewReader(b[len(b)/2:]))
}

// FuzzSignInBody sends one body to forceLogin twice, whole and in two halves, for
// two agents. Property: both answers agree; the retcode is one a sign-in body can
// cause; a success carries a GUID of the vendor's shape that then works.
func FuzzSignInBody(f *testing.F) {
	for _, b := range []string{
		loginBody,
		`{"password":"x","phonenum":70001,"status":"3","autoanswer":"false"}`,
		`{"password":"x","phonenum":"70001","callBackUri":"https://crm.example/cb","serviceToken":"tok"}`,
		`{"password":"x","phonenum":"70001","agenttype":5}`,
		`{"password":"x","phonenum":"70001","ip":"1.2.3"}`,
		`{"password":"x","phonenum":"abc"}`,
		`{"password":"x","phonenum":"1","status":7}`,
		`{"password":"x"`,
		"",
	} {
		f.Add([]byte(b))
	}
	ts := testServer(f, tConfig{})
	allowed := map[string]bool{"0": true, "100-001": true, "100-011": true, "100-012": true, "100-013": true, "100-016": true}

	f.Fuzz(func(t *testing.T, body []byte) {
		var codes [2]string
		for i, id := range []string{"1001", "1002"} {
			rd := io.Reader(bytes.NewReader(body))
			if i == 1 {
				rd = twoHalves(body)
			}
			req := httptest.NewRequest(http.MethodPut, pathForceLogin(id), rd)
			rec := httptest.NewRecorder()
			ts.handler.ServeHTTP(rec, req)
			mustValidResponse(t, "forceLogin", rec.Code, rec.Header(), rec.Body.Bytes())
			var env struct {
				Retcode string                     `json:"retcode"`
				Result  map[string]json.RawMessage `json:"result"`
			}
			json.Unmarshal(rec.Body.Bytes(), &env)
			codes[i] = env.Retcode
			if rec.Code != http.StatusOK || !allowed[env.Retcode] {
				t.Fatalf("forceLogin %s: HTTP %d %s", id, rec.Code, rec.Body.Bytes())
			}
			if env.Retcode != "0" {
				if len(rec.Header()["Set-GUID"]) != 0 {
					t.Fatalf("failed sign-in sent Set-GUID")
				}
				continue
			}
			g := strings.TrimPrefix(strings.Join(rec.Header()["Set-GUID"], ","), "JSESSIONID=")
			if !guidRE.MatchString(g) {
				t.Fatalf("Set-GUID %q", rec.Header()["Set-GUID"])
			}
			if m := string(env.Result["mediatype"]); m != `"TTF"` && m != `"TFF"` {
				t.Fatalf("mediatype %s", m)
			}
			req = httptest.NewRequest(http.MethodPost, pathHandShake(id), nil)
			req.Header.Set("Guid", g)
			rec = httptest.NewRecorder()
			ts.handler.ServeHTTP(rec, req)
			if !bytes.Equal(rec.Body.Bytes(), []byte(`{"message":"success","retcode":"0"}`)) {
				t.Fatalf("handshake with the new GUID: %s", rec.Body.Bytes())
			}
		}
		if codes[0] != codes[1] {
			t.Fatalf("whole body gave %s, two halves gave %s", codes[0], codes[1])
		}
	})
}

// panicLog is a slog.Handler that remembers the handler's recovered panics.
type panicLog struct {
	mu     sync.Mutex // guards panics
	panics []string
}

func (p *panicLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelError }

func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "panic" {
		return nil
	}
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(a.Key + "=" + a.Value.String() + " ")
		return true
	})
	p.mu.Lock()
	p.panics = append(p.panics, b.String())
	p.mu.Unlock()
	return nil
}

func (p *panicLog) WithAttrs([]slog.Attr) slog.Handler { return p }
func (p *panicLog) WithGroup(string) slog.Handler      { return p }

// take returns the panics logged since the last take, "" if none.
func (p *panicLog) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.Join(p.panics, "; ")
	p.panics = nil
	return s
}

// fuzzAdminSeeds are requests to the admin API; "$CALL" stands for a call's id.
var fuzzAdminSeeds = []struct{ method, path, header, body string }{
	{"GET", "/ccgw/v1/clock", "", ""},
	{"POST", "/ccgw/v1/clock/advance", "", `{"seconds":5}`},
	{"POST", "/ccgw/v1/clock/advance", "", `{"duration":"NaN"}`},
	{"POST", "/ccgw/v1/clock/advance", "", `{"seconds":1e308}`},
	{"GET", "/ccgw/v1/events?after=18446744073709551615&limit=10000", "", ""},
	{"GET", "/ccgw/v1/events?after=-1&limit=0", "", ""},
	{"GET", "/ccgw/v1/queues", "", ""},
	{"GET", "/ccgw/v1/queues/99999999999", "", ""},
	{"POST", "/ccgw/v1/calls", "Content-Type: application/json", `{"skillId":1,"caller":"13800000001","talkSeconds":30}`},
	{"POST", "/ccgw/v1/calls", "", `{"skillId":"1","caller":"x","callData":"` + strings.Repeat("d", 70) + `"}`},
	{"GET", "/ccgw/v1/calls/$CALL", "", ""},
	{"DELETE", "/ccgw/v1/calls/$CALL", "", ""},
	{"PUT", "/ccgw/v1/rates/1", "", `{"perHour":"Infinity"}`},
	{"PUT", "/ccgw/v1/rates/1", "", `{"perHour":3600,"talkMinSeconds":5,"talkMaxSeconds":1}`},
	{"GET", "/ccgw/v1/rates", "", ""},
	{"POST", "/ccgw/v1/agents", "", `{"workNo":"1001"}`},
	{"POST", "/ccgw/v1/agents", "", `{"workNo":"1777","skills":[1,2],"answerAfterSeconds":-1}`},
	{"GET", "/ccgw/v1/openapi.json", "", ""},
	{"PATCH", "/ccgw/v1/clock", "", ""},
	{"GET", "/ccgw/v1//clock/", "", ""},
	{"GET", "/metrics", "", ""},
	{"GET", "/healthz", "", ""},
	{"GET", "/", "", ""},
	{"GET", "/console/app.js", "", ""},
	{"GET", "/console/nothing.js", "", ""},
	{"POST", "/console/login", "", `{"token":"x"}`},
	{"GET", "/ccgw/v1/agents?after=1001&limit=500", "", ""},
	{"DELETE", "/ccgw/v1/agents/1001", "", ""},
	{"DELETE", "/ccgw/v1/agents/1001", "Sec-Fetch-Site: cross-site", ""},
	{"POST", "/ccgw/v1/calls", "Origin: http://evil.example", `{"skillId":1}`},
	{"GET", "/ccgw/v1/calls?after=1-1&limit=0", "", ""},
	{"GET", "/ccgw/v1/stream?after=18446744073709551615", "", ""},
	{"GET", "/ccgw/v1/stream", "Last-Event-ID: x", ""},
}

// FuzzAdminRequest drives the admin handler (the admin listener's) in process
// with arbitrary requests, on a simulated call centre with a virtual clock.
// Property: it never panics (nor recovers a panic), answers with a documented
// status and the JSON envelope with a known retcode (the OpenAPI document, its
// one raw answer, is JSON), and never answers 100-007.
func FuzzAdminRequest(f *testing.F) {
	for _, s := range fuzzAdminSeeds {
		f.Add(s.method, s.path, s.header, []byte(s.body))
	}
	cs := newSimServer(f, simConfig{})
	cs.clSignIn(f, "1001", "") // so that the simulator has a client's session to leave alone
	call := cs.clInject(f, `{"skillId":1,"caller":"13800000001"}`)
	h := cs.admin.handler.AdminHandler()

	f.Fuzz(func(t *testing.T, method, target, header string, body []byte) {
		req, ok := fuzzRequest(method, strings.ReplaceAll(target, "$CALL", call), header, body)
		if !ok {
			t.Skip("not a request a server would pass on")
		}
		ctx, cancel := context.WithTimeout(req.Context(), 100*time.Millisecond) // the event stream's end
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		what := method + " " + strconv.Quote(target)
		if ct := rec.Header().Get("Content-Type"); rec.Code < 300 || rec.Code == http.StatusUnauthorized {
			switch {
			case strings.HasPrefix(ct, "text/event-stream"):
				if !strings.HasPrefix(rec.Body.String(), "retry: ") {
					t.Fatalf("%s: stream %q", what, rec.Body)
				}
				return
			case strings.HasPrefix(ct, "text/"): // the console's files
				if rec.Body.Len() == 0 {
					t.Fatalf("%s: %s answer empty", what, ct)
				}
				return
			}
		}
		if rec.Code == http.StatusOK && strings.HasPrefix(req.URL.Path, "/ccgw/v1/openapi.json") {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: the OpenAPI document is not JSON", what)
			}
			return
		}
		if rec.Code == http.StatusConflict { // clock/advance on a real clock; not here, but documented
			return
		}
		mustValidResponse(t, what, rec.Code, rec.Header(), rec.Body.Bytes())
		var env struct {
			Retcode string `json:"retcode"`
		}
		json.Unmarshal(rec.Body.Bytes(), &env)
		if env.Retcode == "100-007" && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: internal error: %s", what, rec.Body.Bytes())
		}
	})
}
