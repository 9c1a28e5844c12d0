package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// Helpers of the voice-call, call-data, queue-device and admin tests
// (calls_test.go): requests to a gateway with the call simulator behind it on
// a fake clock (newSimServer, sim_helpers_test.go).

// clAgent is a signed-in agent: work number and GUID.
type clAgent struct{ id, g string }

// clSignIn signs agent id in with phone 7<id> and the extra body fields (e.g.
// `"autoanswer":false`), fails tb unless it succeeds, and drains its sign-in
// events.
func (cs *simServer) clSignIn(tb testing.TB, id, extra string) clAgent {
	tb.Helper()
	body := `{"password":"secret","phonenum":"7` + id + `"`
	if extra != "" {
		body += "," + extra
	}
	a := clAgent{id: id, g: cs.mustSignIn(tb, pathLogin, id, body+"}")}
	cs.clEvents(tb, a)
	return a
}

// clManual signs agent id in for manual answer.
func (cs *simServer) clManual(tb testing.TB, id string) clAgent {
	tb.Helper()
	return cs.clSignIn(tb, id, `"autoanswer":false`)
}

// clDo sends a request as agent a; path is under base, "{id}" stands for a.id.
func (cs *simServer) clDo(tb testing.TB, a clAgent, method, path, body string) *tResp {
	tb.Helper()
	return cs.do(tb, method, base+strings.ReplaceAll(path, "{id}", a.id), guidHdr(a.g), body)
}

// clMust sends a request as agent a and fails tb unless its retcode is want.
func (cs *simServer) clMust(tb testing.TB, a clAgent, method, path, body, want string) *tResp {
	tb.Helper()
	r := cs.clDo(tb, a, method, path, body)
	mustCode(tb, r, want)
	return r
}

// clAdmin sends an admin request (path under /ccgw/v1/) and fails tb unless it
// answers HTTP 200 with retcode 0.
func (cs *simServer) clAdmin(tb testing.TB, method, path, body string) *tResp {
	tb.Helper()
	r := cs.admin.do(tb, method, api.AdminPrefix+path, nil, body)
	mustCode(tb, r, "0")
	return r
}

// clInject injects an inbound call with body (admin POST /ccgw/v1/calls) and
// returns its call ID.
func (cs *simServer) clInject(tb testing.TB, body string) string {
	tb.Helper()
	r := cs.clAdmin(tb, http.MethodPost, "calls", body)
	var res struct {
		CallID string `json:"callid"`
	}
	if err := json.Unmarshal(r.env["result"], &res); err != nil || res.CallID == "" {
		tb.Fatalf("inject: result %s", r.env["result"])
	}
	return res.CallID
}

// clAdvance moves the virtual clock on by d through the admin API.
func (cs *simServer) clAdvance(tb testing.TB, d time.Duration) {
	tb.Helper()
	before := cs.clock.Now()
	cs.clAdmin(tb, http.MethodPost, "clock/advance", `{"duration":"`+d.String()+`"}`)
	if got := cs.clock.Now().Sub(before); got != d {
		tb.Fatalf("advance %v moved the clock %v", d, got)
	}
}

// clCallStatus is the admin view of a call.
type clCallStatus struct {
	State     string `json:"state"`
	WorkNo    string `json:"workno"`
	CallID    string `json:"callid"`
	Caller    string `json:"caller"`
	CallSkill int    `json:"callskillid"`
}

// clCall returns the admin view of a live call; it fails tb unless it exists.
func (cs *simServer) clCall(tb testing.TB, id string) clCallStatus {
	tb.Helper()
	r := cs.clAdmin(tb, http.MethodGet, "calls/"+id, "")
	var st clCallStatus
	if err := json.Unmarshal(r.env["result"], &st); err != nil {
		tb.Fatalf("call %s: %s", id, r.body)
	}
	return st
}

// clMustGone fails tb unless call id is no longer live (admin 404).
func (cs *simServer) clMustGone(tb testing.TB, id string) {
	tb.Helper()
	r := cs.admin.do(tb, http.MethodGet, api.AdminPrefix+"calls/"+id, nil, "")
	if r.status != http.StatusNotFound || r.retcode() != "000-002" {
		tb.Fatalf("call %s: HTTP %d %s, want 404 000-002", id, r.status, r.body)
	}
}

// clQueue is the admin view of a skill queue.
type clQueue struct {
	Skill       int     `json:"skillId"`
	Waiting     int     `json:"waiting"`
	LongestWait float64 `json:"longestWaitSeconds"`
	Offered     int     `json:"offered"`
	Answered    int     `json:"answered"`
	Abandoned   int     `json:"abandoned"`
	NoAnswer    int     `json:"noAnswer"`
	Transferred int     `json:"transferred"`
}

// clQueueOf returns skill's queue figures through the admin API.
func (cs *simServer) clQueueOf(tb testing.TB, skill int) clQueue {
	tb.Helper()
	r := cs.clAdmin(tb, http.MethodGet, "queues/"+strconv.Itoa(skill), "")
	var q clQueue
	if err := json.Unmarshal(r.env["result"], &q); err != nil {
		tb.Fatalf("queue %d: %s", skill, r.body)
	}
	return q
}

// clEv is one polled event: its type and raw content.
type clEv struct {
	typ     string
	content json.RawMessage
}

// String is "type" or "type content" when the content is not null.
func (e clEv) String() string {
	if string(e.content) == "null" {
		return e.typ
	}
	return e.typ + " " + string(e.content)
}

// clEvents polls agent a until an empty poll and returns its events; every
// event must have exactly the spec's keys and a's work number.
func (cs *simServer) clEvents(tb testing.TB, a clAgent) []clEv {
	tb.Helper()
	var out []clEv
	for {
		ev := cs.mustPoll(tb, a.id, a.g)
		if ev == nil {
			return out
		}
		var typ string
		json.Unmarshal(ev["eventType"], &typ)
		mustEventType(tb, ev, a.id, typ)
		out = append(out, clEv{typ: typ, content: ev["content"]})
	}
}

// clTypes returns the event types of evs.
func clTypes(evs []clEv) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.typ)
	}
	return out
}

// clMustTypes drains agent a's events and fails tb unless their types are want.
func (cs *simServer) clMustTypes(tb testing.TB, a clAgent, want ...string) []clEv {
	tb.Helper()
	evs := cs.clEvents(tb, a)
	got := clTypes(evs)
	if want == nil {
		want = []string{}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		tb.Fatalf("events of %s\n got %v\nwant %v\n(all: %v)", a.id, got, want, evs)
	}
	return evs
}

// clFind returns the content of the first event of type typ in evs; it fails tb
// if there is none.
func clFind(tb testing.TB, evs []clEv, typ string) json.RawMessage {
	tb.Helper()
	for _, e := range evs {
		if e.typ == typ {
			return e.content
		}
	}
	tb.Fatalf("no %s in %v", typ, evs)
	return nil
}

// clObj decodes raw into a map; it fails tb unless raw is a JSON object.
func clObj(tb testing.TB, raw json.RawMessage) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		tb.Fatalf("not an object: %s", raw)
	}
	return m
}

// clJournal returns every event in the admin journal, paging through it with
// after and limit.
func (cs *simServer) clJournal(tb testing.TB) []ccgw.Event {
	tb.Helper()
	var out []ccgw.Event
	after := uint64(0)
	for {
		r := cs.clAdmin(tb, http.MethodGet, "events?after="+strconv.FormatUint(after, 10)+"&limit=50", "")
		var res struct {
			Events []ccgw.Event `json:"events"`
			Last   uint64       `json:"last"`
		}
		if err := json.Unmarshal(r.env["result"], &res); err != nil || res.Events == nil {
			tb.Fatalf("events: %s", r.body)
		}
		if len(res.Events) == 0 {
			if res.Last != after {
				tb.Fatalf("empty page after %d says last %d", after, res.Last)
			}
			return out
		}
		if len(res.Events) > 50 || res.Last != after+uint64(len(res.Events)) {
			tb.Fatalf("page after %d: %d events, last %d", after, len(res.Events), res.Last)
		}
		out = append(out, res.Events...)
		after = res.Last
	}
}

// clRaw sends a request without do's status check (for statuses do does not
// allow, such as 409) and returns the status and the decoded envelope; it still
// requires the JSON Content-Type and a known retcode.
func (ts *tServer) clRaw(tb testing.TB, method, path, body string) (int, map[string]json.RawMessage) {
	tb.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := ts.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != wantContentType {
		tb.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(b, &env); err != nil {
		tb.Fatalf("%s %s: body %q", method, path, b)
	}
	var code string
	json.Unmarshal(env["retcode"], &code)
	if !ccgw.Retcode(code).Known() {
		tb.Fatalf("%s %s: unknown retcode in %s", method, path, b)
	}
	return resp.StatusCode, env
}
