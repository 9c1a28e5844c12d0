package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ccgw/ccgw/internal/agent"
)

// Tests of the state, skill, query, password and quality-control interfaces
// (interfaces.md §10–30, README §7 supervisor list) over loopback HTTP. Each
// table row runs on its own server, so rows share no agents.

// stAgentsFile is the --agents file of the rows that need one: 1001 is an
// inspector with skills 1 and 2, 1002 has skill 1, 1003 has no skill.
const stAgentsFile = `{
	"skills": [
		{"id": 1, "name": "Sales", "mediatype": 5},
		{"id": 2, "name": "Chat", "mediatype": 51}
	],
	"agents": [
		{"workNo": "1001", "name": "Alexandra", "password": "S3cret!pw", "phone": "70001", "groupId": 7, "skills": [1, 2], "inspector": true},
		{"workNo": "1002", "name": "Bob", "password": "B0b!secret", "phone": "70002", "groupId": 7, "skills": [1], "inspector": false},
		{"workNo": "1003", "name": "Carol", "password": "C4rol!pw", "phone": "70003", "groupId": 8, "inspector": false}
	]
}`

// stPasswords are the sign-in passwords of stAgentsFile.
var stPasswords = map[string]string{"1001": "S3cret!pw", "1002": "B0b!secret", "1003": "C4rol!pw"}

// stNobody is a well-formed GUID of no session.
const stNobody = "00000000-0000-0000-0000-000000000000.AgentGateway0"

// Success bodies.
const (
	stOK      = `{"message":"success","retcode":"0","result":{}}`
	stQuietOK = `{"message":"","retcode":"0","result":{}}` // the vendor's forcebusy example
	stOKState = `{"message":"success","retcode":"0","result":{"agentcustomstate":"65535"}}`
)

func stFileDir(tb testing.TB) *agent.Directory {
	tb.Helper()
	var f agent.File
	if err := json.Unmarshal([]byte(stAgentsFile), &f); err != nil {
		tb.Fatalf("agents file: %v", err)
	}
	d, err := agent.FromFile(f)
	if err != nil {
		tb.Fatalf("agent.FromFile: %v", err)
	}
	return d
}

// stEnv is one row's server and agents.
type stEnv struct {
	ts    *tServer
	file  bool
	id    string // the caller
	g     string // the caller's GUID ("" when not signed in)
	other string // the second agent
	og    string // its GUID ("" when not signed in)
}

// login signs agent id in with its password and phone 7<id> and returns its GUID.
func (e *stEnv) login(tb testing.TB, id string) string {
	tb.Helper()
	pw := "secret"
	if e.file {
		pw = stPasswords[id]
	}
	body, _ := json.Marshal(map[string]string{"password": pw, "phonenum": "7" + id})
	return e.ts.mustSignIn(tb, pathLogin, id, string(body))
}

// expand fills in the caller's and the other agent's work numbers.
func (e *stEnv) expand(path string) string {
	return base + strings.NewReplacer("{id}", e.id, "{other}", e.other).Replace(path)
}

// stReq is a request a row makes before its own, as the caller or the other
// agent; it must succeed.
type stReq struct {
	method, path, body string
}

func post(path string) stReq { return stReq{http.MethodPost, path, ""} }

// run sends req with guid and fails tb unless it succeeds.
func (e *stEnv) run(tb testing.TB, guid string, req stReq) {
	tb.Helper()
	r := e.ts.do(tb, req.method, e.expand(req.path), guidHdr(guid), req.body)
	if r.retcode() != "0" {
		tb.Fatalf("preparing: %s %s: retcode %s: %s", req.method, req.path, r.retcode(), r.body)
	}
}

// stEvents polls agent id until an empty poll and returns the events' types and
// contents ("type" or "type content" when the content is not null).
func stEvents(tb testing.TB, ts *tServer, id, guid string) []string {
	tb.Helper()
	out := []string{}
	for {
		ev := ts.mustPoll(tb, id, guid)
		if ev == nil {
			return out
		}
		var typ string
		json.Unmarshal(ev["eventType"], &typ)
		mustEventType(tb, ev, id, typ)
		if c := string(ev["content"]); c != "null" {
			typ += " " + c
		}
		out = append(out, typ)
	}
}

// mustEvents fails tb unless agent id's queued events are exactly want.
func stMustEvents(tb testing.TB, ts *tServer, id, guid string, want ...string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if got := stEvents(tb, ts, id, guid); !reflect.DeepEqual(got, want) {
		tb.Fatalf("events of %s\n got %q\nwant %q", id, got, want)
	}
}

// stCaller says who sends a row's request.
type stCaller int

const (
	stSignedIn    stCaller = iota // the caller, signed in, with its GUID
	stNotSignedIn                 // the caller is not signed in (Guid: stNobody)
	stWrongGUID                   // the caller is signed in; Guid: stNobody
	stNoGUID                      // the caller is signed in; no Guid header
	stOtherGUID                   // the caller is signed in; Guid: the other agent's GUID
)

// stRow is one (interface, case) → retcode.
type stRow struct {
	name   string
	method string // POST if empty
	path   string // under base: {id} is the caller, {other} the other agent
	body   string
	file   bool     // the stAgentsFile directory instead of the built-in one
	id     string   // the caller; 1001 if empty
	other  string   // the other agent; 1002 if empty
	caller stCaller // stSignedIn if zero
	// otherIn signs the other agent in before the caller.
	otherIn bool
	prep    []stReq // the caller's requests first
	oprep   []stReq // the other agent's requests first (implies otherIn)
	want    string  // retcode
	body200 string  // exact body, if set
	// then checks more, after the request.
	then func(t *testing.T, e *stEnv, r *tResp)
}

func stRun(t *testing.T, rows []stRow) {
	t.Helper()
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			// The built-in directory with --inspectors 1001: the caller (1001 by
			// default) may use the quality-control interfaces, nobody else.
			cfg := tConfig{dir: agent.Default()}
			cfg.dir.AddInspectors(agent.Ranges{{Lo: 1001, Hi: 1001}})
			if row.file {
				cfg.dir = stFileDir(t)
			}
			e := &stEnv{ts: testServer(t, cfg), file: row.file, id: row.id, other: row.other}
			if e.id == "" {
				e.id = "1001"
			}
			if e.other == "" {
				e.other = "1002"
			}
			if row.otherIn || row.oprep != nil || row.caller == stOtherGUID {
				e.og = e.login(t, e.other)
				for _, p := range row.oprep {
					e.run(t, e.og, p)
				}
			}
			if row.caller != stNotSignedIn {
				e.g = e.login(t, e.id)
				for _, p := range row.prep {
					e.run(t, e.g, p)
				}
			}
			var h hdr
			switch row.caller {
			case stSignedIn:
				h = guidHdr(e.g)
			case stNotSignedIn, stWrongGUID:
				h = guidHdr(stNobody)
			case stNoGUID:
				h = hdr{}
			case stOtherGUID:
				h = guidHdr(e.og)
			}
			method := row.method
			if method == "" {
				method = http.MethodPost
			}
			r := e.ts.do(t, method, e.expand(row.path), h, row.body)
			mustCode(t, r, row.want)
			if row.want != "0" {
				mustKeys(t, "error envelope", r.env, "message", "retcode")
			}
			if row.body200 != "" {
				mustBody(t, r, row.body200)
			}
			if row.then != nil {
				row.then(t, e, r)
			}
		})
	}
}

// stIface is one interface with what it takes to succeed.
type stIface struct {
	name    string
	method  string
	path    string
	body    string
	prep    []stReq // the caller's requests that make the call succeed
	oprep   []stReq // the other agent's
	otherIn bool
	ok      string // exact success body; "" to check only the retcode
}

// stIfaces lists every interface under test, each set up to succeed.
var stIfaces = []stIface{
	{name: "sayBusy", path: "/onlineagent/{id}/saybusy", ok: stOK},
	{name: "sayFree", path: "/onlineagent/{id}/sayfree", prep: []stReq{post("/onlineagent/{id}/saybusy")}, ok: stOK},
	{name: "cancelBusy", path: "/onlineagent/{id}/cancelbusy", prep: []stReq{post("/onlineagent/{id}/saybusy")}, ok: stOK},
	{name: "rest", path: "/onlineagent/{id}/rest/60/7", ok: stOK},
	{name: "cancelRest", path: "/onlineagent/{id}/cancelrest", prep: []stReq{post("/onlineagent/{id}/rest/60/7")}, ok: stOK},
	{name: "sayWork", path: "/onlineagent/{id}/work", ok: stOK},
	{name: "cancelWork", path: "/onlineagent/{id}/cancelwork", prep: []stReq{post("/onlineagent/{id}/work")}, ok: stOK},
	{name: "resetSkill", path: "/onlineagent/{id}/resetskill/true", ok: stOK},
	{name: "queryAgentSkills", method: http.MethodGet, path: "/onlineagent/{id}/agentskills"},
	{name: "queryAgentSkillsByWorkNo", method: http.MethodGet, path: "/onlineagent/{id}/agentskillsbyworkno/{other}"},
	{name: "queryAgentInfoByWorkNo", method: http.MethodGet, path: "/agentgroup/{id}/agentbyworkno/{other}"},
	{name: "queryAgentInfoBySkillId", method: http.MethodGet, path: "/agentgroup/{id}/agentbyskill/1"},
	{name: "queryAllOnlineAgents", method: http.MethodGet, path: "/agentgroup/{id}/allonlineagents"},
	{name: "setAgentAutoAnswer", path: "/onlineagent/{id}/autoanswer/true", ok: stOK},
	{name: "setAgentAutoEnterIdle", path: "/onlineagent/{id}/autoenteridle/false", ok: stOK},
	{name: "setTalkRight", path: "/onlineagent/{id}/settalkright?flag=0", ok: stOK},
	{name: "modifyAccountPwdEx", path: "/onlineagent/{id}/modifyaccountpwdex", body: `{"oldPassword":"secret","newPassword":"Gr8!Pass"}`, ok: stOK},
	{name: "queryCustomState", method: http.MethodGet, path: "/onlineagent/{id}/querycustomstate", ok: stOKState},
	{name: "forceLogOutAgent", path: "/qualitycontrol/{id}/forcelogout/{other}", otherIn: true, ok: stOK},
	{name: "forceBusy", path: "/qualitycontrol/{id}/forcebusy/{other}", otherIn: true, ok: stQuietOK},
	{name: "forceRest", path: "/qualitycontrol/{id}/forcerest/{other}/60/7", otherIn: true, ok: stQuietOK},
	{name: "forceIdle", path: "/qualitycontrol/{id}/forceidle/{other}", oprep: []stReq{post("/onlineagent/{other}/saybusy")}, ok: stQuietOK},
}

// TestStateAuth gives every interface its success, 100-006 (caller not signed
// in), and 000-003 (wrong, missing, or another agent's GUID) (interfaces.md
// "Common": universal retcodes of every GUID-protected call).
func TestStateAuth(t *testing.T) {
	var rows []stRow
	for _, f := range stIfaces {
		row := stRow{method: f.method, path: f.path, body: f.body, otherIn: f.otherIn, oprep: f.oprep}
		ok := row
		ok.name, ok.prep, ok.want, ok.body200 = f.name+"/ok", f.prep, "0", f.ok
		rows = append(rows, ok)
		for _, c := range []struct {
			name   string
			caller stCaller
			want   string
		}{
			{"not signed in", stNotSignedIn, "100-006"},
			{"wrong guid", stWrongGUID, "000-003"},
			{"no guid", stNoGUID, "000-003"},
			{"other agent's guid", stOtherGUID, "000-003"},
		} {
			r := row
			r.name, r.caller, r.want = f.name+"/"+c.name, c.caller, c.want
			if f.name == "queryAgentSkillsByWorkNo" || f.name == "queryAgentInfoByWorkNo" || strings.HasPrefix(f.path, "/qualitycontrol/") {
				r.otherIn = true
			}
			rows = append(rows, r)
		}
	}
	stRun(t, rows)
}

// TestStateBadParams has one row per bad parameter → 000-002, each next to a
// row with the limit that is accepted (interfaces.md §10, §13, §17, §19,
// §21–25, §29; docs/decisions.md "Agent states").
func TestStateBadParams(t *testing.T) {
	const (
		busy = "/onlineagent/{id}/saybusy"
		pwd  = "/onlineagent/{id}/modifyaccountpwdex"
	)
	get := http.MethodGet
	rows := []stRow{
		{name: "saybusy reason 199", path: busy + "?reason=199", want: "000-002"},
		{name: "saybusy reason 251", path: busy + "?reason=251", want: "000-002"},
		{name: "saybusy reason x", path: busy + "?reason=x", want: "000-002"},
		{name: "saybusy reason 1", path: busy + "?reason=1", want: "000-002"},
		{name: "saybusy reason -200", path: busy + "?reason=-200", want: "000-002"},
		{name: "saybusy prolong maybe", path: busy + "?prolong=maybe", want: "000-002"},
		{name: "saybusy reason 0", path: busy + "?reason=0", want: "0"},
		{name: "saybusy reason 200", path: busy + "?reason=200", want: "0"},
		{name: "saybusy reason 250 prolong false", path: busy + "?reason=250&prolong=false", want: "0"},
		{name: "saybusy reason empty", path: busy + "?reason=", want: "0"},

		{name: "rest time 0", path: "/onlineagent/{id}/rest/0/7", want: "000-002"},
		{name: "rest time 86400", path: "/onlineagent/{id}/rest/86400/7", want: "000-002"},
		{name: "rest time x", path: "/onlineagent/{id}/rest/x/7", want: "000-002"},
		{name: "rest time -5", path: "/onlineagent/{id}/rest/-5/7", want: "000-002"},
		{name: "rest cause 256", path: "/onlineagent/{id}/rest/60/256", want: "000-002"},
		{name: "rest cause -1", path: "/onlineagent/{id}/rest/60/-1", want: "000-002"},
		{name: "rest cause x", path: "/onlineagent/{id}/rest/60/x", want: "000-002"},
		{name: "rest prolong maybe", path: "/onlineagent/{id}/rest/60/7?prolong=maybe", want: "000-002"},
		{name: "rest time 1 cause 0", path: "/onlineagent/{id}/rest/1/0", want: "0"},
		{name: "rest time 86399 cause 255", path: "/onlineagent/{id}/rest/86399/255", want: "0"},

		{name: "resetskill skillid a;b", path: "/onlineagent/{id}/resetskill/false?skillid=a;b", want: "000-002"},
		{name: "resetskill skillid 1;x", path: "/onlineagent/{id}/resetskill/false?skillid=1;x", want: "000-002"},
		{name: "resetskill skillid -1", path: "/onlineagent/{id}/resetskill/false?skillid=-1", want: "000-002"},
		{name: "resetskill skillid over 4000 chars", path: "/onlineagent/{id}/resetskill/false?skillid=" + strings.Repeat("1;", 2001), want: "000-002"},
		{name: "resetskill phonelinkage 2", path: "/onlineagent/{id}/resetskill/true?phonelinkage=2", want: "000-002"},
		{name: "resetskill phonelinkage x", path: "/onlineagent/{id}/resetskill/true?phonelinkage=x", want: "000-002"},
		{name: "resetskill phonelinkage 1", path: "/onlineagent/{id}/resetskill/true?phonelinkage=1", want: "0"},
		{name: "resetskill skillid 1;2 phonelinkage 0", path: "/onlineagent/{id}/resetskill/false?skillid=1;2&phonelinkage=0", want: "0"},

		{name: "autoanswer 6 chars", path: "/onlineagent/{id}/autoanswer/falsey", want: "000-002"},
		{name: "autoanswer 5 chars", path: "/onlineagent/{id}/autoanswer/false", want: "0"},
		{name: "autoanswer other 5 chars", path: "/onlineagent/{id}/autoanswer/xyzzy", want: "0"},
		{name: "autoenteridle 6 chars", path: "/onlineagent/{id}/autoenteridle/abcdef", want: "000-002"},
		{name: "autoenteridle true", path: "/onlineagent/{id}/autoenteridle/true", want: "0"},

		{name: "settalkright flag 2", path: "/onlineagent/{id}/settalkright?flag=2", want: "000-002"},
		{name: "settalkright flag missing", path: "/onlineagent/{id}/settalkright", want: "000-002"},
		{name: "settalkright flag empty", path: "/onlineagent/{id}/settalkright?flag=", want: "000-002"},
		{name: "settalkright flag true", path: "/onlineagent/{id}/settalkright?flag=true", want: "000-002"},
		{name: "settalkright flag 1", path: "/onlineagent/{id}/settalkright?flag=1", want: "0"},

		{name: "agentbyworkno workno abc", method: get, path: "/agentgroup/{id}/agentbyworkno/abc", want: "000-002"},
		{name: "agentbyworkno workno 100", method: get, path: "/agentgroup/{id}/agentbyworkno/100", want: "000-002"},
		{name: "agentbyworkno workno 1000000", method: get, path: "/agentgroup/{id}/agentbyworkno/1000000", want: "000-002"},
		{name: "agentskillsbyworkno workno abc", method: get, path: "/onlineagent/{id}/agentskillsbyworkno/abc", want: "000-002"},
		{name: "agentskillsbyworkno workno 100", method: get, path: "/onlineagent/{id}/agentskillsbyworkno/100", want: "000-002"},
		{name: "agentbyskill skillid x", method: get, path: "/agentgroup/{id}/agentbyskill/x", want: "000-002"},
		{name: "agentbyskill skillid -1", method: get, path: "/agentgroup/{id}/agentbyskill/-1", want: "000-002"},
		{name: "agentbyskill body not JSON", method: get, path: "/agentgroup/{id}/agentbyskill/1", body: `{"agentLimit":`, want: "000-002"},
		{name: "agentbyskill agentLimit 0", method: get, path: "/agentgroup/{id}/agentbyskill/1", body: `{"agentLimit":0,"agentStatus":[4]}`, want: "000-002"},
		{name: "agentbyskill agentLimit 501", method: get, path: "/agentgroup/{id}/agentbyskill/1", body: `{"agentLimit":501,"agentStatus":[4]}`, want: "000-002"},
		{name: "agentbyskill agentLimit x", method: get, path: "/agentgroup/{id}/agentbyskill/1", body: `{"agentLimit":"x","agentStatus":[4]}`, want: "000-002"},
		{name: "agentbyskill agentLimit 500", method: get, path: "/agentgroup/{id}/agentbyskill/1", body: `{"agentLimit":500,"agentStatus":[4]}`, want: "0"},

		{name: "modifyaccountpwdex no body", path: pwd, want: "000-002"},
		{name: "modifyaccountpwdex empty object", path: pwd, body: `{}`, want: "000-002"},
		{name: "modifyaccountpwdex no newPassword", path: pwd, body: `{"oldPassword":"secret"}`, want: "000-002"},
		{name: "modifyaccountpwdex no oldPassword", path: pwd, body: `{"newPassword":"Gr8!Pass"}`, want: "000-002"},
		{name: "modifyaccountpwdex null newPassword", path: pwd, body: `{"oldPassword":"secret","newPassword":null}`, want: "000-002"},
		{name: "modifyaccountpwdex not JSON", path: pwd, body: `oldPassword=secret`, want: "000-002"},
		{name: "modifyaccountpwdex array", path: pwd, body: `["secret","Gr8!Pass"]`, want: "000-002"},
		{name: "modifyaccountpwdex oldPassword 33 chars", path: pwd, body: `{"oldPassword":"` + strings.Repeat("o", 33) + `","newPassword":"Gr8!Pass"}`, want: "000-002"},

		{name: "forcebusy workno abc", path: "/qualitycontrol/{id}/forcebusy/abc", want: "000-002"},
		{name: "forcelogout workno 100", path: "/qualitycontrol/{id}/forcelogout/100", want: "000-002"},
		{name: "forceidle workno x", path: "/qualitycontrol/{id}/forceidle/x", want: "000-002"},
		{name: "forcerest time 0", path: "/qualitycontrol/{id}/forcerest/{other}/0/7", otherIn: true, want: "000-002"},
		{name: "forcerest time 86400", path: "/qualitycontrol/{id}/forcerest/{other}/86400/7", otherIn: true, want: "000-002"},
		{name: "forcerest reason 256", path: "/qualitycontrol/{id}/forcerest/{other}/60/256", otherIn: true, want: "000-002"},
	}
	for i := range rows {
		if rows[i].want != "0" {
			rows[i].then = stUnchanged
		}
	}
	stRun(t, rows)
}

// stUnchanged checks that a refused request left the caller idle with no new
// events beyond its sign-in's.
func stUnchanged(t *testing.T, e *stEnv, _ *tResp) {
	t.Helper()
	stMustStatus(t, e.ts, e.id, e.g, 4)
	stMustEvents(t, e.ts, e.id, e.g, "AgentOther_InService", "AgentState_Ready")
}

// stMustStatus fails tb unless getAgentStatus says agent id is in state want.
func stMustStatus(tb testing.TB, ts *tServer, id, guid string, want int) {
	tb.Helper()
	r := ts.do(tb, http.MethodGet, pathStatus(id), guidHdr(guid), "")
	mustCode(tb, r, "0")
	var res struct {
		AgentState int `json:"agentState"`
	}
	json.Unmarshal(r.env["result"], &res)
	if res.AgentState != want {
		tb.Fatalf("agent %s in state %d, want %d: %s", id, res.AgentState, want, r.body)
	}
}

// TestStateTransitions checks the state interfaces' retcodes and events from
// each state they are tried in (docs/decisions.md "Agent states", events.md §6):
// refused transitions are 100-009 and change nothing.
func TestStateTransitions(t *testing.T) {
	const on = "/onlineagent/{id}"
	var (
		busy = post(on + "/saybusy?reason=201")
		rest = post(on + "/rest/600/7")
		work = post(on + "/work")
	)
	signIn := []string{"AgentOther_InService", "AgentState_Ready"}
	// after returns a check that the caller ends in state and that its events,
	// after the sign-in's, are evs.
	after := func(state int, evs ...string) func(*testing.T, *stEnv, *tResp) {
		return func(t *testing.T, e *stEnv, _ *tResp) {
			stMustStatus(t, e.ts, e.id, e.g, state)
			stMustEvents(t, e.ts, e.id, e.g, append(append([]string{}, signIn...), evs...)...)
		}
	}
	const (
		notReady201 = `AgentState_SetNotReady_Success {"reason":"201"}`
		setRest7    = `AgentState_SetRest_Success {"reason":"7"}`
	)
	rows := []stRow{
		{name: "saybusy from idle", path: on + "/saybusy?reason=201", want: "0", then: after(3, notReady201)},
		{name: "saybusy no reason", path: on + "/saybusy", want: "0", then: after(3, `AgentState_SetNotReady_Success {"reason":"0"}`)},
		{name: "saybusy from work", prep: []stReq{work}, path: on + "/saybusy?reason=201", want: "0", then: after(3, "AgentState_SetWork_Success", notReady201)},
		{name: "saybusy again without prolong", prep: []stReq{busy}, path: on + "/saybusy?reason=202", want: "100-009", then: after(3, notReady201)},
		{name: "saybusy again prolong=false", prep: []stReq{busy}, path: on + "/saybusy?reason=202&prolong=false", want: "100-009", then: after(3, notReady201)},
		{name: "saybusy again with prolong", prep: []stReq{busy}, path: on + "/saybusy?reason=202&prolong=true", want: "0", then: after(3, notReady201, `AgentState_SetNotReady_Success {"reason":"202"}`)},
		{name: "saybusy from rest", prep: []stReq{rest}, path: on + "/saybusy", want: "100-009", then: after(8, setRest7)},

		{name: "sayfree from idle", path: on + "/sayfree", want: "0", then: after(4, "AgentState_Ready")},
		{name: "sayfree from busy", prep: []stReq{busy}, path: on + "/sayfree", want: "0", then: after(4, notReady201, "AgentState_CancelNotReady_Success", "AgentState_Ready")},
		{name: "sayfree from work", prep: []stReq{work}, path: on + "/sayfree", want: "0", then: after(4, "AgentState_SetWork_Success", "AgentState_CancelWork_Success", "AgentState_Ready")},
		{name: "sayfree from rest", prep: []stReq{rest}, path: on + "/sayfree", want: "0", then: after(4, setRest7, "AgentState_CancelRest_Success", "AgentState_Ready")},

		{name: "cancelbusy from busy", prep: []stReq{busy}, path: on + "/cancelbusy", want: "0", then: after(4, notReady201, "AgentState_CancelNotReady_Success", "AgentState_Ready")},
		{name: "cancelbusy when idle", path: on + "/cancelbusy", want: "100-009", then: after(4)},
		{name: "cancelbusy in work", prep: []stReq{work}, path: on + "/cancelbusy", want: "100-009", then: after(5, "AgentState_SetWork_Success")},

		{name: "rest from idle", path: on + "/rest/600/7", want: "0", then: after(8, setRest7)},
		{name: "rest from busy", prep: []stReq{busy}, path: on + "/rest/600/7", want: "0", then: after(8, notReady201, setRest7)},
		{name: "rest from work", prep: []stReq{work}, path: on + "/rest/600/7", want: "0", then: after(8, "AgentState_SetWork_Success", setRest7)},
		{name: "rest again without prolong", prep: []stReq{rest}, path: on + "/rest/600/9", want: "100-009", then: after(8, setRest7)},
		{name: "rest again with prolong", prep: []stReq{rest}, path: on + "/rest/600/9?prolong=true", want: "0", then: after(8, setRest7, `AgentState_SetRest_Success {"reason":"9"}`)},

		{name: "cancelrest from rest", prep: []stReq{rest}, path: on + "/cancelrest", want: "0", then: after(4, setRest7, "AgentState_CancelRest_Success")},
		{name: "cancelrest when idle", path: on + "/cancelrest", want: "100-009", then: after(4)},
		{name: "cancelrest when busy", prep: []stReq{busy}, path: on + "/cancelrest", want: "100-009", then: after(3, notReady201)},

		{name: "work from idle", path: on + "/work", want: "0", then: after(5, "AgentState_SetWork_Success")},
		{name: "work from busy", prep: []stReq{busy}, path: on + "/work", want: "0", then: after(5, notReady201, "AgentState_SetWork_Success")},
		{name: "work when in work", prep: []stReq{work}, path: on + "/work", want: "100-009", then: after(5, "AgentState_SetWork_Success")},
		{name: "work from rest", prep: []stReq{rest}, path: on + "/work", want: "100-009", then: after(8, setRest7)},

		{name: "cancelwork from work", prep: []stReq{work}, path: on + "/cancelwork", want: "0", then: after(4, "AgentState_SetWork_Success", "AgentState_CancelWork_Success")},
		{name: "cancelwork when idle", path: on + "/cancelwork", want: "100-009", then: after(4)},
		{name: "cancelwork when busy", prep: []stReq{busy}, path: on + "/cancelwork", want: "100-009", then: after(3, notReady201)},
	}
	stRun(t, rows)
}

// TestStatePassword covers modifyAccountPwdEx (interfaces.md §25): one row per
// password rule → its 110-xxx code, the wrong old password, and success, after
// which only the new password signs in.
func TestStatePassword(t *testing.T) {
	const path = "/onlineagent/{id}/modifyaccountpwdex"
	body := func(old, next string) string {
		b, _ := json.Marshal(map[string]string{"oldPassword": old, "newPassword": next})
		return string(b)
	}
	change := func(old, next string) stReq { return stReq{http.MethodPost, path, body(old, next)} }
	// signIn checks which of the caller's passwords sign in after the row.
	signIn := func(good string, bad ...string) func(*testing.T, *stEnv, *tResp) {
		return func(t *testing.T, e *stEnv, _ *tResp) {
			mustCode(t, e.ts.do(t, http.MethodDelete, pathLogout(e.id), guidHdr(e.g), ""), "0")
			for _, pw := range bad {
				r := e.ts.do(t, http.MethodPut, pathLogin(e.id), nil, body2(pw))
				mustCode(t, r, "100-004")
			}
			mustCode(t, e.ts.do(t, http.MethodPut, pathLogin(e.id), nil, body2(good)), "0")
		}
	}
	rows := []stRow{
		{name: "ok", path: path, body: body("secret", "Gr8!Pass"), want: "0", body200: stOK, then: signIn("Gr8!Pass", "secret", "other")},
		{name: "ok, file directory", file: true, path: path, body: body("S3cret!pw", "Gr8!Pass"), want: "0", then: signIn("Gr8!Pass", "S3cret!pw")},
		{name: "ok, numbers as JSON numbers", path: path, body: `{"oldPassword":12345678,"newPassword":"Gr8!Pass"}`, want: "0"},
		{name: "7 chars", path: path, body: body("secret", "Gr8!Pas"), want: "110-020"},
		{name: "33 chars", path: path, body: body("secret", "Gr8!Pass"+strings.Repeat("x", 25)), want: "110-020"},
		{name: "empty", path: path, body: body("secret", ""), want: "110-020"},
		{name: "same as old", path: path, body: body("Gr8!Pass", "Gr8!Pass"), want: "110-017"},
		{name: "the name", path: path, body: body("secret", "agent1001"), want: "110-018"},
		{name: "the name reversed", path: path, body: body("secret", "1001tnega"), want: "110-018"},
		{name: "the name, file directory", file: true, path: path, body: body("S3cret!pw", "alexandra"), want: "110-018"},
		{name: "run of three", path: path, body: body("secret", "Abbb!234"), want: "110-019"},
		{name: "3 chars of the work number", path: path, body: body("secret", "Xy!100zz"), want: "110-019"},
		{name: "lower case only", path: path, body: body("secret", "abcdefgh"), want: "110-019"},
		{name: "two classes", path: path, body: body("secret", "abcd5678"), want: "110-019"},
		{name: "one of the last five", path: path, prep: []stReq{change("secret", "Fir5t!pw"), change("Fir5t!pw", "Sec0nd!pw")}, body: body("Sec0nd!pw", "Fir5t!pw"), want: "110-019"},
		{name: "wrong old password, file directory", file: true, path: path, body: body("wrong!pw1", "Gr8!Pass"), want: "110-003", then: signIn("S3cret!pw", "Gr8!Pass")},
		{name: "wrong old password after a change", path: path, prep: []stReq{change("secret", "Fir5t!pw")}, body: body("secret", "Gr8!Pass"), want: "110-003"},
	}
	stRun(t, rows)
}

// body2 is a sign-in body with password pw.
func body2(pw string) string {
	b, _ := json.Marshal(map[string]string{"password": pw, "phonenum": "70001"})
	return string(b)
}

// TestStateDirectoryRetcodes covers the retcodes that depend on the --agents
// file: 600-001 (no skills), 300-002 (no such agent).
func TestStateDirectoryRetcodes(t *testing.T) {
	get := http.MethodGet
	rows := []stRow{
		{name: "agentskills, agent without skills", file: true, method: get, id: "1003", path: "/onlineagent/{id}/agentskills", want: "600-001"},
		{name: "agentskillsbyworkno, agent without skills", file: true, method: get, path: "/onlineagent/{id}/agentskillsbyworkno/1003", want: "600-001"},
		{name: "agentskillsbyworkno, unknown agent", file: true, method: get, path: "/onlineagent/{id}/agentskillsbyworkno/1999", want: "600-001"},
		{name: "agentskillsbyworkno, agent not signed in", file: true, method: get, path: "/onlineagent/{id}/agentskillsbyworkno/1002", want: "0",
			body200: `{"message":"success","retcode":"0","result":[{"id":1,"name":"Sales","mediatype":5}]}`},
		{name: "agentbyworkno, unknown agent", file: true, method: get, path: "/agentgroup/{id}/agentbyworkno/1999", want: "300-002"},
		{name: "agentbyworkno, agent without skills", file: true, method: get, path: "/agentgroup/{id}/agentbyworkno/1003", want: "0"},
		{name: "agentbyworkno, default directory knows everyone", method: get, path: "/agentgroup/{id}/agentbyworkno/1999", want: "0"},
	}
	stRun(t, rows)
}

// TestStateQualityControl covers forceLogOutAgent, forceBusy, forceRest and
// forceIdle (README §7, docs/decisions.md): the retcodes, and on success the
// target's events as its own poll sees them.
func TestStateQualityControl(t *testing.T) {
	const qc = "/qualitycontrol/{id}"
	signIn := []string{"AgentOther_InService", "AgentState_Ready"}
	// target checks the other agent's state and events after the sign-in's.
	target := func(state int, evs ...string) func(*testing.T, *stEnv, *tResp) {
		return func(t *testing.T, e *stEnv, _ *tResp) {
			stMustEvents(t, e.ts, e.other, e.og, append(append([]string{}, signIn...), evs...)...)
			stMustStatus(t, e.ts, e.other, e.og, state)
			// The inspector's own state is untouched.
			stMustStatus(t, e.ts, e.id, e.g, 4)
		}
	}
	busy := post("/onlineagent/{other}/saybusy?reason=201")
	rest := post("/onlineagent/{other}/rest/600/7")
	work := post("/onlineagent/{other}/work")
	const notReady201 = `AgentState_SetNotReady_Success {"reason":"201"}`
	const forcedFirst, forced = "AgentState_Force_SetNotReady", `AgentState_SetNotReady_Success {"reason":"3"}`
	loggedOut := func(t *testing.T, e *stEnv, _ *tResp) {
		// The target's client collects AgentOther_ShutdownService with its old
		// GUID, then is signed out.
		mustEventType(t, e.ts.mustPoll(t, e.other, e.og), e.other, "AgentOther_InService")
		mustEventType(t, e.ts.mustPoll(t, e.other, e.og), e.other, "AgentState_Ready")
		ev := e.ts.mustPoll(t, e.other, e.og)
		mustEventType(t, ev, e.other, "AgentOther_ShutdownService")
		var content map[string]string
		if err := json.Unmarshal(ev["content"], &content); err != nil || len(content) != 1 || content["loginTime"] == "" {
			t.Errorf("AgentOther_ShutdownService content %s, want {\"loginTime\":\"<ms>\"}", ev["content"])
		}
		mustCode(t, e.ts.do(t, http.MethodGet, pathEvent(e.other), guidHdr(e.og), ""), "100-006")
		mustCode(t, e.ts.do(t, http.MethodPost, pathHandShake(e.other), guidHdr(e.og), ""), "100-006")
		stMustStatus(t, e.ts, e.id, e.g, 4)
	}
	rows := []stRow{
		{name: "forcelogout", path: qc + "/forcelogout/{other}", otherIn: true, want: "0", body200: stOK, then: loggedOut},
		{name: "forcelogout, file directory inspector", file: true, path: qc + "/forcelogout/{other}", otherIn: true, want: "0", then: loggedOut},
		{name: "forcebusy from idle", path: qc + "/forcebusy/{other}", otherIn: true, want: "0", body200: stQuietOK, then: target(3, forcedFirst, forced)},
		{name: "forcebusy from work", path: qc + "/forcebusy/{other}", oprep: []stReq{work}, want: "0", then: target(3, "AgentState_SetWork_Success", forcedFirst, forced)},
		{name: "forcebusy from rest", path: qc + "/forcebusy/{other}", oprep: []stReq{rest}, want: "0", then: target(3, `AgentState_SetRest_Success {"reason":"7"}`, forcedFirst, forced)},
		{name: "forcerest from idle", path: qc + "/forcerest/{other}/60/12", otherIn: true, want: "0", body200: stQuietOK, then: target(8, `AgentState_SetRest_Success {"reason":"12"}`)},
		{name: "forcerest from busy", path: qc + "/forcerest/{other}/60/0", oprep: []stReq{busy}, want: "0", then: target(8, notReady201, `AgentState_SetRest_Success {"reason":"0"}`)},
		{name: "forceidle from busy", path: qc + "/forceidle/{other}", oprep: []stReq{busy}, want: "0", body200: stQuietOK, then: target(4, notReady201, "AgentState_Force_Ready", "AgentState_Ready")},
		{name: "forceidle from rest", path: qc + "/forceidle/{other}", oprep: []stReq{rest}, want: "0", then: target(4, `AgentState_SetRest_Success {"reason":"7"}`, "AgentState_Force_Ready", "AgentState_Ready")},
		{name: "forceidle from work", path: qc + "/forceidle/{other}", oprep: []stReq{work}, want: "0", then: target(4, "AgentState_SetWork_Success", "AgentState_Force_Ready", "AgentState_Ready")},

		{name: "forcebusy self", path: qc + "/forcebusy/{id}", want: "000-005"},
		{name: "forcelogout self", path: qc + "/forcelogout/{id}", want: "000-005", then: func(t *testing.T, e *stEnv, _ *tResp) { stMustStatus(t, e.ts, e.id, e.g, 4) }},
		{name: "forcerest self", path: qc + "/forcerest/{id}/60/1", want: "000-005"},
		{name: "forceidle self", path: qc + "/forceidle/{id}", want: "000-005"},

		{name: "forcebusy by non-inspector", file: true, id: "1002", other: "1001", path: qc + "/forcebusy/{other}", otherIn: true, want: "900-002", then: target(4)},
		{name: "forcelogout by non-inspector", file: true, id: "1002", other: "1001", path: qc + "/forcelogout/{other}", otherIn: true, want: "900-002", then: target(4)},
		{name: "forcerest by non-inspector", file: true, id: "1003", other: "1001", path: qc + "/forcerest/{other}/60/1", otherIn: true, want: "900-002", then: target(4)},
		{name: "forceidle by non-inspector", file: true, id: "1002", other: "1001", path: qc + "/forceidle/{other}", oprep: []stReq{post("/onlineagent/{other}/saybusy")}, want: "900-002",
			then: target(3, `AgentState_SetNotReady_Success {"reason":"0"}`)},

		// The built-in directory makes nobody an inspector unless --inspectors names them.
		{name: "forcebusy by non-inspector, built-in directory", id: "1002", other: "1001", path: qc + "/forcebusy/{other}", otherIn: true, want: "900-002", then: target(4)},
		{name: "forcelogout by non-inspector, built-in directory", id: "1002", other: "1001", path: qc + "/forcelogout/{other}", otherIn: true, want: "900-002", then: target(4)},
		{name: "forcerest by non-inspector, built-in directory", id: "1003", other: "1001", path: qc + "/forcerest/{other}/60/1", otherIn: true, want: "900-002", then: target(4)},
		{name: "forceidle by non-inspector, built-in directory", id: "1002", other: "1001", path: qc + "/forceidle/{other}", oprep: []stReq{post("/onlineagent/{other}/saybusy")}, want: "900-002",
			then: target(3, `AgentState_SetNotReady_Success {"reason":"0"}`)},

		{name: "forcebusy target not signed in", path: qc + "/forcebusy/{other}", want: "900-004"},
		{name: "forcelogout target not signed in", path: qc + "/forcelogout/{other}", want: "900-004"},
		{name: "forcerest target not signed in", path: qc + "/forcerest/{other}/60/1", want: "900-004"},
		{name: "forceidle target not signed in", path: qc + "/forceidle/{other}", want: "900-004"},
		{name: "forcebusy target unknown, file directory", file: true, path: qc + "/forcebusy/1999", want: "900-004"},

		{name: "forcebusy of a busy agent", path: qc + "/forcebusy/{other}", oprep: []stReq{busy}, want: "900-005", then: target(3, notReady201)},
		{name: "forcebusy twice", path: qc + "/forcebusy/{other}", otherIn: true, prep: []stReq{post(qc + "/forcebusy/{other}")}, want: "900-005", then: target(3, forcedFirst, forced)},
		{name: "forcerest of a resting agent", path: qc + "/forcerest/{other}/60/1", oprep: []stReq{rest}, want: "900-005", then: target(8, `AgentState_SetRest_Success {"reason":"7"}`)},
		{name: "forceidle of an idle agent", path: qc + "/forceidle/{other}", otherIn: true, want: "900-005", then: target(4)},
	}
	stRun(t, rows)
}

// stDecode decodes r's result into v, failing tb if it does not fit.
func stDecode(tb testing.TB, r *tResp, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.env["result"], v); err != nil {
		tb.Fatalf("result %s: %v", r.env["result"], err)
	}
}

// stSkillKeys fails tb unless every element of a skill array has exactly the
// keys name (string), id and mediatype (numbers) (interfaces.md §18).
func stSkillKeys(tb testing.TB, r *tResp) []map[string]json.RawMessage {
	tb.Helper()
	var list []map[string]json.RawMessage
	stDecode(tb, r, &list)
	for _, sk := range list {
		mustKeys(tb, "skill", sk, "name", "id", "mediatype")
		var name string
		var id, media int
		if json.Unmarshal(sk["name"], &name) != nil || json.Unmarshal(sk["id"], &id) != nil || json.Unmarshal(sk["mediatype"], &media) != nil {
			tb.Fatalf("skill %v: want name string, id and mediatype numbers", sk)
		}
	}
	return list
}

type stSkill struct {
	Name      string `json:"name"`
	ID        int    `json:"id"`
	MediaType int    `json:"mediatype"`
}

// TestStateQuerySkills checks queryAgentSkills and queryAgentSkillsByWorkNo
// (interfaces.md §18–19): an array of {name,id,mediatype}, the configured
// skills of the agent asked about.
func TestStateQuerySkills(t *testing.T) {
	get := func(t *testing.T, e *stEnv, path string) []stSkill {
		t.Helper()
		r := e.ts.do(t, http.MethodGet, e.expand(path), guidHdr(e.g), "")
		mustCode(t, r, "0")
		mustKeys(t, "envelope", r.env, "message", "retcode", "result")
		stSkillKeys(t, r)
		var out []stSkill
		stDecode(t, r, &out)
		return out
	}
	voice, chat := stSkill{"default_voice", 1, 5}, stSkill{"default_chat", 2, 51}
	sales, fchat := stSkill{"Sales", 1, 5}, stSkill{"Chat", 2, 51}

	t.Run("default directory", func(t *testing.T) {
		e := &stEnv{ts: testServer(t, tConfig{}), id: "1001", other: "1002"}
		e.g = e.login(t, e.id)
		for _, path := range []string{"/onlineagent/{id}/agentskills", "/onlineagent/{id}/agentskillsbyworkno/{other}", "/onlineagent/{id}/agentskillsbyworkno/{id}"} {
			if got := get(t, e, path); !reflect.DeepEqual(got, []stSkill{voice, chat}) {
				t.Errorf("%s: %+v", path, got)
			}
		}
	})
	t.Run("file directory", func(t *testing.T) {
		e := &stEnv{ts: testServer(t, tConfig{dir: stFileDir(t)}), file: true, id: "1001", other: "1002"}
		e.g = e.login(t, e.id)
		if got := get(t, e, "/onlineagent/{id}/agentskills"); !reflect.DeepEqual(got, []stSkill{sales, fchat}) {
			t.Errorf("own skills %+v", got)
		}
		if got := get(t, e, "/onlineagent/{id}/agentskillsbyworkno/{other}"); !reflect.DeepEqual(got, []stSkill{sales}) {
			t.Errorf("1002's skills %+v", got)
		}
		// The configured skills, whatever resetSkill signed the agent in to.
		e.run(t, e.g, post("/onlineagent/{id}/resetskill/false?skillid=2"))
		if got := get(t, e, "/onlineagent/{id}/agentskills"); !reflect.DeepEqual(got, []stSkill{sales, fchat}) {
			t.Errorf("own skills after resetskill %+v", got)
		}
	})
}

// stInfoKeys are the fields of an agent object (interfaces.md §21).
var stInfoKeys = []string{"workno", "name", "status", "ctiStatus", "groupid", "groupname", "skilllist", "callids",
	"mediatype", "vdnid", "phonenumber", "currentstatetime", "logindate", "inMultimediaConf", "currentStateReason"}

// stInfo is an agent object as decoded by the tests.
type stInfo struct {
	WorkNo             string    `json:"workno"`
	Name               string    `json:"name"`
	Status             int       `json:"status,string"`
	CTIStatus          int       `json:"ctiStatus,string"`
	GroupID            int       `json:"groupid"`
	GroupName          *string   `json:"groupname"`
	SkillList          []stSkill `json:"skilllist"`
	CallIDs            []string  `json:"callids"`
	MediaType          string    `json:"mediatype"`
	VDNID              int       `json:"vdnid"`
	PhoneNumber        string    `json:"phonenumber"`
	CurrentStateTime   int64     `json:"currentstatetime"`
	LoginDate          int64     `json:"logindate"`
	InMultimediaConf   int       `json:"inMultimediaConf"`
	CurrentStateReason int       `json:"currentStateReason"`
}

// stCheckInfo fails tb unless raw is an agent object with exactly the spec's
// keys, each of its JSON type, and returns it decoded.
func stCheckInfo(tb testing.TB, raw json.RawMessage) stInfo {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("agent object %s: %v", raw, err)
	}
	mustKeys(tb, "agent object", m, stInfoKeys...)
	// status and ctiStatus are numbers in strings, as the vendor's examples
	// show them; groupname is null, as where they show it unused.
	for _, k := range []string{"workno", "name", "mediatype", "phonenumber", "status", "ctiStatus"} {
		if !strings.HasPrefix(string(m[k]), `"`) {
			tb.Errorf("%s = %s, want a string", k, m[k])
		}
	}
	if string(m["groupname"]) != "null" {
		tb.Errorf("groupname = %s, want null", m["groupname"])
	}
	for _, k := range []string{"skilllist", "callids"} {
		if !strings.HasPrefix(string(m[k]), `[`) {
			tb.Errorf("%s = %s, want a list", k, m[k])
		}
	}
	var inf stInfo
	if err := json.Unmarshal(raw, &inf); err != nil {
		tb.Fatalf("agent object %s: %v", raw, err)
	}
	return inf
}

// stLoginTime signs id in with e's directory and returns its GUID and the
// sign-in result's loginTime.
func stLoginTime(tb testing.TB, e *stEnv, id string) (string, int64) {
	tb.Helper()
	pw := "secret"
	if e.file {
		pw = stPasswords[id]
	}
	body, _ := json.Marshal(map[string]string{"password": pw, "phonenum": "7" + id})
	r := e.ts.do(tb, http.MethodPut, pathLogin(id), nil, string(body))
	mustCode(tb, r, "0")
	var res struct {
		LoginTime string `json:"loginTime"`
	}
	stDecode(tb, r, &res)
	ms, err := strconv.ParseInt(res.LoginTime, 10, 64)
	if err != nil {
		tb.Fatalf("loginTime %q", res.LoginTime)
	}
	return strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID="), ms
}

// TestStateAgentByWorkNo checks queryAgentInfoByWorkNo (interfaces.md §21) field
// by field: for a signed-in agent through its states, after resetSkill, and for
// an agent who is not signed in.
func TestStateAgentByWorkNo(t *testing.T) {
	e := &stEnv{ts: testServer(t, tConfig{dir: stFileDir(t)}), file: true, id: "1001", other: "1002"}
	e.g = e.login(t, e.id)
	var login int64
	e.og, login = stLoginTime(t, e, e.other)
	query := func(t *testing.T, who string) stInfo {
		t.Helper()
		r := e.ts.do(t, http.MethodGet, e.expand("/agentgroup/{id}/agentbyworkno/"+who), guidHdr(e.g), "")
		mustCode(t, r, "0")
		mustKeys(t, "envelope", r.env, "message", "retcode", "result")
		return stCheckInfo(t, r.env["result"])
	}
	sales, chat := stSkill{"Sales", 1, 5}, stSkill{"Chat", 2, 51}

	got := query(t, "1002")
	want := stInfo{
		WorkNo: "1002", Name: "Bob", Status: 4, CTIStatus: 1, GroupID: 7, GroupName: nil,
		SkillList: []stSkill{sales}, CallIDs: []string{}, MediaType: "TTF", VDNID: 1,
		PhoneNumber: "71002", LoginDate: login, CurrentStateTime: got.CurrentStateTime,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("signed-in 1002\n got %+v\nwant %+v", got, want)
	}
	if got.CurrentStateTime < 0 || got.CurrentStateTime > 60 {
		t.Errorf("currentstatetime %d s just after sign-in", got.CurrentStateTime)
	}

	for _, step := range []struct {
		req                 stReq
		status, cti, reason int
	}{
		{post("/onlineagent/{other}/saybusy?reason=210"), 3, 7, 210},
		{post("/onlineagent/{other}/rest/600/7"), 8, 8, 7},
		{post("/onlineagent/{other}/cancelrest"), 4, 1, 0},
		{post("/onlineagent/{other}/work"), 5, 6, 0},
	} {
		e.run(t, e.og, step.req)
		got := query(t, "1002")
		if got.Status != step.status || got.CTIStatus != step.cti || got.CurrentStateReason != step.reason {
			t.Errorf("after %s: status %d ctiStatus %d currentStateReason %d, want %d %d %d",
				step.req.path, got.Status, got.CTIStatus, got.CurrentStateReason, step.status, step.cti, step.reason)
		}
	}

	// resetSkill changes skilllist: listed ∩ configured (interfaces.md §17).
	for _, tc := range []struct {
		path string
		want []stSkill
	}{
		{"/resetskill/false?skillid=2", []stSkill{chat}},
		{"/resetskill/false", []stSkill{}},
		{"/resetskill/false?skillid=1;2", []stSkill{sales, chat}},
		{"/resetskill/false?skillid=1;9", []stSkill{sales}},
		{"/resetskill/false?skillid=", []stSkill{}},
		{"/resetskill/false?skillid=2%3B1", []stSkill{sales, chat}},
		{"/resetskill/false?skillid=%202%20;", []stSkill{chat}},
		{"/resetskill/TRUE", []stSkill{sales, chat}},
		{"/resetskill/yes?skillid=2", []stSkill{chat}}, // anything but true is false
		{"/resetskill/true?skillid=2", []stSkill{sales, chat}},
	} {
		e.run(t, e.g, post("/onlineagent/{id}"+tc.path))
		if got := query(t, "1001").SkillList; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("after %s: skilllist %+v, want %+v", tc.path, got, tc.want)
		}
	}

	// An agent who is not signed in: status 2, CTI 0, the directory's phone.
	got = query(t, "1003")
	want = stInfo{
		WorkNo: "1003", Name: "Carol", Status: 2, CTIStatus: 0, GroupID: 8, SkillList: []stSkill{}, CallIDs: []string{},
		MediaType: "FFF", VDNID: 1, PhoneNumber: "70003",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("signed-out 1003\n got %+v\nwant %+v", got, want)
	}
}

// TestStateAgentBySkill checks queryAgentInfoBySkillId (interfaces.md §29): the
// agents signed in to the skill in work-number order, without those with
// settalkright flag=0 or who left the skill by resetSkill, filtered by
// agentLimit and agentStatus only when both are present.
func TestStateAgentBySkill(t *testing.T) {
	e := &stEnv{ts: testServer(t, tConfig{}), id: "1001"}
	g := map[string]string{}
	for _, tc := range []struct {
		id   string
		prep string
	}{
		{"1001", ""},
		{"1002", "/saybusy?reason=220"},
		{"1003", "/work"},
		{"1004", "/rest/600/7"},
		{"1005", "/settalkright?flag=0"},
		{"1006", "/resetskill/false?skillid=2"},
	} {
		g[tc.id] = e.login(t, tc.id)
		if tc.prep != "" {
			e.run(t, g[tc.id], post("/onlineagent/"+tc.id+tc.prep))
		}
	}
	e.g = g["1001"]
	query := func(t *testing.T, skill, body string) []string {
		t.Helper()
		r := e.ts.do(t, http.MethodGet, base+"/agentgroup/1001/agentbyskill/"+skill, guidHdr(e.g), body)
		mustCode(t, r, "0")
		var list []json.RawMessage
		stDecode(t, r, &list)
		out := []string{}
		for _, raw := range list {
			inf := stCheckInfo(t, raw)
			out = append(out, inf.WorkNo+":"+strconv.Itoa(inf.Status))
		}
		return out
	}
	all := []string{"1001:4", "1002:3", "1003:5", "1004:8"}
	for _, tc := range []struct {
		name  string
		skill string
		body  string
		want  []string
	}{
		{"no body", "1", "", all},
		{"empty object", "1", "{}", all},
		{"agentLimit alone", "1", `{"agentLimit":1}`, all},
		{"agentStatus alone", "1", `{"agentStatus":[4]}`, all},
		{"both", "1", `{"agentLimit":2,"agentStatus":[3,4,5]}`, []string{"1001:4", "1002:3"}},
		{"both, status filter", "1", `{"agentLimit":10,"agentStatus":[3,8]}`, []string{"1002:3", "1004:8"}},
		{"both, as strings", "1", `{"agentLimit":"1","agentStatus":["5","8"]}`, []string{"1003:5"}},
		{"both, no match", "1", `{"agentLimit":500,"agentStatus":[7]}`, []string{}},
		{"skill 2 has 1006", "2", "", append(append([]string{}, all...), "1006:4")},
		{"unknown skill", "99", "", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := query(t, tc.skill, tc.body); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("agentbyskill/%s %s: %v, want %v", tc.skill, tc.body, got, tc.want)
			}
		})
	}

	// Talk right back: 1005 is listed again; signing out removes an agent.
	e.run(t, g["1005"], post("/onlineagent/1005/settalkright?flag=1"))
	mustCode(t, e.ts.do(t, http.MethodDelete, pathLogout("1002"), guidHdr(g["1002"]), ""), "0")
	if got, want := query(t, "1", ""), []string{"1001:4", "1003:5", "1004:8", "1005:4"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after settalkright flag=1 and a logout: %v, want %v", got, want)
	}
}

// TestStateAllOnlineAgents checks queryAllOnlineAgents (interfaces.md §30): per
// skill of the caller, the agents signed in to it.
func TestStateAllOnlineAgents(t *testing.T) {
	e := &stEnv{ts: testServer(t, tConfig{dir: stFileDir(t)}), file: true, id: "1001"}
	e.g = e.login(t, "1001")
	e.login(t, "1002")
	e.login(t, "1003")
	r := e.ts.do(t, http.MethodGet, base+"/agentgroup/1001/allonlineagents", guidHdr(e.g), "")
	mustCode(t, r, "0")
	var groups []map[string]json.RawMessage
	stDecode(t, r, &groups)
	type group struct {
		media, skill int
		agents       []string
	}
	var got []group
	for _, gr := range groups {
		mustKeys(t, "skill group", gr, "skillMediaType", "skillId", "agent")
		var gg group
		json.Unmarshal(gr["skillMediaType"], &gg.media)
		json.Unmarshal(gr["skillId"], &gg.skill)
		var list []json.RawMessage
		json.Unmarshal(gr["agent"], &list)
		gg.agents = []string{}
		for _, raw := range list {
			inf := stCheckInfo(t, raw)
			if len(inf.SkillList) != 0 {
				t.Errorf("allonlineagents lists %s's skills %v; the vendor's lists leave them out ([])", inf.WorkNo, inf.SkillList)
			}
			gg.agents = append(gg.agents, inf.WorkNo)
		}
		got = append(got, gg)
	}
	want := []group{{5, 1, []string{"1001", "1002"}}, {51, 2, []string{"1001"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("allonlineagents %+v, want %+v", got, want)
	}
}

// TestStateSessionFlags checks that setAgentAutoAnswer, setAgentAutoEnterIdle
// and setTalkRight change the session (interfaces.md §22–24): "true" in any case
// (the vendor's C# demo sends "True") and flag 1 on, any other short value off.
func TestStateSessionFlags(t *testing.T) {
	ts := testServer(t, tConfig{})
	g := ts.mustLogin(t, "1001")
	for _, tc := range []struct {
		path string
		get  func(answer, idle, talk bool) bool
		want bool
	}{
		{"/autoanswer/true", func(a, _, _ bool) bool { return a }, true},
		{"/autoanswer/xyz", func(a, _, _ bool) bool { return a }, false},
		{"/autoanswer/true", func(a, _, _ bool) bool { return a }, true},
		{"/autoanswer/False", func(a, _, _ bool) bool { return a }, false},
		{"/autoanswer/TRUE", func(a, _, _ bool) bool { return a }, true},
		{"/autoenteridle/true", func(_, i, _ bool) bool { return i }, true},
		{"/autoenteridle/false", func(_, i, _ bool) bool { return i }, false},
		{"/autoenteridle/True", func(_, i, _ bool) bool { return i }, true},
		{"/autoenteridle/False", func(_, i, _ bool) bool { return i }, false},
		{"/settalkright?flag=0", func(_, _, tr bool) bool { return tr }, false},
		{"/settalkright?flag=1", func(_, _, tr bool) bool { return tr }, true},
	} {
		r := ts.do(t, http.MethodPost, base+"/onlineagent/1001"+tc.path, guidHdr(g), "")
		mustBody(t, r, stOK)
		s, ok := ts.sessions.Lookup(context.Background(), 1001)
		if !ok {
			t.Fatal("session gone")
		}
		if got := tc.get(s.AutoAnswer, s.AutoEnterIdle, s.TalkRight); got != tc.want {
			t.Errorf("after %s: flag %v, want %v", tc.path, got, tc.want)
		}
	}
	// None of them queues an event.
	stMustEvents(t, ts, "1001", g, "AgentOther_InService", "AgentState_Ready")
}

// TestStateWholeShift follows one agent through a shift over HTTP and checks the
// exact events its poll receives (events.md §6), numbered 1, 2, 3, … in
// X-CCGW-Seq, and its state after each step.
func TestStateWholeShift(t *testing.T) {
	ts := testServer(t, tConfig{})
	const id = "1001"
	g := ts.mustLogin(t, id)
	var seqs []uint64
	expect := func(t *testing.T, step string, state int, want ...string) {
		t.Helper()
		var got []string
		for {
			ev := ts.mustPoll(t, id, g)
			if ev == nil {
				break
			}
			var typ string
			seq := ts.lastSeq.Load()
			json.Unmarshal(ev["eventType"], &typ)
			mustEventType(t, ev, id, typ)
			if c := string(ev["content"]); c != "null" {
				typ += " " + c
			}
			got = append(got, typ)
			seqs = append(seqs, seq)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: events\n got %q\nwant %q", step, got, want)
		}
		if state != 0 {
			stMustStatus(t, ts, id, g, state)
		}
	}
	do := func(t *testing.T, method, path string) {
		t.Helper()
		mustCode(t, ts.do(t, method, base+"/onlineagent/"+id+path, guidHdr(g), ""), "0")
	}

	expect(t, "sign-in", 4, "AgentOther_InService", "AgentState_Ready")
	do(t, http.MethodPost, "/saybusy?reason=205")
	expect(t, "sayBusy", 3, `AgentState_SetNotReady_Success {"reason":"205"}`)
	do(t, http.MethodPost, "/sayfree")
	expect(t, "sayFree", 4, "AgentState_CancelNotReady_Success", "AgentState_Ready")
	do(t, http.MethodPost, "/rest/300/3")
	expect(t, "rest", 8, `AgentState_SetRest_Success {"reason":"3"}`)
	do(t, http.MethodPost, "/cancelrest")
	expect(t, "cancelRest", 4, "AgentState_CancelRest_Success")
	do(t, http.MethodPost, "/work")
	expect(t, "sayWork", 5, "AgentState_SetWork_Success")
	do(t, http.MethodPost, "/cancelwork")
	expect(t, "cancelWork", 4, "AgentState_CancelWork_Success")
	do(t, http.MethodDelete, "/logout")
	// A voluntary logout sends no AgentOther_ShutdownService (events.md §3.3).
	mustCode(t, ts.do(t, http.MethodGet, pathEvent(id), guidHdr(g), ""), "100-006")

	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("seqs %v, want 1, 2, 3, …", seqs)
		}
	}
}
