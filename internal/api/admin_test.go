package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// Tests of the admin API (docs/conformance.md §1.5) over loopback HTTP, with
// the call simulator behind the gateway on a fake clock that the API moves.

// adminErr fails t unless the admin request answers HTTP status and 000-002.
func adminErr(t *testing.T, cs *simServer, method, path, body string, status int) {
	t.Helper()
	r := cs.admin.do(t, method, api.AdminPrefix+path, nil, body)
	if r.status != status || r.retcode() != "000-002" {
		t.Fatalf("%s %s %s: HTTP %d %s, want %d 000-002", method, path, body, r.status, r.body, status)
	}
}

// adminNotAllowed fails t unless the admin request answers 405 with 000-002
// and exactly allow in its Allow header.
func adminNotAllowed(t *testing.T, cs *simServer, method, path, allow string) {
	t.Helper()
	adminErr(t, cs, method, path, "", http.StatusMethodNotAllowed)
	if r := cs.admin.do(t, method, api.AdminPrefix+path, nil, ""); r.header.Get("Allow") != allow {
		t.Fatalf("%s %s: Allow %q, want %q", method, path, r.header.Get("Allow"), allow)
	}
}

// TestAdminAPI covers every admin endpoint: success, its 000-002 cases (every
// number finite and within its limit), 404 for an unknown path or id and 405
// with Allow for a known path with another method.
func TestAdminAPI(t *testing.T) {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	t.Run("clock", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		mustBody(t, cs.clAdmin(t, get, "clock", ""), fmt.Sprintf(`{"message":"success","retcode":"0","result":{"now":%d,"virtual":true}}`, clStart.UnixMilli()))
		r := cs.clAdmin(t, post, "clock/advance", `{"seconds":1.5}`)
		mustBody(t, r, fmt.Sprintf(`{"message":"success","retcode":"0","result":{"now":%d,"virtual":true}}`, clStart.UnixMilli()+1500))
		cs.clAdmin(t, post, "clock/advance", `{"duration":"2m"}`)
		cs.clAdmin(t, post, "clock/advance", `{"seconds":"3"}`)
		if got := cs.clock.Now().Sub(clStart); got != 124500*time.Millisecond {
			t.Fatalf("clock moved %v", got)
		}
		for _, body := range []string{``, `{`, `{}`, `{"seconds":0}`, `{"seconds":-1}`, `{"seconds":"x"}`,
			`{"duration":"soon"}`, `{"duration":"-1s"}`, `{"seconds":2678401}`,
			`{"seconds":"NaN"}`, `{"seconds":"Infinity"}`, `{"seconds":"-Infinity"}`, `{"seconds":NaN}`,
			`{"seconds":1e308}`, `{"seconds":"1e400"}`, `{"seconds":86400.001}`, `{"duration":"24h0m0.001s"}`,
			`{"duration":"9223372036s"}`} {
			adminErr(t, cs, post, "clock/advance", body, http.StatusOK)
		}
		adminNotAllowed(t, cs, get, "clock/advance", "POST")
		adminNotAllowed(t, cs, post, "clock", "GET")
		if got := cs.clock.Now().Sub(clStart); got != 124500*time.Millisecond {
			t.Fatalf("a rejected advance moved the clock to %v", got)
		}
		cs.clAdmin(t, post, "clock/advance", `{"seconds":86400}`) // api.MaxAdvance itself
		if got := cs.clock.Now().Sub(clStart); got != api.MaxAdvance+124500*time.Millisecond {
			t.Fatalf("clock moved %v", got)
		}
	})
	t.Run("clock without a virtual clock", func(t *testing.T) {
		cs := newSimServer(t, simConfig{noVirtual: true})
		status, env := cs.admin.clRaw(t, post, api.AdminPrefix+"clock/advance", `{"seconds":1}`)
		if status != http.StatusConflict || string(env["retcode"]) != `"000-002"` {
			t.Fatalf("advance without a virtual clock: HTTP %d %v", status, env)
		}
		if r := cs.clAdmin(t, get, "clock", ""); !strings.Contains(string(r.env["result"]), `"virtual":false`) {
			t.Fatalf("clock %s", r.env["result"])
		}
		if !cs.clock.Now().Equal(clStart) {
			t.Fatal("the clock moved")
		}
	})
	t.Run("events", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		mustBody(t, cs.clAdmin(t, get, "events", ""), `{"message":"success","retcode":"0","result":{"events":[],"last":0}}`)
		cs.clSignIn(t, "1001", "")
		cs.clSignIn(t, "1002", `"status":3`)
		all := cs.clJournal(t)
		var got []string
		for _, ev := range all {
			got = append(got, ev.WorkNo+" "+ev.Type)
		}
		want := []string{"1001 " + ccgw.EvInService, "1001 " + ccgw.EvReady, "1002 " + ccgw.EvInService, "1002 " + ccgw.EvReady, "1002 " + ccgw.EvSetNotReadySuccess}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("journal %v, want %v", got, want)
		}
		r := cs.clAdmin(t, get, "events?after=2&limit=2", "")
		if !strings.HasSuffix(string(r.env["result"]), `"last":4}`) || strings.Count(string(r.env["result"]), "eventType") != 2 {
			t.Fatalf("after=2&limit=2: %s", r.env["result"])
		}
		mustBody(t, cs.clAdmin(t, get, "events?after=9", ""), `{"message":"success","retcode":"0","result":{"events":[],"last":9}}`)
		// The largest after a uint64 holds: no panic, an empty page.
		mustBody(t, cs.clAdmin(t, get, "events?after=18446744073709551615&limit=10000", ""),
			`{"message":"success","retcode":"0","result":{"events":[],"last":18446744073709551615}}`)
		if r := cs.clAdmin(t, get, "events?after=0&limit=1", ""); strings.Count(string(r.env["result"]), "eventType") != 1 {
			t.Fatalf("limit=1: %s", r.env["result"])
		}
		for _, q := range []string{"after=18446744073709551616", "after=-1", "after=x", "after=1.5",
			"limit=0", "limit=-3", "limit=10001", "limit=x", "limit=99999999999999999999"} {
			adminErr(t, cs, get, "events?"+q, "", http.StatusOK)
		}
		adminNotAllowed(t, cs, post, "events", "GET")
	})
	t.Run("queues", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		mustBody(t, cs.clAdmin(t, get, "queues", ""), `{"message":"success","retcode":"0","result":[`+
			`{"skillId":1,"waiting":0,"longestWaitSeconds":0,"offered":0,"answered":0,"abandoned":0,"noAnswer":0,"transferred":0},`+
			`{"skillId":2,"waiting":0,"longestWaitSeconds":0,"offered":0,"answered":0,"abandoned":0,"noAnswer":0,"transferred":0}]}`)
		cs.clInject(t, `{"skillId":2}`)
		cs.clAdvance(t, 1500*time.Millisecond)
		if q := cs.clQueueOf(t, 2); q.Waiting != 1 || q.LongestWait != 1.5 {
			t.Fatalf("queue 2 %+v", q)
		}
		if q := cs.clQueueOf(t, 99); q != (clQueue{Skill: 99}) {
			t.Fatalf("queue 99 %+v", q)
		}
		adminErr(t, cs, get, "queues/x", "", http.StatusOK)
		adminErr(t, cs, get, "queues/-1", "", http.StatusOK)
		adminNotAllowed(t, cs, post, "queues", "GET")
		adminNotAllowed(t, cs, del, "queues/1", "GET")
		adminErr(t, cs, get, "queues/1/2", "", http.StatusNotFound)
	})
	t.Run("calls", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		id := cs.clInject(t, `{"skillId":1,"caller":"13900000000","callData":"order 42","talkSeconds":10,"abandonSeconds":60}`)
		if !strings.HasPrefix(id, strconv.FormatInt(clStart.Unix(), 10)+"-") || !clCallIDRE.MatchString(id) {
			t.Fatalf("call ID %q", id)
		}
		r := cs.clAdmin(t, get, "calls/"+id, "")
		var st map[string]json.RawMessage
		json.Unmarshal(r.env["result"], &st)
		mustKeys(t, "call status", st, append([]string{"state", "workno"}, clCallInfoKeys...)...)
		if m := clObj(t, r.env["result"]); m["state"] != "queued" || m["caller"] != "13900000000" || m["calldata"] != "order 42" {
			t.Fatalf("call %s", r.env["result"])
		}
		cs.clAdmin(t, del, "calls/"+id, "")
		cs.clMustGone(t, id)
		if q := cs.clQueueOf(t, 1); q.Abandoned != 1 || q.Waiting != 0 {
			t.Fatalf("queue %+v", q)
		}
		adminErr(t, cs, del, "calls/"+id, "", http.StatusNotFound)
		adminErr(t, cs, get, "calls/nope", "", http.StatusNotFound)
		for _, body := range []string{``, `{`, `{}`, `{"skillId":99}`, `{"skillId":"x"}`, `{"skillId":1,"caller":"abc"}`,
			`{"skillId":1,"talkSeconds":-1}`, `{"skillId":1,"abandonSeconds":-1}`,
			`{"skillId":-1}`, `{"skillId":4294967297}`, `{"skillId":1,"talkSeconds":1e308}`,
			`{"skillId":1,"talkSeconds":"NaN"}`, `{"skillId":1,"talkSeconds":"Infinity"}`, `{"skillId":1,"talkSeconds":86401}`,
			`{"skillId":1,"abandonSeconds":1e308}`, `{"skillId":1,"abandonSeconds":"-Infinity"}`,
			`{"skillId":1,"callData":"` + strings.Repeat("x", 16385) + `"}`} {
			adminErr(t, cs, post, "calls", body, http.StatusOK)
		}
		adminNotAllowed(t, cs, put, "calls", "GET, POST")
		adminNotAllowed(t, cs, put, "calls/"+id, "DELETE, GET")

		// A talking call whose customer hangs up after talkSeconds.
		a := cs.clSignIn(t, "1001", "")
		id = cs.clInject(t, `{"skillId":1,"talkSeconds":10}`)
		cs.clEvents(t, a)
		clMustCallState(t, cs, id, "talking", "1001")
		cs.clAdvance(t, 10*time.Second)
		cs.clMustTypes(t, a, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		cs.clMustGone(t, id)
	})
	t.Run("rates", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		mustBody(t, cs.clAdmin(t, get, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
		mustBody(t, cs.clAdmin(t, put, "rates/1", `{"perHour":720,"talkMinSeconds":5,"talkMaxSeconds":8,"abandonSeconds":1000}`),
			`{"message":"success","retcode":"0","result":{"abandonSeconds":1000,"perHour":720,"talkMaxSeconds":8,"talkMinSeconds":5}}`)
		mustBody(t, cs.clAdmin(t, get, "rates", ""),
			`{"message":"success","retcode":"0","result":{"1":{"abandonSeconds":1000,"perHour":720,"talkMaxSeconds":8,"talkMinSeconds":5}}}`)
		cs.clAdvance(t, time.Hour)
		q := cs.clQueueOf(t, 1)
		// about 720 arrivals; those older than 1000 s gave up
		if n := q.Waiting + q.Abandoned; n < 560 || n > 880 || q.Waiting < 130 || q.Waiting > 270 || q.LongestWait > 1000 {
			t.Fatalf("an hour at 720/h with nobody to answer: %+v", q)
		}
		cs.clAdmin(t, put, "rates/1", `{"perHour":0}`)
		mustBody(t, cs.clAdmin(t, get, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
		before := cs.clQueueOf(t, 1)
		cs.clAdvance(t, time.Minute)
		if after := cs.clQueueOf(t, 1); after.Waiting+after.Abandoned != before.Waiting+before.Abandoned {
			t.Fatalf("calls arrived after the rate was stopped: %+v then %+v", before, after)
		}
		for _, c := range []struct{ path, body string }{
			{"rates/99", `{"perHour":1}`}, {"rates/x", `{"perHour":1}`}, {"rates/1", `{"perHour":-1}`},
			{"rates/1", `{"perHour":1,"talkMinSeconds":-1}`}, {"rates/1", `{"perHour":1,"abandonSeconds":-1}`},
			{"rates/1", `{`}, {"rates/1", ``},
			{"rates/1", `{"perHour":1e308}`}, {"rates/1", `{"perHour":"NaN"}`}, {"rates/1", `{"perHour":NaN}`},
			{"rates/1", `{"perHour":"Infinity"}`}, {"rates/1", `{"perHour":"-Infinity"}`}, {"rates/1", `{"perHour":"1e400"}`},
			{"rates/1", `{"perHour":360001}`}, {"rates/1", `{"perHour":0.0001}`}, {"rates/1", `{"perHour":5e-324}`},
			{"rates/1", `{"perHour":1,"talkMinSeconds":1e308}`}, {"rates/1", `{"perHour":1,"talkMaxSeconds":86401}`},
			{"rates/1", `{"perHour":1,"abandonSeconds":"Infinity"}`}, {"rates/4294967296", `{"perHour":1}`},
			{"rates/-1", `{"perHour":1}`},
		} {
			adminErr(t, cs, put, c.path, c.body, http.StatusOK)
		}
		mustBody(t, cs.clAdmin(t, get, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
		mustBody(t, cs.clAdmin(t, put, "rates/2", `{"perHour":360000,"talkMinSeconds":86400,"abandonSeconds":86400}`),
			`{"message":"success","retcode":"0","result":{"abandonSeconds":86400,"perHour":360000,"talkMaxSeconds":86400,"talkMinSeconds":86400}}`)
		cs.clAdmin(t, put, "rates/2", `{"perHour":0}`)
		adminNotAllowed(t, cs, get, "rates/1", "PUT")
		adminNotAllowed(t, cs, post, "rates", "GET")
	})
	t.Run("agents", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		cs.clAdmin(t, post, "agents", `{"workNo":"2001","skills":[1],"answerAfterSeconds":2,"wrapUpSeconds":5}`)
		id := cs.clInject(t, `{"skillId":1,"talkSeconds":10}`)
		clMustCallState(t, cs, id, "ringing", "2001")
		cs.clAdvance(t, 2*time.Second)
		clMustCallState(t, cs, id, "talking", "2001")
		cs.clAdvance(t, 10*time.Second)
		cs.clMustGone(t, id)
		cs.clAdvance(t, 5*time.Second)
		var got []string
		for _, ev := range cs.clJournal(t) {
			if ev.WorkNo == "2001" {
				got = append(got, ev.Type)
			}
		}
		want := []string{ccgw.EvInService, ccgw.EvReady, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook,
			ccgw.EvRinging, ccgw.EvCustomerAlerting, ccgw.EvTalking, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease,
			ccgw.EvWork, ccgw.EvReady}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("simulated agent's events\n got %v\nwant %v", got, want)
		}
		// Signed in to skill 1 only: a skill-2 call waits.
		id = cs.clInject(t, `{"skillId":2}`)
		clMustCallState(t, cs, id, "queued", "")
		// An auto-answer simulated agent.
		cs.clAdmin(t, post, "agents", `{"workNo":"2002"}`)
		clMustCallState(t, cs, id, "talking", "2002")
		for _, body := range []string{``, `{`, `{}`, `{"workNo":"abc"}`, `{"workNo":"100"}`, `{"workNo":"2003","skills":["x"]}`,
			`{"workNo":"2003","answerAfterSeconds":-1}`, `{"workNo":"2003","wrapUpSeconds":-1}`,
			`{"workNo":"2003","answerAfterSeconds":1e308}`, `{"workNo":"2003","wrapUpSeconds":"NaN"}`,
			`{"workNo":"2003","wrapUpSeconds":"Infinity"}`, `{"workNo":"2003","wrapUpSeconds":86401}`,
			`{"workNo":"2003","skills":[-1]}`, `{"workNo":"2003","skills":[4294967296]}`} {
			adminErr(t, cs, post, "agents", body, http.StatusOK)
		}
		if _, ok := cs.sessions.Lookup(context.Background(), 2003); ok {
			t.Fatal("a refused simulated agent signed in")
		}
		adminNotAllowed(t, cs, put, "agents", "GET, POST")
	})
	t.Run("unknown", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		for _, p := range []string{"", "nothing", "calls/1/2", "clock/advance/now"} {
			adminErr(t, cs, get, p, "", http.StatusNotFound)
		}
	})
}

// TestAdminRatesFlood is the regression test of a rate of 1e308 calls an hour:
// every arrival gap rounded to 0 and one clock advance queued calls without
// end. It is refused with 000-002, and an hour later no call has been made.
func TestAdminRatesFlood(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	for _, body := range []string{`{"perHour":1e308}`, `{"perHour":"1e308"}`, `{"perHour":1.7976931348623157e308}`} {
		adminErr(t, cs, http.MethodPut, "rates/1", body, http.StatusOK)
	}
	mustBody(t, cs.clAdmin(t, http.MethodGet, "rates", ""), `{"message":"success","retcode":"0","result":{}}`)
	cs.clAdvance(t, time.Hour)
	if q := cs.clQueueOf(t, 1); q != (clQueue{Skill: 1}) {
		t.Fatalf("queue 1 an hour after the refused rate: %+v, want no call", q)
	}
}

// TestAdminAgentLeavesClientSession: POST /ccgw/v1/agents for a work number a
// client has signed in answers 100-002, and the client's session goes on: its
// GUID still heartbeats, no AgentOther_ShutdownService is queued for it, and a
// call offered to it rings until the client answers.
func TestAdminAgentLeavesClientSession(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	a := cs.clManual(t, "1002")
	for _, body := range []string{`{"workNo":"1002"}`, `{"workNo":"1002","answerAfterSeconds":1,"wrapUpSeconds":1}`} {
		r := cs.admin.do(t, http.MethodPost, api.AdminPrefix+"agents", nil, body)
		if r.status != http.StatusOK || r.retcode() != string(ccgw.RetAlreadySignedIn) {
			t.Fatalf("POST agents %s over a client's session: HTTP %d %s, want 100-002", body, r.status, r.body)
		}
	}
	s, ok := cs.sessions.Lookup(context.Background(), 1002)
	if !ok || s.GUID != a.g || s.Simulated {
		t.Fatalf("1002 after the refusals: %+v (ok %v), want the client's session", s, ok)
	}
	cs.clMust(t, a, http.MethodPost, "/onlineagent/{id}/handshake", "", "0")
	cs.clMustTypes(t, a) // none: no ShutdownService
	id := cs.clInject(t, `{"skillId":1}`)
	cs.clAdvance(t, 2*time.Second) // past the refused answerAfterSeconds
	clMustCallState(t, cs, id, "ringing", "1002")
}

// TestAdminToken: with api.Config.AdminToken set, every request to the admin
// handler (API, metrics, health) without "Authorization: Bearer <token>" gets
// HTTP 401, WWW-Authenticate: Bearer and the 000-003 envelope, and changes
// nothing; with it, the request is served. The vendor handler asks no token.
func TestAdminToken(t *testing.T) {
	const token = "s3cret-token"
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ccgw_test 1\n") })
	cs := newSimServer(t, simConfig{adminToken: token, metrics: metrics})
	send := func(method, path, auth, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, cs.admin.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := cs.admin.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}
	paths := []struct{ method, path, body string }{
		{http.MethodGet, "/ccgw/v1/clock", ""}, {http.MethodPost, "/ccgw/v1/clock/advance", `{"seconds":60}`},
		{http.MethodPut, "/ccgw/v1/rates/1", `{"perHour":3600}`}, {http.MethodPost, "/ccgw/v1/calls", `{"skillId":1}`},
		{http.MethodGet, "/metrics", ""}, {http.MethodGet, "/healthz", ""}, {http.MethodGet, "/readyz", ""},
		{http.MethodGet, "/nothing", ""},
	}
	for _, p := range paths {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer " + token + "x", "Bearer " + token[:len(token)-1],
			token, "Basic czNjcmV0LXRva2Vu", "Token " + token, "Bearer " + strings.ToUpper(token)} {
			resp, b := send(p.method, p.path, auth, p.body)
			mustValidResponse(t, p.method+" "+p.path, resp.StatusCode, resp.Header, b)
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
				!strings.Contains(string(b), `"retcode":"000-003"`) {
				t.Fatalf("%s %s with Authorization %q: HTTP %d WWW-Authenticate %q %s, want 401 Bearer 000-003",
					p.method, p.path, auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), b)
			}
		}
	}
	if !cs.clock.Now().Equal(clStart) || len(cs.engine.Rates()) != 0 || cs.engine.Queue(1).Waiting != 0 {
		t.Fatal("a refused admin request changed something")
	}
	for _, auth := range []string{"Bearer " + token, "bearer " + token, "Bearer  " + token + " "} {
		resp, b := send(http.MethodGet, "/ccgw/v1/clock", auth, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"retcode":"0"`) {
			t.Fatalf("clock with Authorization %q: HTTP %d %s", auth, resp.StatusCode, b)
		}
	}
	if resp, b := send(http.MethodGet, "/metrics", "Bearer "+token, ""); resp.StatusCode != http.StatusOK || string(b) != "ccgw_test 1\n" {
		t.Fatalf("metrics with the token: HTTP %d %q", resp.StatusCode, b)
	}
	mustCode(t, cs.do(t, http.MethodGet, "/healthz", nil, ""), "0") // the vendor listener's, no token
}
