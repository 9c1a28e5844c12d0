package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/api"
)

// Tests of the voice-call (V1–V8), call-data (C1–C5) and queue-device (Q1–Q4)
// interfaces of docs/spec-voicecall.md, over loopback HTTP with the call
// simulator behind the gateway on a fake clock that the admin API moves (whose
// own tests are in admin_test.go). Nothing sleeps: every engine step runs inside the request or the clock
// advance that causes it.

// clOK is the success body of the operations whose result is reserved.
const clOK = `{"message":"success","retcode":"0","result":{}}`

// clCustomer is the caller of the calls the setups inject.
const clCustomer = "13800000001"

// clCallIDRE is the shape of a call ID (spec-voicecall: "<unix seconds>-<n>").
var clCallIDRE = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// clEnv is one row's server and state.
type clEnv struct {
	cs   *simServer
	a    clAgent // the caller, 1001
	b    clAgent // a second agent, 1002, when the setup signs it in
	call string  // the setup's active (or last) call
	held string  // the setup's held call
}

// clSetup brings a row's server to the state the row needs.
type clSetup func(tb testing.TB, e *clEnv)

// Setups. Each drains the events it causes.
func clIdle(tb testing.TB, e *clEnv) { e.a = e.cs.clManual(tb, "1001") }

// clBusy signs the caller in busy (status 3): calls wait in the queue.
func clBusy(tb testing.TB, e *clEnv) { e.a = e.cs.clSignIn(tb, "1001", `"status":3`) }

func clRinging(tb testing.TB, e *clEnv) {
	clIdle(tb, e)
	e.call = e.cs.clInject(tb, `{"skillId":1,"caller":"`+clCustomer+`"}`)
	e.cs.clEvents(tb, e.a)
}

func clTalking(tb testing.TB, e *clEnv) {
	clRinging(tb, e)
	e.cs.clMust(tb, e.a, http.MethodPut, "/voicecall/{id}/answer", "", "0")
	e.cs.clEvents(tb, e.a)
}

func clAutoTalking(tb testing.TB, e *clEnv) {
	e.a = e.cs.clSignIn(tb, "1001", "")
	e.call = e.cs.clInject(tb, `{"skillId":1,"caller":"`+clCustomer+`"}`)
	e.cs.clEvents(tb, e.a)
}

func clHeld(tb testing.TB, e *clEnv) {
	clTalking(tb, e)
	e.cs.clMust(tb, e.a, http.MethodPost, "/voicecall/{id}/hold", "", "0")
	e.held, e.call = e.call, ""
	e.cs.clEvents(tb, e.a)
}

// clCallout calls 555 out from the caller and returns the call ID.
func clCallout(tb testing.TB, e *clEnv) string {
	r := e.cs.clMust(tb, e.a, http.MethodPut, "/voicecall/{id}/callout", `{"called":"555"}`, "0")
	var id string
	json.Unmarshal(r.env["result"], &id)
	e.cs.clEvents(tb, e.a)
	return id
}

func clDialing(tb testing.TB, e *clEnv) {
	clIdle(tb, e)
	e.call = clCallout(tb, e)
}

// clOutTalking is an outbound call the callee answered.
func clOutTalking(tb testing.TB, e *clEnv) {
	clDialing(tb, e)
	e.cs.clAdvance(tb, 3*time.Second)
	e.cs.clEvents(tb, e.a)
}

// clHeldDialing has a held call and an outbound call dialing.
func clHeldDialing(tb testing.TB, e *clEnv) {
	clHeld(tb, e)
	e.call = clCallout(tb, e)
}

// clEnded has talked and released; the call is the caller's last call.
func clEnded(tb testing.TB, e *clEnv) {
	clTalking(tb, e)
	e.cs.clMust(tb, e.a, http.MethodDelete, "/voicecall/{id}/release", "", "0")
	e.cs.clEvents(tb, e.a)
}

// clTalkingPlus is clTalking with agent 1002 signed in (manual answer) and idle.
func clTalkingPlus(tb testing.TB, e *clEnv) {
	clTalking(tb, e)
	e.b = e.cs.clManual(tb, "1002")
}

// clQueued has the caller busy and one call waiting in skill 1.
func clQueued(tb testing.TB, e *clEnv) {
	clBusy(tb, e)
	e.call = e.cs.clInject(tb, `{"skillId":1,"caller":"`+clCustomer+`"}`)
}

// clCaller says who sends a row's request.
type clCaller int

const (
	clAsAgent     clCaller = iota // the caller with its GUID
	clNotSignedIn                 // nobody signed in; Guid of no session
	clWrongGUID                   // the caller is signed in; Guid of no session
	clNoGUID                      // the caller is signed in; no Guid header
)

// clNobody is a well-formed GUID of no session.
const clNobody = "00000000-0000-0000-0000-000000000000.AgentGateway0"

// clRow is one (interface, case) → retcode.
type clRow struct {
	name   string
	method string
	path   string // under base: {id} the caller (or agent), {call} and {held} the setup's calls
	body   string
	setup  clSetup // clIdle if nil (unless caller is clNotSignedIn)
	caller clCaller
	agent  string // the path's agent id instead of the caller's
	want   string // retcode
	status int    // HTTP status; 200 if 0
	exact  string // the exact body, if set
	then   func(t *testing.T, e *clEnv, r *tResp)
}

func clRun(t *testing.T, rows []clRow) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			e := &clEnv{cs: newSimServer(t, simConfig{})}
			if row.caller != clNotSignedIn {
				setup := row.setup
				if setup == nil {
					setup = clIdle
				}
				setup(t, e)
			}
			id := e.a.id
			if id == "" {
				id = "1001"
			}
			if row.agent != "" {
				id = row.agent
			}
			path := base + strings.NewReplacer("{id}", id, "{call}", e.call, "{held}", e.held).Replace(row.path)
			var h hdr
			switch row.caller {
			case clAsAgent:
				h = guidHdr(e.a.g)
			case clNotSignedIn, clWrongGUID:
				h = guidHdr(clNobody)
			case clNoGUID:
				h = hdr{}
			}
			r := e.cs.do(t, row.method, path, h, row.body)
			status := row.status
			if status == 0 {
				status = http.StatusOK
			}
			if r.status != status || r.retcode() != row.want {
				t.Fatalf("%s %s: HTTP %d retcode %q, want %d %q: %s", row.method, path, r.status, r.retcode(), status, row.want, r.body)
			}
			if row.want != "0" {
				mustKeys(t, "error envelope", r.env, "message", "retcode")
			}
			if row.exact != "" {
				mustBody(t, r, row.exact)
			}
			if row.then != nil {
				row.then(t, e, r)
			}
		})
	}
}

// clIface is one call interface with a request that passes validation.
type clIface struct {
	name, method, path, body string
}

// clIfaces are every call interface the gateway serves (spec-voicecall §0,
// without the optional V6 and V9).
var clIfaces = []clIface{
	{"answer", http.MethodPut, "/voicecall/{id}/answer", ""},
	{"release", http.MethodDelete, "/voicecall/{id}/release", ""},
	{"releaseEx", http.MethodDelete, "/voicecall/{id}", ""},
	{"dropCall", http.MethodPost, "/voicecall/{id}/dropcall/1767603600-1", ""},
	{"hold", http.MethodPost, "/voicecall/{id}/hold", ""},
	{"getHold", http.MethodPost, "/voicecall/{id}/gethold", ""},
	{"callout", http.MethodPut, "/voicecall/{id}/callout", `{"called":"555"}`},
	{"transfer", http.MethodPost, "/voicecall/{id}/transfer", `{"devicetype":1,"address":"1","mode":0}`},
	{"queryCallInfo", http.MethodGet, "/calldata/{id}/callinfo", ""},
	{"queryCallInfoByCallId", http.MethodGet, "/calldata/{id}/callinfobycallid/1767603600-1", ""},
	{"queryCallInfoBeforeAnswer", http.MethodGet, "/calldata/{id}/callinfobeforeanswer", ""},
	{"queryHoldListInfo", http.MethodGet, "/calldata/{id}/holdlist", ""},
	{"queryWaitCallInfoBySkillId", http.MethodGet, "/calldata/{id}/waitcallinfo/1", ""},
	{"queryQueueLengthOnAgent", http.MethodGet, "/queuedevice/{id}/waitnum", ""},
	{"queryQueueLengthOnAgentSkills", http.MethodGet, "/queuedevice/{id}/waitnumbyagent", ""},
	{"queryQueueLengthBySkillId", http.MethodGet, "/queuedevice/{id}/skillwaitnum/1", ""},
	{"queryStatInfoOfAcd", http.MethodPost, "/queuedevice/{id}/queryacdstat", `{"skills":[1]}`},
}

// TestCallInterfacesCommonRetcodes runs, for every call interface, the cases
// every interface shares: not signed in (100-006), a wrong or missing Guid
// (000-003), an agent ID out of range or not a number (000-002) and a wrong HTTP
// method (405 + 000-002 with Allow naming the right one).
func TestCallInterfacesCommonRetcodes(t *testing.T) {
	var rows []clRow
	for _, f := range clIfaces {
		wrong := http.MethodGet
		if f.method == http.MethodGet {
			wrong = http.MethodPost
		}
		allow := f.method
		rows = append(rows,
			clRow{name: f.name + "/not signed in", method: f.method, path: f.path, body: f.body, caller: clNotSignedIn, want: "100-006"},
			clRow{name: f.name + "/wrong guid", method: f.method, path: f.path, body: f.body, caller: clWrongGUID, want: "000-003"},
			clRow{name: f.name + "/no guid", method: f.method, path: f.path, body: f.body, caller: clNoGUID, want: "000-003"},
			clRow{name: f.name + "/agent id 100", method: f.method, path: f.path, body: f.body, agent: "100", want: "000-002"},
			clRow{name: f.name + "/agent id 1000000", method: f.method, path: f.path, body: f.body, agent: "1000000", want: "000-002"},
			clRow{name: f.name + "/agent id not a number", method: f.method, path: f.path, body: f.body, agent: "10a1", want: "000-002"},
			clRow{name: f.name + "/wrong method", method: wrong, path: f.path, body: f.body, want: "000-002",
				status: http.StatusMethodNotAllowed, then: func(t *testing.T, e *clEnv, r *tResp) {
					if got := r.header.Get("Allow"); got != allow {
						t.Fatalf("Allow %q, want %q", got, allow)
					}
				}},
		)
	}
	clRun(t, rows)
}

// clEvCallID fails t unless raw is the bare JSON string id.
func clEvCallID(t testing.TB, raw json.RawMessage, id string) {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s != id {
		t.Fatalf("content %s, want the call ID %q", raw, id)
	}
}

// clMustCallState fails t unless call id is live in state with agent workNo.
func clMustCallState(t testing.TB, cs *simServer, id, state, workNo string) {
	t.Helper()
	if st := cs.clCall(t, id); st.State != state || st.WorkNo != workNo {
		t.Fatalf("call %s is %s at %q, want %s at %q", id, st.State, st.WorkNo, state, workNo)
	}
}

// TestVoiceCallRetcodes is one row per (operation V1–V8, case) → retcode.
func TestVoiceCallRetcodes(t *testing.T) {
	const (
		answer   = "/voicecall/{id}/answer"
		release  = "/voicecall/{id}/release"
		releaseE = "/voicecall/{id}"
		drop     = "/voicecall/{id}/dropcall/"
		hold     = "/voicecall/{id}/hold"
		gethold  = "/voicecall/{id}/gethold"
		callout  = "/voicecall/{id}/callout"
	)
	put, del, post := http.MethodPut, http.MethodDelete, http.MethodPost
	released := func(t *testing.T, e *clEnv, _ *tResp) {
		evs := e.cs.clMustTypes(t, e.a, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		clEvCallID(t, evs[0].content, e.call)
		mustBody(t, &tResp{body: evs[2].content}, `{"phoneState":2}`)
		e.cs.clMustGone(t, e.call)
	}
	rows := []clRow{
		// V1 answer
		{name: "answer/no call", method: put, path: answer, want: "200-002"},
		{name: "answer/wrong callid", method: put, path: answer + "?callid=1767603600-99", setup: clRinging, want: "200-002"},
		{name: "answer/held call's id", method: put, path: answer + "?callid={held}", setup: clHeld, want: "200-002"},
		{name: "answer/already talking", method: put, path: answer, setup: clTalking, want: "200-002"},
		{name: "answer/auto-answered", method: put, path: answer, setup: clAutoTalking, want: "200-002"},
		{name: "answer/outbound dialing", method: put, path: answer, setup: clDialing, want: "200-002"},
		{name: "answer/ringing", method: put, path: answer + "?callid={call}", setup: clRinging, want: "0", exact: clOK,
			then: func(t *testing.T, e *clEnv, _ *tResp) {
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvTalking)
				if m := clObj(t, evs[0].content); m["callid"] != e.call || m["caller"] != clCustomer || m["feature"] != "0" {
					t.Fatalf("Talking %s", evs[0].content)
				}
				clMustCallState(t, e.cs, e.call, "talking", "1001")
			}},
		{name: "answer/ringing without callid", method: put, path: answer, setup: clRinging, want: "0", exact: clOK},

		// V2 release and its legacy path
		{name: "release/no call", method: del, path: release, want: "200-017"},
		{name: "release/only a held call", method: del, path: release, setup: clHeld, want: "200-017"},
		{name: "release/talking", method: del, path: release, setup: clTalking, want: "0", exact: clOK, then: released},
		{name: "release/ringing (rejects)", method: del, path: release, setup: clRinging, want: "0",
			then: func(t *testing.T, e *clEnv, _ *tResp) {
				e.cs.clMustTypes(t, e.a, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady,
					// back in the queue, the call is offered to the only idle agent again
					ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting)
			}},
		{name: "releaseEx/no call", method: del, path: releaseE, want: "200-017"},
		{name: "releaseEx/only a held call", method: del, path: releaseE, setup: clHeld, want: "200-017"},
		{name: "releaseEx/talking", method: del, path: releaseE, setup: clTalking, want: "0", exact: clOK, then: released},

		// V3 dropcall
		{name: "dropcall/no call", method: post, path: drop + "1767603600-1", want: "200-025"},
		{name: "dropcall/wrong callid", method: post, path: drop + "1767603600-99", setup: clTalking, want: "200-025"},
		{name: "dropcall/another agent's call", method: post, path: drop + "{call}", setup: func(tb testing.TB, e *clEnv) {
			clBusy(tb, e) // 1001 busy: the call goes to 1002
			e.b = e.cs.clSignIn(tb, "1002", "")
			e.call = e.cs.clInject(tb, `{"skillId":1}`)
			clMustCallState(tb, e.cs, e.call, "talking", "1002")
		}, want: "200-025"},
		{name: "dropcall/talking", method: post, path: drop + "{call}", setup: clTalking, want: "0", exact: clOK, then: released},
		{name: "dropcall/held", method: post, path: drop + "{held}", setup: clHeld, want: "0", exact: clOK,
			then: func(t *testing.T, e *clEnv, _ *tResp) {
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
				clEvCallID(t, evs[0].content, e.held)
				e.cs.clMust(t, e.a, http.MethodGet, "/calldata/{id}/holdlist", "", "400-003")
			}},

		// V4 hold
		{name: "hold/no call", method: post, path: hold, want: "200-013"},
		{name: "hold/only a held call", method: post, path: hold, setup: clHeld, want: "200-013"},
		{name: "hold/ringing", method: post, path: hold, setup: clRinging, want: "200-014"},
		{name: "hold/outbound dialing", method: post, path: hold, setup: clDialing, want: "200-014"},
		{name: "hold/talking", method: post, path: hold, setup: clTalking, want: "0", exact: clOK,
			then: func(t *testing.T, e *clEnv, _ *tResp) {
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvHold)
				clEvCallID(t, evs[0].content, e.call)
				clMustCallState(t, e.cs, e.call, "held", "1001")
				clMustState(t, e.cs, e.a, 7)
			}},

		// V5 gethold
		{name: "gethold/no held call", method: post, path: gethold, want: "200-015"},
		{name: "gethold/talking, none held", method: post, path: gethold, setup: clTalking, want: "200-015"},
		{name: "gethold/wrong callid", method: post, path: gethold + "?callid=1767603600-99", setup: clHeld, want: "200-015"},
		{name: "gethold/while another call is active", method: post, path: gethold, setup: clHeldDialing, want: "200-016"},
		{name: "gethold/callid", method: post, path: gethold + "?callid={held}", setup: clHeld, want: "0", exact: clOK,
			then: func(t *testing.T, e *clEnv, _ *tResp) {
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvTalking)
				if clObj(t, evs[0].content)["callid"] != e.held {
					t.Fatalf("Talking %s", evs[0].content)
				}
				clMustCallState(t, e.cs, e.held, "talking", "1001")
			}},
		{name: "gethold/most recent without callid", method: post, path: gethold, setup: func(tb testing.TB, e *clEnv) {
			clHeld(tb, e)
			first := e.held
			clCallout(tb, e)
			e.cs.clAdvance(tb, 3*time.Second)
			e.cs.clMust(tb, e.a, post, hold, "", "0")
			e.cs.clEvents(tb, e.a)
			r := e.cs.clMust(tb, e.a, http.MethodGet, "/calldata/{id}/holdlist", "", "0")
			var list []map[string]any
			json.Unmarshal(r.env["result"], &list)
			if len(list) != 2 || list[0]["callid"] != first {
				tb.Fatalf("hold list %s, want two calls, %s first", r.env["result"], first)
			}
			e.held = list[1]["callid"].(string)
		}, want: "0", then: func(t *testing.T, e *clEnv, _ *tResp) {
			evs := e.cs.clMustTypes(t, e.a, ccgw.EvTalking)
			if clObj(t, evs[0].content)["callid"] != e.held {
				t.Fatalf("retrieved %s, want the most recently held %s", evs[0].content, e.held)
			}
		}},
	}

	// V7 callout
	outOK := func(t *testing.T, e *clEnv, r *tResp) {
		var id string
		if err := json.Unmarshal(r.env["result"], &id); err != nil || !clCallIDRE.MatchString(id) {
			t.Fatalf("result %s, want a call ID string", r.env["result"])
		}
		if secs := strconv.FormatInt(e.cs.clock.Now().Unix(), 10); !strings.HasPrefix(id, secs+"-") {
			t.Fatalf("call ID %s, want %s-<n>", id, secs)
		}
		mustKeys(t, "callout envelope", r.env, "message", "retcode", "result")
	}
	long := strings.Repeat("x", 16384)
	rows = append(rows,
		clRow{name: "callout/no body", method: put, path: callout, want: "000-002"},
		clRow{name: "callout/not JSON", method: put, path: callout, body: `{"called":`, want: "000-002"},
		clRow{name: "callout/called missing", method: put, path: callout, body: `{}`, want: "200-001"},
		clRow{name: "callout/called empty", method: put, path: callout, body: `{"called":""}`, want: "200-001"},
		clRow{name: "callout/called letters", method: put, path: callout, body: `{"called":"55a"}`, want: "200-001"},
		clRow{name: "callout/called plus", method: put, path: callout, body: `{"called":"+8655"}`, want: "200-001"},
		clRow{name: "callout/called 25 chars", method: put, path: callout, body: `{"called":"` + strings.Repeat("5", 25) + `"}`, want: "200-001"},
		clRow{name: "callout/called 24 chars", method: put, path: callout, body: `{"called":"` + strings.Repeat("5", 24) + `"}`, want: "0", then: outOK},
		clRow{name: "callout/called * and #", method: put, path: callout, body: `{"called":"*55#"}`, want: "0", then: outOK},
		clRow{name: "callout/called a JSON number", method: put, path: callout, body: `{"called":555}`, want: "0", then: outOK},
		clRow{name: "callout/caller letters", method: put, path: callout, body: `{"called":"555","caller":"12a"}`, want: "000-002"},
		clRow{name: "callout/caller 25 digits", method: put, path: callout, body: `{"called":"555","caller":"` + strings.Repeat("1", 25) + `"}`, want: "000-002"},
		clRow{name: "callout/caller empty", method: put, path: callout, body: `{"called":"555","caller":""}`, want: "0", then: outOK},
		clRow{name: "callout/mediaability 3", method: put, path: callout, body: `{"called":"555","mediaability":3}`, want: "000-002"},
		clRow{name: "callout/mediaability -1", method: put, path: callout, body: `{"called":"555","mediaability":-1}`, want: "000-002"},
		clRow{name: "callout/mediaability x", method: put, path: callout, body: `{"called":"555","mediaability":"x"}`, want: "000-002"},
		clRow{name: "callout/mediaability 2", method: put, path: callout, body: `{"called":"555","mediaability":"2"}`, want: "0", then: outOK},
		clRow{name: "callout/userVideoDirection 0", method: put, path: callout, body: `{"called":"555","mediaability":1,"userVideoDirection":0}`, want: "000-002"},
		clRow{name: "callout/userVideoDirection 5", method: put, path: callout, body: `{"called":"555","mediaability":1,"userVideoDirection":5}`, want: "000-002"},
		clRow{name: "callout/userVideoDirection 3", method: put, path: callout, body: `{"called":"555","mediaability":1,"userVideoDirection":3}`, want: "0", then: outOK},
		clRow{name: "callout/callappdata 16385", method: put, path: callout, body: `{"called":"555","callappdata":"` + long + `x"}`, want: "000-002"},
		clRow{name: "callout/callappdata 16384", method: put, path: callout, body: `{"called":"555","callappdata":"` + long + `"}`, want: "0", then: outOK},
		clRow{name: "callout/skillid not a number", method: put, path: callout, body: `{"called":"555","skillid":"one"}`, want: "000-002"},
		clRow{name: "callout/while talking", method: put, path: callout, body: `{"called":"555"}`, setup: clTalking, want: "100-009"},
		clRow{name: "callout/while ringing", method: put, path: callout, body: `{"called":"555"}`, setup: clRinging, want: "100-009"},
		clRow{name: "callout/while dialing", method: put, path: callout, body: `{"called":"555"}`, setup: clDialing, want: "100-009"},
		clRow{name: "callout/with a held call", method: put, path: callout, body: `{"called":"555"}`, setup: clHeld, want: "0", then: outOK},
		clRow{name: "callout/from busy", method: put, path: callout, body: `{"called":"555"}`, setup: clBusy, want: "0", then: outOK},
		clRow{name: "callout/from work", method: put, path: callout, body: `{"called":"555"}`, setup: func(tb testing.TB, e *clEnv) {
			e.a = e.cs.clSignIn(tb, "1001", `"status":5`)
		}, want: "0", then: outOK},
		clRow{name: "callout/answered", method: put, path: callout, body: `{"called":"555","caller":"4001"}`, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				outOK(t, e, r)
				var id string
				json.Unmarshal(r.env["result"], &id)
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvBusy, ccgw.EvCustomerAlerting)
				mustBody(t, &tResp{body: evs[3].content}, `{"callid":"`+id+`","otherPhone":"555","otherPhoneWorkno":"","type":"main"}`)
				clMustCallState(t, e.cs, id, "dialing", "1001")
				e.cs.clAdvance(t, 3*time.Second) // the simulated callee answers after 3 s
				evs = e.cs.clMustTypes(t, e.a, ccgw.EvTalking)
				if m := clObj(t, evs[0].content); m["callid"] != id || m["caller"] != "4001" || m["called"] != "555" || m["feature"] != "7" {
					t.Fatalf("Talking %s", evs[0].content)
				}
				clMustCallState(t, e.cs, id, "talking", "1001")
			}},
		clRow{name: "callout/always off-hook", method: put, path: callout, body: `{"called":"555"}`, setup: func(tb testing.TB, e *clEnv) {
			e.a = e.cs.clSignIn(tb, "1001", `"releasephone":false`)
		}, want: "0", then: func(t *testing.T, e *clEnv, r *tResp) {
			e.cs.clMustTypes(t, e.a, ccgw.EvBusy, ccgw.EvCustomerAlerting)
		}},
		clRow{name: "callout/999 fails", method: put, path: callout, body: `{"called":"999123"}`, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				outOK(t, e, r)
				var id string
				json.Unmarshal(r.env["result"], &id)
				e.cs.clEvents(t, e.a)
				e.cs.clAdvance(t, 3*time.Second)
				evs := e.cs.clMustTypes(t, e.a, ccgw.EvPhoneRelease, ccgw.EvCallOutFail, ccgw.EvConnectFail, ccgw.EvReady)
				mustBody(t, &tResp{body: evs[0].content}, `{"phoneState":3}`)
				clEvCallID(t, evs[1].content, id)
				clEvCallID(t, evs[2].content, id)
				e.cs.clMustGone(t, id)
				clMustState(t, e.cs, e.a, 4)
			}},
	)

	// V8 transfer: every (devicetype, mode) of the table in spec-voicecall V8,
	// from a talking call, with a valid address for the device type.
	allowed := map[int][]int{1: {0, 2}, 2: {0, 2, 3}, 3: {0, 1}, 4: {0, 2}, 5: {1, 2, 3, 4}}
	addr := map[int]string{0: "1", 1: "1", 2: "1002", 3: "123", 4: "123", 5: "555", 6: "1"}
	for dt := 0; dt <= 6; dt++ {
		for mode := 0; mode <= 4; mode++ {
			want := "000-002"
			for _, m := range allowed[dt] {
				if m == mode {
					want = "0"
				}
			}
			rows = append(rows, clRow{
				name: fmt.Sprintf("transfer/devicetype %d mode %d", dt, mode), method: post, path: "/voicecall/{id}/transfer",
				body:  fmt.Sprintf(`{"devicetype":%d,"address":"%s","mode":%d}`, dt, addr[dt], mode),
				setup: clTalkingPlus, want: want,
			})
		}
	}
	tr := "/voicecall/{id}/transfer"
	rows = append(rows,
		clRow{name: "transfer/no body", method: post, path: tr, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/devicetype missing", method: post, path: tr, body: `{"address":"1","mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/mode missing", method: post, path: tr, body: `{"devicetype":1,"address":"1"}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/address missing", method: post, path: tr, body: `{"devicetype":1,"mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/address empty", method: post, path: tr, body: `{"devicetype":1,"address":"","mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/skill address not digits", method: post, path: tr, body: `{"devicetype":1,"address":"1a","mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/unknown skill", method: post, path: tr, body: `{"devicetype":1,"address":"99","mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/address 25 digits", method: post, path: tr, body: `{"devicetype":3,"address":"` + strings.Repeat("1", 25) + `","mode":0}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/external address F", method: post, path: tr, body: `{"devicetype":5,"address":"55F","mode":1}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/external address A-E * #", method: post, path: tr, body: `{"devicetype":5,"address":"5aE*#","mode":1}`, setup: clTalking, want: "0"},
		clRow{name: "transfer/agent not signed in", method: post, path: tr, body: `{"devicetype":2,"address":"1003","mode":0}`, setup: clTalkingPlus, want: "000-002"},
		clRow{name: "transfer/agent is the caller", method: post, path: tr, body: `{"devicetype":2,"address":"1001","mode":2}`, setup: clTalkingPlus, want: "000-002"},
		clRow{name: "transfer/caller letters", method: post, path: tr, body: `{"devicetype":5,"address":"555","mode":2,"caller":"1x"}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/caller 25 digits", method: post, path: tr, body: `{"devicetype":5,"address":"555","mode":2,"caller":"` + strings.Repeat("1", 25) + `"}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/mediaability 3", method: post, path: tr, body: `{"devicetype":5,"address":"555","mode":2,"mediaability":3}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/callappdata 16385", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0,"callappdata":"` + long + `x"}`, setup: clTalking, want: "000-002"},
		clRow{name: "transfer/external release of an outbound call", method: post, path: tr, body: `{"devicetype":5,"address":"555","mode":1}`, setup: clOutTalking, want: "000-002"},
		clRow{name: "transfer/no call", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0}`, want: "200-012"},
		clRow{name: "transfer/ringing", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0}`, setup: clRinging, want: "200-012"},
		clRow{name: "transfer/dialing", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0}`, setup: clDialing, want: "200-012"},
		clRow{name: "transfer/only a held call", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0}`, setup: clHeld, want: "200-012"},
		clRow{name: "transfer/success transfer pending", method: post, path: tr, body: `{"devicetype":1,"address":"1","mode":0}`, setup: func(tb testing.TB, e *clEnv) {
			clTalkingPlus(tb, e)
			e.cs.clMust(tb, e.a, post, tr, `{"devicetype":2,"address":"1002","mode":2}`, "0")
		}, want: "200-012"},
		clRow{name: "transfer/vendor example (devicetype 2 mode 3, holdflag string)", method: post, path: tr,
			body:  `{"devicetype":2,"mode":3,"address":"1002","callappdata":"","caller":"40040","mediaability":0,"holdflag":"true"}`,
			setup: clTalkingPlus, want: "0", exact: clOK, then: func(t *testing.T, e *clEnv, _ *tResp) {
				// treated as success mode: 1002 is offered the call, 1001 keeps it
				evs := e.cs.clMustTypes(t, e.b, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting)
				if m := clObj(t, evs[4].content); m["transfer"] != "yes" || m["transfrom"] != "1001" || m["callid"] != e.call {
					t.Fatalf("Ringing %s", evs[4].content)
				}
				e.cs.clMustTypes(t, e.a)
				clMustCallState(t, e.cs, e.call, "talking", "1001")
			}},
		clRow{name: "transfer/string numbers", method: post, path: tr, body: `{"devicetype":"1","address":1,"mode":"0"}`, setup: clTalking, want: "0", exact: clOK},
	)
	clRun(t, rows)
}

// clMustState fails t unless agent a's agentstatus agentState is want.
func clMustState(t testing.TB, cs *simServer, a clAgent, want int) {
	t.Helper()
	r := cs.clMust(t, a, http.MethodGet, "/onlineagent/{id}/agentstatus", "", "0")
	var st struct {
		AgentState int  `json:"agentState"`
		IsWorking  bool `json:"isWorking"`
	}
	json.Unmarshal(r.env["result"], &st)
	if st.AgentState != want || st.IsWorking != (want == 7) {
		t.Fatalf("agent %s status %s, want agentState %d", a.id, r.env["result"], want)
	}
}

// clCallInfoKeys are the keys of a call information object (spec-voicecall §3.0,
// without the reserved trace).
var clCallInfoKeys = []string{"callfeature", "callid", "caller", "called", "callskill", "callskillid", "orgicallednum",
	"calldata", "begintime", "endtime", "userPriority", "trunkNo", "logontimes", "mediaType", "mediaAbility", "waitTime"}

// clInfo fails t unless raw is a call information object of call id and returns it.
func clInfo(t testing.TB, raw json.RawMessage, id string) map[string]any {
	t.Helper()
	return clInfoKeys(t, raw, id, clCallInfoKeys)
}

// clInfoKeys is clInfo for an object with exactly keys: a hold-list element
// has the vendor table's ten (clHeldKeys), a waiting call also "trace".
func clInfoKeys(t testing.TB, raw json.RawMessage, id string, want []string) map[string]any {
	t.Helper()
	var keys map[string]json.RawMessage
	json.Unmarshal(raw, &keys)
	mustKeys(t, "call info", keys, want...)
	m := clObj(t, raw)
	if m["callid"] != id {
		t.Fatalf("call info of %v, want %s: %s", m["callid"], id, raw)
	}
	for _, k := range []string{"callid", "caller", "called", "callskill", "orgicallednum", "calldata"} {
		if _, ok := m[k].(string); !ok {
			t.Fatalf("call info %s is not a string: %s", k, raw)
		}
	}
	for _, k := range []string{"callfeature", "callskillid", "userPriority", "trunkNo", "logontimes", "mediaType", "mediaAbility", "waitTime"} {
		if _, has := keys[k]; !has {
			continue
		}
		if _, ok := m[k].(float64); !ok {
			t.Fatalf("call info %s is not a number: %s", k, raw)
		}
	}
	return m
}

// clEmpty fails t unless r's result is {}.
func clEmpty(t *testing.T, _ *clEnv, r *tResp) {
	t.Helper()
	if string(r.env["result"]) != "{}" {
		t.Fatalf("result %s, want {}", r.env["result"])
	}
}

// clResultIs returns a check that r's result is exactly want.
func clResultIs(want string) func(*testing.T, *clEnv, *tResp) {
	return func(t *testing.T, _ *clEnv, r *tResp) {
		t.Helper()
		if string(r.env["result"]) != want {
			t.Fatalf("result %s, want %s", r.env["result"], want)
		}
	}
}

// TestCallDataAndQueueRetcodes is one row per (query C1–C5, Q1–Q4, case) → retcode.
func TestCallDataAndQueueRetcodes(t *testing.T) {
	get, post := http.MethodGet, http.MethodPost
	const (
		info   = "/calldata/{id}/callinfo"
		byID   = "/calldata/{id}/callinfobycallid/"
		before = "/calldata/{id}/callinfobeforeanswer"
		holds  = "/calldata/{id}/holdlist"
		wait   = "/calldata/{id}/waitcallinfo/"
		acd    = "/queuedevice/{id}/queryacdstat"
	)
	current := func(t *testing.T, e *clEnv, r *tResp) { clInfo(t, r.env["result"], e.call) }
	last := func(t *testing.T, e *clEnv, r *tResp) {
		if m := clInfo(t, r.env["result"], e.call); m["endtime"] == nil || m["begintime"] == nil {
			t.Fatalf("last call without begintime/endtime: %s", r.env["result"])
		}
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = strconv.Itoa(i + 1)
	}
	rows := []clRow{
		// C1 callinfo (isNoContainLastCall: true never returns the last call)
		{name: "callinfo/bad isNoContainLastCall", method: get, path: info + "?isNoContainLastCall=maybe", want: "000-002"},
		{name: "callinfo/no call", method: get, path: info, want: "0", then: clEmpty},
		{name: "callinfo/talking", method: get, path: info + "?isNoContainLastCall=true", setup: clTalking, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				m := clInfo(t, r.env["result"], e.call)
				if m["caller"] != clCustomer || m["called"] != "10086" || m["callskillid"] != 1.0 || m["callskill"] != "default_voice" ||
					m["callfeature"] != 0.0 || m["begintime"] == nil || m["endtime"] != nil {
					t.Fatalf("call info %s", r.env["result"])
				}
			}},
		{name: "callinfo/held", method: get, path: info + "?isNoContainLastCall=true", setup: clHeld, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) { clInfo(t, r.env["result"], e.held) }},
		{name: "callinfo/ended, true", method: get, path: info + "?isNoContainLastCall=true", setup: clEnded, want: "0", then: clEmpty},
		{name: "callinfo/ended, TRUE", method: get, path: info + "?isNoContainLastCall=TRUE", setup: clEnded, want: "0", then: clEmpty},
		{name: "callinfo/ended, false", method: get, path: info + "?isNoContainLastCall=false", setup: clEnded, want: "0", then: last},
		{name: "callinfo/ended, absent", method: get, path: info, setup: clEnded, want: "0", then: last},

		// C2 callinfobycallid
		{name: "callinfobycallid/unknown", method: get, path: byID + "1767603600-99", setup: clTalking, want: "000-002"},
		{name: "callinfobycallid/no call", method: get, path: byID + "1767603600-1", want: "000-002"},
		{name: "callinfobycallid/queued, not the agent's", method: get, path: byID + "{call}", setup: clQueued, want: "000-002"},
		{name: "callinfobycallid/active", method: get, path: byID + "{call}", setup: clTalking, want: "0", then: current},
		{name: "callinfobycallid/ringing", method: get, path: byID + "{call}", setup: clRinging, want: "0", then: current},
		{name: "callinfobycallid/held", method: get, path: byID + "{held}", setup: clHeld, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) { clInfo(t, r.env["result"], e.held) }},
		{name: "callinfobycallid/last", method: get, path: byID + "{call}", setup: clEnded, want: "0", then: last},

		// C3 callinfobeforeanswer
		{name: "callinfobeforeanswer/none", method: get, path: before, want: "0", then: clEmpty},
		{name: "callinfobeforeanswer/talking", method: get, path: before, setup: clTalking, want: "0", then: clEmpty},
		{name: "callinfobeforeanswer/ringing", method: get, path: before, setup: clRinging, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				if m := clInfo(t, r.env["result"], e.call); m["begintime"] != nil {
					t.Fatalf("begintime before answer: %s", r.env["result"])
				}
			}},

		// C4 holdlist
		{name: "holdlist/empty", method: get, path: holds, want: "400-003"},
		{name: "holdlist/talking, none held", method: get, path: holds, setup: clTalking, want: "400-003"},
		{name: "holdlist/held", method: get, path: holds, setup: clHeld, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				var list []json.RawMessage
				if json.Unmarshal(r.env["result"], &list) != nil || len(list) != 1 {
					t.Fatalf("hold list %s, want one call", r.env["result"])
				}
				clInfoKeys(t, list[0], e.held, clCallInfoKeys[:10])
			}},

		// C5 waitcallinfo
		{name: "waitcallinfo/skill not a number", method: get, path: wait + "one", want: "000-002"},
		{name: "waitcallinfo/skill negative", method: get, path: wait + "-1", want: "000-002"},
		{name: "waitcallinfo/empty queue", method: get, path: wait + "1", want: "0", then: clResultIs("[]")},
		{name: "waitcallinfo/unknown skill", method: get, path: wait + "99", want: "0", then: clResultIs("[]")},
		{name: "waitcallinfo/one waiting", method: get, path: wait + "1", setup: clQueued, want: "0",
			then: func(t *testing.T, e *clEnv, r *tResp) {
				var list []json.RawMessage
				if json.Unmarshal(r.env["result"], &list) != nil || len(list) != 1 {
					t.Fatalf("waiting %s, want one call", r.env["result"])
				}
				m := clInfoKeys(t, list[0], e.call, append(slices.Clip(clCallInfoKeys), "trace"))
				if m["begintime"] != nil || m["trace"] != nil {
					t.Fatalf("begintime or trace of a waiting call: %s", list[0])
				}
			}},

		// Q1–Q3
		{name: "waitnum/none", method: get, path: "/queuedevice/{id}/waitnum", want: "0", then: clResultIs("0")},
		{name: "waitnum/one", method: get, path: "/queuedevice/{id}/waitnum", setup: clQueued, want: "0", then: clResultIs("1")},
		{name: "waitnum/configured skills, not only signed-in ones", method: get, path: "/queuedevice/{id}/waitnum",
			setup: clQueuedOnSkill2, want: "0", then: clResultIs("1")},
		{name: "waitnumbyagent/none", method: get, path: "/queuedevice/{id}/waitnumbyagent", want: "0", then: clResultIs("0")},
		{name: "waitnumbyagent/one", method: get, path: "/queuedevice/{id}/waitnumbyagent", setup: clQueued, want: "0", then: clResultIs("1")},
		{name: "waitnumbyagent/signed-in skills only", method: get, path: "/queuedevice/{id}/waitnumbyagent",
			setup: clQueuedOnSkill2, want: "0", then: clResultIs("0")},
		{name: "skillwaitnum/skill not a number", method: get, path: "/queuedevice/{id}/skillwaitnum/x", want: "000-002"},
		{name: "skillwaitnum/skill negative", method: get, path: "/queuedevice/{id}/skillwaitnum/-1", want: "000-002"},
		{name: "skillwaitnum/one", method: get, path: "/queuedevice/{id}/skillwaitnum/1", setup: clQueued, want: "0", then: clResultIs("1")},
		{name: "skillwaitnum/other skill", method: get, path: "/queuedevice/{id}/skillwaitnum/2", setup: clQueued, want: "0", then: clResultIs("0")},
		{name: "skillwaitnum/unknown skill", method: get, path: "/queuedevice/{id}/skillwaitnum/99", want: "0", then: clResultIs("0")},

		// Q4 queryacdstat
		{name: "queryacdstat/no body", method: post, path: acd, want: "000-002"},
		{name: "queryacdstat/skills missing", method: post, path: acd, body: `{}`, want: "000-002"},
		{name: "queryacdstat/skills null", method: post, path: acd, body: `{"skills":null}`, want: "000-002"},
		{name: "queryacdstat/skills empty", method: post, path: acd, body: `{"skills":[]}`, want: "000-002"},
		{name: "queryacdstat/skills not a list", method: post, path: acd, body: `{"skills":"1"}`, want: "000-002"},
		{name: "queryacdstat/101 skills", method: post, path: acd, body: `{"skills":[` + strings.Join(many, ",") + `]}`, want: "000-002"},
		{name: "queryacdstat/non-numeric skill", method: post, path: acd, body: `{"skills":["1","x"]}`, want: "000-002"},
		{name: "queryacdstat/empty skill", method: post, path: acd, body: `{"skills":[""]}`, want: "000-002"},
		{name: "queryacdstat/negative skill", method: post, path: acd, body: `{"skills":[-1]}`, want: "000-002"},
		{name: "queryacdstat/fractional skill", method: post, path: acd, body: `{"skills":[1.5]}`, want: "000-002"},
		{name: "queryacdstat/not JSON", method: post, path: acd, body: `{"skills":[1`, want: "000-002"},
		{name: "queryacdstat/100 skills", method: post, path: acd, body: `{"skills":[` + strings.Join(many[:100], ",") + `]}`, want: "0",
			then: func(t *testing.T, _ *clEnv, r *tResp) {
				var list []map[string]any
				if json.Unmarshal(r.env["result"], &list) != nil || len(list) != 2 {
					t.Fatalf("stats %s, want skills 1 and 2 only", r.env["result"])
				}
			}},
		{name: "queryacdstat/unknown skills omitted", method: post, path: acd, body: `{"skills":[99]}`, want: "0", then: clResultIs("[]")},
		{name: "queryacdstat/ints and strings", method: post, path: acd, body: `{"skills":[2,"1"]}`, want: "0",
			then: func(t *testing.T, _ *clEnv, r *tResp) {
				var list []struct {
					DeviceNo int `json:"deviceNo"`
				}
				if json.Unmarshal(r.env["result"], &list) != nil || len(list) != 2 || list[0].DeviceNo != 2 || list[1].DeviceNo != 1 {
					t.Fatalf("stats %s, want skills 2 then 1", r.env["result"])
				}
			}},
	}
	clRun(t, rows)
}

// clQueuedOnSkill2 has the caller busy, signed in to skill 2 only, and a call
// waiting in skill 1 (one of its configured skills).
func clQueuedOnSkill2(tb testing.TB, e *clEnv) {
	clQueued(tb, e)
	e.cs.clMust(tb, e.a, http.MethodPost, "/onlineagent/{id}/resetskill/false?skillid=2", "", "0")
}

// TestCallInterfacesNeedAnEngine: without a call engine the call interfaces and
// the admin call endpoints do not exist (404 + 000-002).
func TestCallInterfacesNeedAnEngine(t *testing.T) {
	cs := newSimServer(t, simConfig{noCalls: true})
	a := cs.clSignIn(t, "1001", "")
	for _, f := range clIfaces {
		r := cs.clDo(t, a, f.method, f.path, f.body)
		if r.status != http.StatusNotFound || r.retcode() != "000-002" {
			t.Fatalf("%s without an engine: HTTP %d %s", f.name, r.status, r.body)
		}
	}
	for _, p := range []string{"queues", "calls/1-1", "rates"} {
		if r := cs.admin.do(t, http.MethodGet, api.AdminPrefix+p, nil, ""); r.status != http.StatusNotFound || r.retcode() != "000-002" {
			t.Fatalf("admin %s without an engine: HTTP %d %s", p, r.status, r.body)
		}
	}
	cs.clAdmin(t, http.MethodGet, "clock", "")
	cs.clAdmin(t, http.MethodGet, "events", "")
}

// clKind is the JSON type of a value: "string", "number", "object", "null", ...
func clKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "?"
}

// clShape is what an event's content must be: null, a bare string (the call
// ID), or an object with exactly fields, each of the JSON type given; check, if
// set, looks at the values.
type clShape struct {
	kind   string            // "null", "string" or "object"
	fields map[string]string // field → JSON type, for objects
	check  func(v any) error
}

// str and num abbreviate the field types.
const (
	str = "string"
	num = "number"
)

func oneOf(field string, allowed ...string) func(any) error {
	return func(v any) error {
		got := fmt.Sprint(v.(map[string]any)[field])
		for _, a := range allowed {
			if got == a {
				return nil
			}
		}
		return fmt.Errorf("%s %q, want one of %q", field, got, allowed)
	}
}

func allOf(fs ...func(any) error) func(any) error {
	return func(v any) error {
		for _, f := range fs {
			if err := f(v); err != nil {
				return err
			}
		}
		return nil
	}
}

// callIDField checks that field holds a call ID.
func callIDField(field string) func(any) error {
	return func(v any) error {
		if s, _ := v.(map[string]any)[field].(string); !clCallIDRE.MatchString(s) {
			return fmt.Errorf("%s %q is not a call ID", field, s)
		}
		return nil
	}
}

// clRingingShape is the content of AgentEvent_Ringing and AgentEvent_Auto_Answer
// (events.md §3.2; spec-voicecall §1.2: strings except mediaType).
var clRingingShape = clShape{kind: "object",
	fields: map[string]string{"caller": str, "transfer": str, "called": str, "transfrom": str, "callid": str,
		"type": str, "feature": str, "mediaAbility": str, "mediaType": num},
	check: allOf(callIDField("callid"), oneOf("transfer", "yes", "no"), oneOf("type", "main", "assistant"),
		oneOf("feature", "0", "7"), oneOf("mediaAbility", "1", "2", "3", "5", "6"), oneOf("mediaType", "5"),
		func(v any) error {
			m := v.(map[string]any)
			if (m["transfer"] == "yes") != (m["transfrom"] != "") {
				return fmt.Errorf("transfer %v with transfrom %q", m["transfer"], m["transfrom"])
			}
			return nil
		}),
}

// clShapes are the event contents of events.md §3.1–3.3 and spec-voicecall
// §1.2, keyed by eventType: every event the call flows emit.
var clShapes = map[string]clShape{
	ccgw.EvInService:             {kind: "null"},
	ccgw.EvReady:                 {kind: "null"},
	ccgw.EvBusy:                  {kind: "null"},
	ccgw.EvWork:                  {kind: "null"},
	ccgw.EvCancelNotReadySuccess: {kind: "null"},
	ccgw.EvSetNotReadySuccess:    {kind: "object", fields: map[string]string{"reason": str}},
	ccgw.EvIncomingCallInfo: {kind: "object",
		fields: map[string]string{"callId": str, "skillName": str, "skillId": num, "caller": str, "called": str,
			"lastReleaseAgentId": num, "mediaType": num, "releaseAndReQueueCount": num, "releaseAndReQueueCallFlag": num},
		check: allOf(callIDField("callId"), oneOf("releaseAndReQueueCallFlag", "0", "1"))},
	ccgw.EvRinging:    clRingingShape,
	ccgw.EvAutoAnswer: clRingingShape,
	ccgw.EvCustomerAlerting: {kind: "object",
		fields: map[string]string{"callid": str, "otherPhoneWorkno": str, "otherPhone": str, "type": str},
		check:  allOf(callIDField("callid"), oneOf("type", "main", "assistant"))},
	ccgw.EvTalking: {kind: "object",
		fields: map[string]string{"caller": str, "called": str, "callid": str, "type": str, "feature": str, "mediaAbility": str},
		check:  allOf(callIDField("callid"), oneOf("type", "main", "assistant"), oneOf("feature", "0", "7"))},
	ccgw.EvHold:            {kind: "string"},
	ccgw.EvCallOutFail:     {kind: "string"},
	ccgw.EvConnectFail:     {kind: "string"},
	ccgw.EvNoAnswer:        {kind: "string"},
	ccgw.EvCallRelease:     {kind: "string"},
	ccgw.EvReturnFromIVR:   {kind: "string"},
	ccgw.EvConference:      {kind: "null"},
	ccgw.EvCustomerRelease: {kind: "object", fields: map[string]string{"callid": str, "number": str}, check: callIDField("callid")},
	ccgw.EvPhoneAlerting:   {kind: "null"},
	ccgw.EvPhoneOffhook:    {kind: "object", fields: map[string]string{"type": str}, check: oneOf("type", "main", "assistant", "unknown")},
	ccgw.EvPhoneRelease:    {kind: "object", fields: map[string]string{"phoneState": num}, check: oneOf("phoneState", "2", "3")},
	ccgw.EvSuccTransResult: {kind: "object", fields: map[string]string{"result": num, "callId": str},
		check: allOf(callIDField("callId"), oneOf("result", "0", "1"))},
}

// clMustShape fails t unless ev's content has the shape its type requires.
func clMustShape(t testing.TB, ev ccgw.Event) {
	t.Helper()
	sh, ok := clShapes[ev.Type]
	if !ok {
		t.Fatalf("event %s (of %s) is not in the table: %s", ev.Type, ev.WorkNo, ev.Content)
	}
	var v any
	if err := json.Unmarshal(ev.Content, &v); err != nil {
		t.Fatalf("%s content %s: %v", ev.Type, ev.Content, err)
	}
	if got := clKind(v); got != sh.kind {
		t.Fatalf("%s content %s is %s, want %s", ev.Type, ev.Content, got, sh.kind)
	}
	switch sh.kind {
	case "string":
		if !clCallIDRE.MatchString(v.(string)) {
			t.Fatalf("%s content %s is not a call ID", ev.Type, ev.Content)
		}
	case "object":
		m := v.(map[string]any)
		if len(m) != len(sh.fields) {
			t.Fatalf("%s content %s: %d fields, want %d (%v)", ev.Type, ev.Content, len(m), len(sh.fields), sh.fields)
		}
		for k, kind := range sh.fields {
			if got := clKind(m[k]); got != kind {
				t.Fatalf("%s content %s: %s is %s, want %s", ev.Type, ev.Content, k, got, kind)
			}
		}
	}
	if sh.check != nil {
		if err := sh.check(v); err != nil {
			t.Fatalf("%s content %s: %v", ev.Type, ev.Content, err)
		}
	}
}

// TestCallEventContent runs every call flow once — manual and auto answer,
// hold and retrieve, agent and customer release, ring timeout, outbound call
// answered and failed, success transfer that succeeds and that fails,
// release transfers to an agent, talk and three-party transfers to a number, a
// hang-up transfer to IVR that returns, wrap-up — checking the event sequences
// on the way, then checks every event in the journal against clShapes and that
// every row of clShapes was seen.
func TestCallEventContent(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	post, put, del := http.MethodPost, http.MethodPut, http.MethodDelete
	const (
		answer = "/voicecall/{id}/answer"
		rel    = "/voicecall/{id}/release"
		tr     = "/voicecall/{id}/transfer"
	)
	inbound := []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting}
	autoIn := []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvAutoAnswer, ccgw.EvTalking}
	agentRelease := []string{ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady}

	// Manual answer, hold, retrieve, release.
	a := cs.clManual(t, "1001")
	c1 := cs.clInject(t, `{"skillId":1,"caller":"13800000001"}`)
	cs.clMustTypes(t, a, inbound...)
	cs.clMust(t, a, put, answer, "", "0")
	cs.clMustTypes(t, a, ccgw.EvTalking)
	cs.clMust(t, a, post, "/voicecall/{id}/hold", "", "0")
	cs.clMustTypes(t, a, ccgw.EvHold)
	cs.clMust(t, a, post, "/voicecall/{id}/gethold?callid="+c1, "", "0")
	cs.clMustTypes(t, a, ccgw.EvTalking)
	cs.clMust(t, a, del, rel, "", "0")
	cs.clMustTypes(t, a, agentRelease...)

	// Ring timeout: no answer, the agent is set busy, the call waits.
	c2 := cs.clInject(t, `{"skillId":1,"caller":"13800000002"}`)
	cs.clMustTypes(t, a, inbound...)
	cs.clAdvance(t, clRing)
	cs.clMustTypes(t, a, ccgw.EvNoAnswer, ccgw.EvPhoneRelease, ccgw.EvSetNotReadySuccess)
	clMustCallState(t, cs, c2, "queued", "")

	// An auto-answer agent takes it; the customer hangs up.
	b := clAgent{id: "1002", g: cs.mustSignIn(t, pathLogin, "1002", `{"password":"secret","phonenum":"71002"}`)}
	cs.clMustTypes(t, b, append([]string{ccgw.EvInService, ccgw.EvReady}, autoIn...)...)
	cs.clAdmin(t, del, "calls/"+c2, "")
	cs.clMustTypes(t, b, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)

	// Outbound: answered, then failed.
	cs.clMust(t, b, put, "/voicecall/{id}/callout", `{"called":"555"}`, "0")
	cs.clMustTypes(t, b, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvBusy, ccgw.EvCustomerAlerting)
	cs.clAdvance(t, 3*time.Second)
	cs.clMustTypes(t, b, ccgw.EvTalking)
	cs.clMust(t, b, del, rel, "", "0")
	cs.clMustTypes(t, b, agentRelease...)
	cs.clMust(t, b, put, "/voicecall/{id}/callout", `{"called":"999555"}`, "0")
	cs.clEvents(t, b)
	cs.clAdvance(t, 3*time.Second)
	cs.clMustTypes(t, b, ccgw.EvPhoneRelease, ccgw.EvCallOutFail, ccgw.EvConnectFail, ccgw.EvReady)

	// 1001 becomes idle after 1002: the next call goes to 1002, which
	// success-transfers it to 1001; 1001 answers.
	cs.clAdvance(t, time.Second)
	cs.clMust(t, a, post, "/onlineagent/{id}/sayfree", "", "0")
	cs.clEvents(t, a)
	c3 := cs.clInject(t, `{"skillId":1,"caller":"13800000003"}`)
	cs.clMustTypes(t, b, autoIn...)
	cs.clMust(t, b, post, tr, `{"devicetype":2,"address":"1001","mode":2}`, "0")
	cs.clMustTypes(t, a, inbound...)
	cs.clMust(t, a, put, answer, "", "0")
	cs.clMustTypes(t, a, ccgw.EvTalking)
	evs := cs.clMustTypes(t, b, ccgw.EvSuccTransResult, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
	mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c3+`","result":0}`)
	clMustCallState(t, cs, c3, "talking", "1001")

	// 1001 success-transfers to a number that does not answer, then makes a
	// talk transfer that fails and a three-party transfer that succeeds.
	cs.clMust(t, a, post, tr, `{"devicetype":5,"address":"999000","mode":2}`, "0")
	cs.clAdvance(t, 3*time.Second)
	evs = cs.clMustTypes(t, a, ccgw.EvSuccTransResult)
	mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c3+`","result":1}`)
	clMustCallState(t, cs, c3, "talking", "1001")
	cs.clMust(t, a, post, tr, `{"devicetype":5,"address":"999001","mode":3}`, "0")
	cs.clMustTypes(t, a, ccgw.EvHold, ccgw.EvCustomerAlerting)
	cs.clAdvance(t, 3*time.Second)
	cs.clMustTypes(t, a, ccgw.EvConnectFail, ccgw.EvTalking)
	cs.clMust(t, a, post, tr, `{"devicetype":5,"address":"555","mode":4,"holdflag":false}`, "0")
	evs = cs.clMustTypes(t, a, ccgw.EvCustomerAlerting)
	if m := clObj(t, evs[0].content); m["type"] != "assistant" || m["otherPhone"] != "555" {
		t.Fatalf("three-party Customer_Alerting %s", evs[0].content)
	}
	cs.clAdvance(t, 3*time.Second)
	cs.clMustTypes(t, a, ccgw.EvTalking, ccgw.EvConference)
	cs.clMust(t, a, del, rel, "", "0")
	cs.clMustTypes(t, a, agentRelease...)

	// Hang-up transfer to IVR: the call comes back to 1002 (idle longest).
	c4 := cs.clInject(t, `{"skillId":1}`)
	cs.clMustTypes(t, b, autoIn...)
	cs.clMust(t, b, post, tr, `{"devicetype":3,"address":"123","mode":1}`, "0")
	cs.clMustTypes(t, b, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
	cs.clAdvance(t, 5*time.Second)
	evs = cs.clMustTypes(t, b, append([]string{ccgw.EvReturnFromIVR}, autoIn...)...)
	clEvCallID(t, evs[0].content, c4)

	// Release transfer to 1003 (auto answer, no auto idle): it ends in Work.
	c := cs.clSignIn(t, "1003", `"autoenteridle":false`)
	cs.clMust(t, b, post, tr, `{"devicetype":2,"address":"1003","mode":0}`, "0")
	cs.clMustTypes(t, b, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
	evs = cs.clMustTypes(t, c, autoIn...)
	if m := clObj(t, evs[4].content); m["transfer"] != "yes" || m["transfrom"] != "1002" || m["callid"] != c4 {
		t.Fatalf("Auto_Answer of a transferred call %s", evs[4].content)
	}
	cs.clMust(t, c, del, rel, "", "0")
	cs.clMustTypes(t, c, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvWork)

	// Every event in the journal, against the table.
	seen := map[string]int{}
	all := cs.clJournal(t)
	for _, ev := range all {
		clMustShape(t, ev)
		if ev.GenTime < clStart.UnixMilli() || ev.GenTime > cs.clock.Now().UnixMilli() {
			t.Fatalf("%s eventGenTime %d outside the fake clock's run", ev.Type, ev.GenTime)
		}
		seen[ev.Type]++
	}
	var missing []string
	for typ := range clShapes {
		if seen[typ] == 0 {
			missing = append(missing, typ)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("flows emitted no %v", missing)
	}
	if len(all) < 80 {
		t.Fatalf("journal has %d events", len(all))
	}
}

// TestCallRouting: a call rings the agent of its skill idle longest (by the
// fake clock), ties to the lower work number, skipping agents without talk right,
// busy, or already in a call.
func TestCallRouting(t *testing.T) {
	post := http.MethodPost
	inject := func(cs *simServer) string { return cs.clInject(t, `{"skillId":1}`) }
	t.Run("longest idle first", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		cs.clManual(t, "1003")
		cs.clAdvance(t, time.Second)
		cs.clManual(t, "1001")
		cs.clAdvance(t, time.Second)
		cs.clManual(t, "1002")
		for _, want := range []string{"1003", "1001", "1002"} {
			clMustCallState(t, cs, inject(cs), "ringing", want) // each agent in a call is skipped next
		}
		clMustCallState(t, cs, inject(cs), "queued", "")
	})
	t.Run("tie goes to the lower work number", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		cs.clManual(t, "1002")
		cs.clManual(t, "1001") // same fake instant
		clMustCallState(t, cs, inject(cs), "ringing", "1001")
	})
	t.Run("no talk right is skipped", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		a := cs.clManual(t, "1001")
		cs.clAdvance(t, time.Second)
		cs.clManual(t, "1002")
		cs.clMust(t, a, post, "/onlineagent/{id}/settalkright?flag=0", "", "0")
		clMustCallState(t, cs, inject(cs), "ringing", "1002")
		c := inject(cs)
		clMustCallState(t, cs, c, "queued", "")
		cs.clMust(t, a, post, "/onlineagent/{id}/settalkright?flag=1", "", "0") // talk right back: takes the waiting call
		clMustCallState(t, cs, c, "ringing", "1001")
	})
	t.Run("busy is skipped", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		a := cs.clManual(t, "1001")
		cs.clAdvance(t, time.Second)
		cs.clManual(t, "1002")
		cs.clMust(t, a, post, "/onlineagent/{id}/saybusy", "", "0")
		clMustCallState(t, cs, inject(cs), "ringing", "1002")
		c := inject(cs)
		clMustCallState(t, cs, c, "queued", "")
		cs.clMust(t, a, post, "/onlineagent/{id}/sayfree", "", "0") // idle again: takes the waiting call
		clMustCallState(t, cs, c, "ringing", "1001")
	})
	t.Run("idle since is reset by a busy spell", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		a := cs.clManual(t, "1001")
		cs.clAdvance(t, time.Second)
		cs.clManual(t, "1002")
		cs.clAdvance(t, time.Second)
		cs.clMust(t, a, post, "/onlineagent/{id}/saybusy", "", "0")
		cs.clMust(t, a, post, "/onlineagent/{id}/sayfree", "", "0")
		clMustCallState(t, cs, inject(cs), "ringing", "1002")
	})
	t.Run("other skill is not offered", func(t *testing.T) {
		cs := newSimServer(t, simConfig{})
		a := cs.clManual(t, "1001")
		cs.clMust(t, a, post, "/onlineagent/{id}/resetskill/false?skillid=2", "", "0")
		clMustCallState(t, cs, inject(cs), "queued", "")
	})
}

// TestCallAbandon: a caller with abandonSeconds waits in the queue while no
// agent is idle, the queue figures grow with the clock, then the caller gives up:
// abandoned counts it, the call is gone. A caller who gives up while the call
// rings releases the agent.
func TestCallAbandon(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	a := cs.clSignIn(t, "1001", `"status":3`)
	c := cs.clInject(t, `{"skillId":1,"abandonSeconds":30}`)
	cs.clAdvance(t, 10*time.Second)
	if q := cs.clQueueOf(t, 1); q.Waiting != 1 || q.LongestWait != 10 || q.Abandoned != 0 {
		t.Fatalf("queue after 10 s %+v", q)
	}
	clMustAcd(t, cs, a, 1, 10)
	clMustCallState(t, cs, c, "queued", "")
	cs.clAdvance(t, 19*time.Second)
	clMustCallState(t, cs, c, "queued", "")
	cs.clAdvance(t, time.Second)
	if q := cs.clQueueOf(t, 1); q.Waiting != 0 || q.LongestWait != 0 || q.Abandoned != 1 || q.Offered != 0 {
		t.Fatalf("queue after abandon %+v", q)
	}
	cs.clMustGone(t, c)
	clMustAcd(t, cs, a, 0, 0)
	mustCode(t, cs.clMust(t, a, http.MethodGet, "/queuedevice/{id}/waitnum", "", "0"), "0")
	cs.clMustTypes(t, a)

	// The customer hangs up while the call rings at a manual-answer agent.
	b := cs.clManual(t, "1002")
	c = cs.clInject(t, `{"skillId":1,"caller":"13800000005"}`)
	clMustCallState(t, cs, c, "ringing", "1002")
	cs.clEvents(t, b)
	cs.clAdmin(t, http.MethodDelete, "calls/"+c, "")
	evs := cs.clMustTypes(t, b, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
	mustBody(t, &tResp{body: evs[0].content}, `{"callid":"`+c+`","number":"13800000005"}`)
	cs.clMustGone(t, c)
	if q := cs.clQueueOf(t, 1); q.Abandoned != 2 || q.Offered != 1 || q.Answered != 0 {
		t.Fatalf("queue after abandon while ringing %+v", q)
	}
	cs.clMust(t, b, http.MethodGet, "/calldata/{id}/callinfobeforeanswer", "", "0")
}

// clMustAcd fails t unless queryacdstat for skill 1 says size calls wait and the
// longest has waited wait seconds.
func clMustAcd(t testing.TB, cs *simServer, a clAgent, size, wait int) {
	t.Helper()
	r := cs.clMust(t, a, http.MethodPost, "/queuedevice/{id}/queryacdstat", `{"skills":["1"]}`, "0")
	var list []struct {
		QueueSize int `json:"queueSize"`
		QueueTime int `json:"queueTime"`
	}
	if json.Unmarshal(r.env["result"], &list) != nil || len(list) != 1 || list[0].QueueSize != size || list[0].QueueTime != wait {
		t.Fatalf("queryacdstat %s, want queueSize %d queueTime %d", r.env["result"], size, wait)
	}
}

// TestQueryAcdStatFigures: with waiting calls and no idle agent, queryacdstat,
// waitnum, skillwaitnum and waitcallinfo report the queue; when an agent
// becomes idle it takes the oldest call.
func TestQueryAcdStatFigures(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	a := cs.clSignIn(t, "1001", `"status":3,"autoanswer":false`)
	cs.clSignIn(t, "1002", `"status":3`)
	first := cs.clInject(t, `{"skillId":1,"caller":"13800000001"}`)
	cs.clAdvance(t, 5*time.Second)
	second := cs.clInject(t, `{"skillId":1,"caller":"13800000002"}`)
	cs.clAdvance(t, 7*time.Second)

	r := cs.clMust(t, a, http.MethodPost, "/queuedevice/{id}/queryacdstat", `{"skills":[1,"2",99]}`, "0")
	var got []map[string]any
	if err := json.Unmarshal(r.env["result"], &got); err != nil || len(got) != 2 {
		t.Fatalf("queryacdstat %s, want skills 1 and 2", r.env["result"])
	}
	// The fields the vendor's example shows unused carry its "none" values.
	want := map[string]any{"pilotNbr": "10086", "deviceNo": 1.0, "queueSize": 2.0, "queueTime": 12.0, "loadFactor": 65535.0,
		"estWaitTime": 0.0, "loggedOnAgents": 2.0, "availAgents": 0.0, "transferFlg": 0.0, "transferDeviceType": 255.0,
		"transferDeviceNo": 65535.0, "skillDescrip": "default_voice", "maxQueueSize": 0.0, "resourceIdleRate": 0.0,
		"serviceLevel": 100.0, "oldCallIdEx": map[string]any{"dateTime": 4294967295000.0, "dsn": 65535.0, "server": 255.0, "handle": 255.0}}
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Fatalf("skill 1 stats\n got %v\nwant %v", got[0], want)
	}
	if got[1]["deviceNo"] != 2.0 || got[1]["queueSize"] != 0.0 || got[1]["queueTime"] != 0.0 || got[1]["skillDescrip"] != "default_chat" {
		t.Fatalf("skill 2 stats %v", got[1])
	}
	mustCode(t, cs.clMust(t, a, http.MethodGet, "/queuedevice/{id}/waitnum", "", "0"), "0")
	for path, want := range map[string]string{
		"/queuedevice/{id}/waitnum": "2", "/queuedevice/{id}/waitnumbyagent": "2",
		"/queuedevice/{id}/skillwaitnum/1": "2", "/queuedevice/{id}/skillwaitnum/2": "0",
	} {
		if r := cs.clMust(t, a, http.MethodGet, path, "", "0"); string(r.env["result"]) != want {
			t.Fatalf("%s: result %s, want %s", path, r.env["result"], want)
		}
	}
	r = cs.clMust(t, a, http.MethodGet, "/calldata/{id}/waitcallinfo/1", "", "0")
	var waiting []json.RawMessage
	json.Unmarshal(r.env["result"], &waiting)
	if len(waiting) != 2 {
		t.Fatalf("waitcallinfo %s", r.env["result"])
	}
	waitKeys := append(slices.Clip(clCallInfoKeys), "trace")
	if w := clInfoKeys(t, waiting[0], first, waitKeys); w["waitTime"] != 12.0 || w["caller"] != "13800000001" {
		t.Fatalf("oldest waiting %s", waiting[0])
	}
	if w := clInfoKeys(t, waiting[1], second, waitKeys); w["waitTime"] != 7.0 {
		t.Fatalf("newest waiting %s", waiting[1])
	}

	// 1001 becomes idle: the oldest call rings it; one is left, waiting 7 s.
	cs.clMust(t, a, http.MethodPost, "/onlineagent/{id}/sayfree", "", "0")
	clMustCallState(t, cs, first, "ringing", "1001")
	clMustAcd(t, cs, a, 1, 7)
	if q := cs.clQueueOf(t, 1); q.Waiting != 1 || q.Offered != 1 || q.LongestWait != 7 {
		t.Fatalf("queue %+v", q)
	}
}

// TestCallNoAnswer: a manual-answer agent lets the call ring past the ring
// timeout: AgentEvent_No_Answer, the agent is set busy with reason "2", and the
// call, back at the head of its queue, rings the next agent, which answers.
func TestCallNoAnswer(t *testing.T) {
	cs := newSimServer(t, simConfig{})
	a := cs.clManual(t, "1001")
	cs.clAdvance(t, time.Second)
	b := cs.clManual(t, "1002")
	c := cs.clInject(t, `{"skillId":1,"caller":"13800000009"}`)
	evs := cs.clMustTypes(t, a, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting)
	mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c+`","called":"10086","caller":"13800000009","lastReleaseAgentId":65535,`+
		`"mediaType":5,"releaseAndReQueueCallFlag":0,"releaseAndReQueueCount":0,"skillId":1,"skillName":"default_voice"}`)
	mustBody(t, &tResp{body: evs[4].content}, `{"called":"10086","caller":"13800000009","callid":"`+c+`","feature":"0",`+
		`"mediaAbility":"1","mediaType":5,"transfer":"no","transfrom":"","type":"main"}`)
	clMustState(t, cs, a, 7)

	cs.clAdvance(t, clRing-time.Nanosecond)
	cs.clMustTypes(t, a)
	clMustCallState(t, cs, c, "ringing", "1001")
	cs.clAdvance(t, time.Nanosecond)
	evs = cs.clMustTypes(t, a, ccgw.EvNoAnswer, ccgw.EvPhoneRelease, ccgw.EvSetNotReadySuccess)
	clEvCallID(t, evs[0].content, c)
	mustBody(t, &tResp{body: evs[2].content}, `{"reason":"2"}`)
	clMustState(t, cs, a, 3)

	evs = cs.clMustTypes(t, b, ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting)
	if m := clObj(t, evs[0].content); m["callId"] != c || m["releaseAndReQueueCount"] != 1.0 ||
		m["releaseAndReQueueCallFlag"] != 1.0 || m["lastReleaseAgentId"] != 1001.0 {
		t.Fatalf("requeued Incoming_CallInfo %s", evs[0].content)
	}
	clMustCallState(t, cs, c, "ringing", "1002")
	cs.clMust(t, b, http.MethodPut, "/voicecall/{id}/answer?callid="+c, "", "0")
	cs.clMustTypes(t, b, ccgw.EvTalking)
	clMustCallState(t, cs, c, "talking", "1002")
	if q := cs.clQueueOf(t, 1); q.NoAnswer != 1 || q.Offered != 2 || q.Answered != 1 {
		t.Fatalf("queue %+v", q)
	}
	cs.clAdvance(t, clRing) // nothing more happens to either agent
	cs.clMustTypes(t, a)
	cs.clMustTypes(t, b)
	clMustState(t, cs, a, 3)
}

// TestCallTransfer runs transfers end to end.
func TestCallTransfer(t *testing.T) {
	post, put, del := http.MethodPost, http.MethodPut, http.MethodDelete
	const tr = "/voicecall/{id}/transfer"
	ringing := []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting}
	// talking has 1001 (manual answer, extra sign-in fields) talking with a
	// customer and 1002 (manual answer) idle since a second later.
	talking := func(t *testing.T, extra string) (*simServer, clAgent, clAgent, string) {
		cs := newSimServer(t, simConfig{})
		a := cs.clSignIn(t, "1001", `"autoanswer":false`+extra)
		c := cs.clInject(t, `{"skillId":1,"caller":"13800000007"}`)
		cs.clMust(t, a, put, "/voicecall/{id}/answer", "", "0")
		cs.clEvents(t, a)
		cs.clAdvance(t, time.Second)
		b := cs.clManual(t, "1002")
		cs.clAdvance(t, time.Second)
		return cs, a, b, c
	}
	mustTransferredRing := func(t *testing.T, evs []clEv, c string) {
		t.Helper()
		if m := clObj(t, evs[4].content); m["callid"] != c || m["transfer"] != "yes" || m["transfrom"] != "1001" || m["caller"] != "13800000007" {
			t.Fatalf("Ringing of a transferred call %s", evs[4].content)
		}
	}
	succeeded := func(t *testing.T, cs *simServer, a clAgent, c string, after string) {
		t.Helper()
		evs := cs.clMustTypes(t, a, ccgw.EvSuccTransResult, ccgw.EvCallRelease, ccgw.EvPhoneRelease, after)
		mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c+`","result":0}`)
		clEvCallID(t, evs[1].content, c)
		mustBody(t, &tResp{body: evs[2].content}, `{"phoneState":3}`)
	}

	t.Run("release to skill", func(t *testing.T) {
		cs, a, b, c := talking(t, `,"autoenteridle":false`)
		cs.clMust(t, a, post, tr, `{"devicetype":1,"address":"1","mode":0}`, "0")
		evs := cs.clMustTypes(t, a, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvWork)
		clEvCallID(t, evs[0].content, c)
		mustBody(t, &tResp{body: evs[1].content}, `{"phoneState":3}`)
		evs = cs.clMustTypes(t, b, ringing...)
		mustTransferredRing(t, evs, c)
		clMustCallState(t, cs, c, "ringing", "1002")
		cs.clMust(t, b, put, "/voicecall/{id}/answer", "", "0")
		cs.clMustTypes(t, b, ccgw.EvTalking)
		clMustCallState(t, cs, c, "talking", "1002")
		cs.clMust(t, a, http.MethodGet, "/calldata/{id}/callinfobycallid/"+c, "", "0") // still 1001's last call
		if q := cs.clQueueOf(t, 1); q.Transferred != 1 {
			t.Fatalf("queue %+v", q)
		}
	})
	t.Run("release to agent", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":2,"address":"1002","mode":0}`, "0")
		cs.clMustTypes(t, a, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		mustTransferredRing(t, cs.clMustTypes(t, b, ringing...), c)
		clMustCallState(t, cs, c, "ringing", "1002")
	})
	t.Run("success to agent, answered", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":2,"address":"1002","mode":2}`, "0")
		cs.clMustTypes(t, a) // the customer stays with 1001 until 1002 answers
		mustTransferredRing(t, cs.clMustTypes(t, b, ringing...), c)
		clMustCallState(t, cs, c, "talking", "1001")
		clInfo(t, cs.clMust(t, a, http.MethodGet, "/calldata/{id}/callinfo", "", "0").env["result"], c)
		cs.clMust(t, b, put, "/voicecall/{id}/answer?callid="+c, "", "0")
		cs.clMustTypes(t, b, ccgw.EvTalking)
		succeeded(t, cs, a, c, ccgw.EvReady)
		clMustCallState(t, cs, c, "talking", "1002")
		clMustState(t, cs, a, 4)
		cs.clMust(t, a, del, "/voicecall/{id}/release", "", "200-017")
		cs.clMust(t, b, del, "/voicecall/{id}/release", "", "0")
		cs.clMustTypes(t, b, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		cs.clMustGone(t, c)
	})
	t.Run("success to agent, not answered", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":2,"address":"1002","mode":2}`, "0")
		cs.clEvents(t, b)
		cs.clAdvance(t, clRing)
		cs.clMustTypes(t, b, ccgw.EvNoAnswer, ccgw.EvPhoneRelease, ccgw.EvSetNotReadySuccess)
		evs := cs.clMustTypes(t, a, ccgw.EvSuccTransResult)
		mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c+`","result":1}`)
		clMustCallState(t, cs, c, "talking", "1001") // 1001 keeps the customer
		clMustState(t, cs, a, 7)
		cs.clMust(t, a, del, "/voicecall/{id}/release", "", "0")
		cs.clMustTypes(t, a, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
	})
	t.Run("success to agent, target rejects", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":2,"address":"1002","mode":2}`, "0")
		cs.clEvents(t, b)
		cs.clMust(t, b, del, "/voicecall/{id}/release", "", "0")
		evs := cs.clMustTypes(t, a, ccgw.EvSuccTransResult)
		mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c+`","result":1}`)
		clMustCallState(t, cs, c, "talking", "1001")
	})
	t.Run("success to skill", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":1,"address":"1","mode":2}`, "0")
		mustTransferredRing(t, cs.clMustTypes(t, b, ringing...), c)
		cs.clMust(t, b, put, "/voicecall/{id}/answer", "", "0")
		succeeded(t, cs, a, c, ccgw.EvReady)
		clMustCallState(t, cs, c, "talking", "1002")
	})
	t.Run("success to skill without an idle agent", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, b, post, "/onlineagent/{id}/saybusy", "", "0")
		cs.clMust(t, a, post, tr, `{"devicetype":1,"address":"1","mode":2}`, "0")
		evs := cs.clMustTypes(t, a, ccgw.EvSuccTransResult)
		mustBody(t, &tResp{body: evs[0].content}, `{"callId":"`+c+`","result":1}`)
		clMustCallState(t, cs, c, "talking", "1001")
	})
	t.Run("customer hangs up while the target rings", func(t *testing.T) {
		cs, a, b, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":2,"address":"1002","mode":2}`, "0")
		cs.clEvents(t, b)
		cs.clAdmin(t, del, "calls/"+c, "")
		cs.clMustTypes(t, a, ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		cs.clMustTypes(t, b, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady)
		cs.clMustGone(t, c)
		cs.clMust(t, b, put, "/voicecall/{id}/answer", "", "200-002")
	})
	t.Run("success to a number", func(t *testing.T) {
		cs, a, _, c := talking(t, "")
		cs.clMust(t, a, post, tr, `{"devicetype":5,"address":"555","mode":2}`, "0")
		cs.clMustTypes(t, a)
		cs.clAdvance(t, 3*time.Second)
		succeeded(t, cs, a, c, ccgw.EvReady)
		cs.clMustGone(t, c)
	})
}
