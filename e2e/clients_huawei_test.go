package e2e

// Replays of the vendor's own published clients (docs/clients.md #1–#4).

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Event types the replays wait for.
const (
	evSetNotReady    = "AgentState_SetNotReady_Success"
	evCancelNotReady = "AgentState_CancelNotReady_Success"
	evSetRest        = "AgentState_SetRest_Success"
	evCancelRest     = "AgentState_CancelRest_Success"
	evSetWork        = "AgentState_SetWork_Success"
	evCancelWork     = "AgentState_CancelWork_Success"
	evWork           = "AgentState_Work"
)

// csharpEmptyPoll is the one body the C# demo takes for "no event"
// (string.Equals against the whole body).
const csharpEmptyPoll = `{"message":"","retcode":"0"}`

// TestClientQuickAgentCSharp replays the vendor's C# desktop demo (#1,
// Huawei/CloudIPCC_QuickAgentDemo_CSharp) against a static-GUID gateway:
// forcelogin with its Newtonsoft body (nulls included), its lower-case guid
// header, Connection: Close; it keeps the Set-GUID value after the first '='
// only when the sign-in's retcode is "0"; the empty poll must be byte for byte
// {"message":"","retcode":"0"} and an event a single object with an eventType.
// After sign-in it sends autoenteridle/True (a .NET bool formatted), then
// resetskill/true?skillid=&phonelinkage=0, walks busy, rest and work, answers
// and releases a simulated call (the agent must go idle: True means true), and
// signs out with DELETE forcelogout.
func TestClientQuickAgentCSharp(t *testing.T) { onEveryStore(t, testClientQuickAgentCSharp) }

func testClientQuickAgentCSharp(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const id = "1001"
	const base = "/agentgateway/resource" // string.Concat(head, ip, ":", port, "/agentgateway/resource")
	c := &wireClient{tb: t, addr: p.addr, fixed: []hdr{{"Connection", "Close"}}}
	var guid, tmpGUID string
	// send is AgentGatewayHelper.CallService: Content-Type only with a body,
	// guid once known, Set-GUID of any 200 kept in tmpGuid.
	send := func(method, path, body string) javaMap {
		t.Helper()
		var h []hdr
		var b []byte
		switch {
		case body != "":
			h, b = append(h, hdr{"Content-Type", "application/json; charset=UTF-8"}), []byte(body)
		case method == http.MethodPost || method == http.MethodPut:
			b = []byte{} // HttpWebRequest sends Content-Length: 0
		}
		if guid != "" {
			h = append(h, hdr{"guid", guid}) // Add(request, "guid", guid) writes "guid:<value>"
		}
		r := c.do(method, base+path, h, b)
		noSetCookie(t, r)
		if r.status == http.StatusOK {
			tmpGUID = csharpSetGUID(t, r)
		}
		m, _ := envelopeMap(t, r)
		return m
	}
	// poll is AgentGatewayHelper.GetAgentEvents.
	poll := func() (string, bool) {
		t.Helper()
		r := c.do(http.MethodGet, base+"/agentevent/"+id, []hdr{{"Content-Type", "application/json"}, {"guid", guid}}, nil)
		noSetCookie(t, r)
		if r.status != http.StatusOK {
			t.Fatalf("poll: %s", r)
		}
		if string(r.body) == csharpEmptyPoll {
			return "", false
		}
		m := parseJavaMap(t, r.body)
		ev := m.obj(t, "event")
		if m.str(t, "retcode") != "0" || ev == nil {
			t.Fatalf("poll answer %s is neither the exact empty answer nor an event: the demo counts it toward a forced sign-out", r.body)
		}
		return ev.str(t, "eventType"), true
	}

	// SignInParam, serialised by Newtonsoft in declaration order.
	m := send(http.MethodPut, "/onlineagent/"+id+"/forcelogin", `{"password":"p","phonenum":"70001","autoanswer":false,"autoenteridle":false,"releasephone":true,"agenttype":4,"status":4,"ip":null,"entryIp":null,"phonelinkage":false,"checkInMailm":false,"vcPhoneNumber":null}`)
	if code := m.str(t, "retcode"); code != "0" {
		t.Fatalf("forcelogin: retcode %s", code)
	}
	guid = tmpGUID // promoted only on retcode "0"
	if guid == "" {
		t.Fatal("forcelogin answered 0 without Set-GUID: the demo would poll without a guid")
	}
	res := m.obj(t, "result")
	if res == nil || res.str(t, "isForceChange") != "false" || res.str(t, "workno") != id || res.str(t, "loginTime") == "" {
		t.Fatalf("forcelogin result %v: the demo reads workno and loginTime, and isForceChange \"true\" makes it change the password and sign out", res)
	}
	pollEvents(t, poll, evInService, evReady)

	// MainWindow after a successful sign-in: SetDeviceAutoEnterWork(false) sends
	// the negation as a .NET bool, then ResetSkillEx(workNo).
	for _, path := range []string{"/onlineagent/" + id + "/autoenteridle/True", "/onlineagent/" + id + "/resetskill/true?skillid=&phonelinkage=0"} {
		if code := send(http.MethodPost, path, "").str(t, "retcode"); code != "0" {
			t.Fatalf("POST %s: retcode %s", path, code)
		}
	}
	if _, ok := poll(); ok {
		t.Fatal("an event after autoenteridle and resetskill")
	}
	// The C# helper's own AGWErrorCode.OK comparison, per state button.
	steps := []struct {
		path string
		want []string
	}{
		{"/onlineagent/" + id + "/saybusy", []string{evSetNotReady}},
		{"/onlineagent/" + id + "/cancelbusy", []string{evCancelNotReady, evReady}},
		{"/onlineagent/" + id + "/rest/600/1", []string{evSetRest}},
		{"/onlineagent/" + id + "/cancelrest", []string{evCancelRest}},
		{"/onlineagent/" + id + "/work", []string{evSetWork}},
		{"/onlineagent/" + id + "/cancelwork", []string{evCancelWork}},
		{"/onlineagent/" + id + "/sayfree", []string{evReady}},
	}
	for _, s := range steps {
		if code := send(http.MethodPost, s.path, "").str(t, "retcode"); code != "0" {
			t.Fatalf("POST %s: retcode %s", s.path, code)
		}
		pollEvents(t, poll, s.want...)
	}
	st := send(http.MethodGet, "/onlineagent/"+id+"/agentstatus", "")
	if r := st.obj(t, "result"); r == nil || fmt.Sprint(r["agentState"]) != "4" {
		t.Fatalf("agentstatus %v, want agentState 4", st)
	}

	// A call: the demo reads AgentEvent_Ringing's content.caller and called,
	// answers with PUT (no body) and releases with DELETE.
	injectCall(t, p, 1)
	var ringing javaMap
	pollEvents(t, func() (string, bool) {
		r := c.do(http.MethodGet, base+"/agentevent/"+id, []hdr{{"Content-Type", "application/json"}, {"guid", guid}}, nil)
		if string(r.body) == csharpEmptyPoll {
			return "", false
		}
		ev := parseJavaMap(t, r.body).obj(t, "event")
		if ev == nil {
			t.Fatalf("poll answer %s without event", r.body)
		}
		if ev.str(t, "eventType") == "AgentEvent_Ringing" {
			ringing = ev.obj(t, "content")
		}
		return ev.str(t, "eventType"), true
	}, "AgentEvent_Incoming_CallInfo", "AgentState_Busy", "AgentOther_PhoneAlerting", "AgentOther_PhoneOffhook", "AgentEvent_Ringing", "AgentEvent_Customer_Alerting")
	if ringing == nil || ringing.str(t, "caller") != "13800000001" || ringing.str(t, "called") == "" {
		t.Fatalf("AgentEvent_Ringing content %v: the demo reads content.caller and content.called", ringing)
	}
	if code := send(http.MethodPut, "/voicecall/"+id+"/answer", "").str(t, "retcode"); code != "0" {
		t.Fatalf("answer: retcode %s", code)
	}
	pollEvents(t, poll, "AgentEvent_Talking")
	if code := send(http.MethodDelete, "/voicecall/"+id+"/release", "").str(t, "retcode"); code != "0" && code != "200-017" {
		t.Fatalf("release: retcode %s", code)
	}
	// autoenteridle/True: back to idle, not to wrap-up.
	pollEvents(t, poll, "AgentEvent_Call_Release", "AgentEvent_Customer_Release", "AgentOther_PhoneRelease", evReady)

	// Sign-out ("Logout" in the helper) is DELETE forcelogout; the demo then
	// stops polling. Nothing is left queued for it.
	if code := send(http.MethodDelete, "/onlineagent/"+id+"/forcelogout", "").str(t, "retcode"); code != "0" {
		t.Fatalf("forcelogout: retcode %s", code)
	}
	r := c.do(http.MethodGet, base+"/agentevent/"+id, []hdr{{"Content-Type", "application/json"}, {"guid", guid}}, nil)
	if code := parseJavaMap(t, r.body).str(t, "retcode"); code != "100-006" {
		t.Fatalf("poll after forcelogout: %s, want 100-006 (no AgentOther_ShutdownService for an agent's own sign-out)", r.body)
	}
}

// apacheHeaders are what Apache HttpClient 4.5 adds to every request.
var apacheHeaders = []hdr{{"Connection", "Keep-Alive"}, {"User-Agent", "Apache-HttpClient/4.5.4 (Java/1.8.0_181)"}, {"Accept-Encoding", "gzip,deflate"}}

// agentServerDemo is the vendor's Java web demo (#2) talking to the gateway:
// com.huawei.demo.request.Request with its GUID_MAP and GATEWAY_COOKIE_MAP.
type agentServerDemo struct {
	t      *testing.T
	c      *wireClient
	id     string
	guid   string
	cookie *string // nil until a forcelogin answer was read; then "" (no Set-Cookie)
}

const demoPrefix = "/agentgateway/resource/" // ServiceUtil prefix, paths appended without a leading slash

// do is Request.get/post/put/delete: guid and Cookie unless the URL contains
// "forcelogin" (PUT) or "login" (POST), Content-Type always, the GUID and
// cookies of a 200 taken only from such URLs. A non-200 is null to the demo.
func (d *agentServerDemo) do(method, path, body string) javaMap {
	d.t.Helper()
	var h []hdr
	skip := (method == http.MethodPut && strings.Contains(path, "forcelogin")) || (method == http.MethodPost && strings.Contains(path, "login"))
	if !skip && d.guid != "" {
		h = append(h, hdr{"guid", d.guid})
	}
	if !skip && d.cookie != nil {
		h = append(h, hdr{"Cookie", *d.cookie}) // checkHeader("") = ""
	}
	h = append(h, hdr{"Content-Type", "application/json;charset=UTF-8"})
	var b []byte
	if body != "" {
		b = []byte(body)
	} else if method != http.MethodGet {
		b = []byte{} // an entity-enclosing request without entity: Content-Length: 0
	}
	r := d.c.do(method, demoPrefix+path, h, b)
	noSetCookie(d.t, r)
	m, _ := envelopeMap(d.t, r)
	if skip {
		d.guid = javaSetGUID(d.t, r)
		empty := ""
		d.cookie = &empty
	}
	return m
}

// poll is one turn of GetEventThread: it returns the event's type if the
// answer has one for a logged-in work number (a string key of LOGINED_MAP).
func (d *agentServerDemo) poll() (string, bool) {
	d.t.Helper()
	m := d.do(http.MethodGet, "agentevent/"+d.id, "")
	if code := m.str(d.t, "retcode"); code != "0" {
		d.t.Fatalf("poll: retcode %s", code)
	}
	ev := m.obj(d.t, "event")
	if ev == nil {
		return "", false
	}
	if w := ev.str(d.t, "workNo"); w != d.id {
		d.t.Fatalf("event workNo %q, want %q: LOGINED_MAP.containsKey misses it", w, d.id)
	}
	return ev.str(d.t, "eventType"), true
}

// forceLogin is OnlineAgentService.forceLogin (the page's FORCELOGIN): agenttype
// is the servlet parameter, a string; pushURL is added in PUSH mode.
func (d *agentServerDemo) forceLogin(pushURL string) {
	d.t.Helper()
	body := `{"password":"p","phonenum":"70001","autoanswer":true,"autoenteridle":false,"agenttype":"4","status":4,"releasephone":true`
	if pushURL != "" {
		body += `,"pushUrl":"` + pushURL + `"`
	}
	body += "}"
	if code := d.do(http.MethodPut, "onlineagent/"+d.id+"/forcelogin", body).str(d.t, "retcode"); code != "0" {
		d.t.Fatalf("forcelogin: retcode %s", code)
	}
	if d.guid == "" {
		d.t.Fatal("forcelogin answered 0 without a Set-GUID header named exactly so")
	}
}

func (d *agentServerDemo) mustOK(method, path string) {
	d.t.Helper()
	if code := d.do(method, path, "").str(d.t, "retcode"); code != "0" {
		d.t.Fatalf("%s %s: retcode %s", method, path, code)
	}
}

// TestClientAgentServerDemoPoll replays the vendor's Java web demo (#2,
// Huawei/CloudIPCC_AgentServerDemo_Java) in its default PULL mode against a
// static-GUID gateway: FORCELOGIN (no guid sent, Set-GUID matched by exact
// name, agenttype a string), RESETSKILL, the GetEventThread poll (retcode a
// string, event a map whose workNo is a string), BUSY, READY, REST, CANCELREST,
// WORK, OUTWORK. A second demo instance then force-signs the same agent in:
// the first collects AgentOther_ShutdownService, then 100-006 (its cleanup).
// The second signs out with LOGOUT.
func TestClientAgentServerDemoPoll(t *testing.T) { onEveryStore(t, testClientAgentServerDemoPoll) }

func testClientAgentServerDemoPoll(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const id = "1001"
	d := &agentServerDemo{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}, id: id}
	d.forceLogin("")
	d.mustOK(http.MethodPost, "onlineagent/"+id+"/resetskill/true")
	pollEvents(t, d.poll, evInService, evReady)
	if _, ok := d.poll(); ok {
		t.Fatal("an event after resetskill")
	}
	for _, s := range []struct {
		path string
		want []string
	}{
		{"saybusy", []string{evSetNotReady}},
		{"sayfree", []string{evCancelNotReady, evReady}},
		{"rest/60/1", []string{evSetRest}},
		{"cancelrest", []string{evCancelRest}},
		{"work", []string{evSetWork}},
		{"cancelwork", []string{evCancelWork}},
	} {
		d.mustOK(http.MethodPost, "onlineagent/"+id+"/"+s.path)
		pollEvents(t, d.poll, s.want...)
	}

	// The same agent signs in from another demo server.
	d2 := &agentServerDemo{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}, id: id}
	d2.forceLogin("")
	if d2.guid == d.guid {
		t.Fatal("a new sign-in kept the old GUID")
	}
	pollEvents(t, d.poll, evShutdown)
	if code := d.do(http.MethodGet, "agentevent/"+id, "").str(t, "retcode"); code != "100-006" {
		t.Fatalf("replaced session's poll: retcode %s, want 100-006 (AGENTNOTLOG: clearResourse)", code)
	}
	pollEvents(t, d2.poll, evInService, evReady)
	d2.mustOK(http.MethodDelete, "onlineagent/"+id+"/logout")
	if code := d2.do(http.MethodGet, "agentevent/"+id, "").str(t, "retcode"); code != "100-006" {
		t.Fatalf("poll after logout: retcode %s, want 100-006", code)
	}
}

// demoServlet is the demo's AgentEventServlet as a receiver: it sizes its read
// buffer by Content-Length (a chunked push throws), reads retcode and the event
// map, casts event.workNo to String, and answers 200 with no body.
func demoServlet(log *pushLog, id string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		switch {
		case r.URL.Path != "/AgentServerDemo/AgentEventServlet":
			log.reject("push to %s", r.URL.Path)
		case r.ContentLength < 0:
			log.reject("push without Content-Length: new byte[-1] throws, the event is lost")
		case err != nil || len(body) == 0:
			log.reject("empty push (403): %v", err)
		default:
			m, ok := decodeMap(body)
			ev, _ := m["event"].(map[string]any)
			workNo, isStr := ev["workNo"].(string)
			typ, _ := ev["eventType"].(string)
			switch {
			case !ok || m["retcode"] != "0":
				log.reject("push %s: retcode not \"0\", the event is ignored", body)
			case ev == nil:
				log.reject("push %s without event", body)
			case !isStr || workNo != id:
				log.reject("push %s: (String) event.get(\"workNo\") is not %q", body, id)
			default:
				log.accept(typ)
			}
		}
		w.WriteHeader(http.StatusOK) // the servlet's status, also after a caught Throwable
	}
}

// TestClientAgentServerDemoPush replays the Java web demo (#2) in PUSH mode:
// FORCELOGIN with pushUrl, events POSTed one by one to its AgentEventServlet
// (with a Content-Length, retcode "0", a single event with a string workNo),
// and the HeartBeatThread's bodiless PUT .../heartbeat, whose success must
// carry a result object (without one the thread re-sends at once) with
// loginTime. Heartbeats alone keep the session past its timeout. FORCELOGOUT by
// the agent pushes no AgentOther_ShutdownService; the next heartbeat gets
// 100-006.
func TestClientAgentServerDemoPush(t *testing.T) { onEveryStore(t, testClientAgentServerDemoPush) }

func testClientAgentServerDemoPush(t *testing.T, store string) {
	const id = "1001"
	var log pushLog
	recv := serveReceiver(t, demoServlet(&log, id))
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "2s")
	d := &agentServerDemo{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}, id: id}
	d.forceLogin("http://" + recv + "/AgentServerDemo/AgentEventServlet")
	n := log.wait(t, 0, evInService, evReady)
	d.mustOK(http.MethodPost, "onlineagent/"+id+"/resetskill/true")

	heartbeat := func() string {
		t.Helper()
		m := d.do(http.MethodPut, "onlineagent/"+id+"/heartbeat", "")
		code := m.str(t, "retcode")
		if code == "0" {
			if res := m.obj(t, "result"); res == nil || res.str(t, "loginTime") == "" {
				t.Fatalf("heartbeat %v: success without result.loginTime makes HeartBeatThread loop without sleeping", m)
			}
		}
		return code
	}
	// HeartBeatThread beats every 60 s; here every 300 ms for longer than the
	// 2 s timeout, with no other request.
	holdsFor(t, 3*time.Second, 300*time.Millisecond, func() error {
		if code := heartbeat(); code != "0" {
			t.Fatalf("heartbeat: retcode %s", code)
		}
		return nil
	})
	if ls := p.log.find("msg", "signed out", "agent", id); len(ls) > 0 {
		t.Fatalf("heartbeating push agent signed out: %s", ls[0].raw)
	}

	d.mustOK(http.MethodPost, "onlineagent/"+id+"/saybusy")
	n = log.wait(t, n, evSetNotReady)
	d.mustOK(http.MethodPost, "onlineagent/"+id+"/sayfree")
	n = log.wait(t, n, evCancelNotReady, evReady)

	d.mustOK(http.MethodDelete, "onlineagent/"+id+"/forcelogout")
	p.log.waitLine(t, 30*time.Second, "msg", "signed out", "agent", id)
	holdsFor(t, 500*time.Millisecond, 50*time.Millisecond, func() error {
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.events) != n {
			t.Fatalf("pushed %q after the agent's own forcelogout", log.events[n:])
		}
		return nil
	})
	if code := heartbeat(); code != "100-006" {
		t.Fatalf("heartbeat after forcelogout: retcode %s, want 100-006", code)
	}
}

// aPortalWorkNo is the aPortal's work-number pattern (ParamPatternConstant),
// matched whole as javax.validation's @Pattern does.
var aPortalWorkNo = regexp.MustCompile(`^(?:[1-9][\d]{0,3}|[1-5][\d]{4})$`)

// aPortalReceiver is the aPortal's EventReceiver: JAX-RS @Consumes JSON,
// Jackson 1.9 binding into EventParam {message, retcode, event {eventType,
// workNo, content}} (an unknown property is refused with a 200
// {"retcode":"000-002"}), message and retcode at most 10 characters, eventType
// not blank and at most 64, workNo matching aPortalWorkNo; the agent is found
// by the ?token= of its pushUrl. It answers {"retcode":0}, a number.
func aPortalReceiver(log *pushLog, token string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		m, ok := decodeMap(body)
		ev, _ := m["event"].(map[string]any)
		eventType, _ := ev["eventType"].(string)
		workNo, _ := ev["workNo"].(string)
		switch {
		case r.URL.Path != "/aPortal/resource/eventreceiver/event" || r.URL.Query().Get("token") != token:
			log.reject("push to %s: not the pushUrl with its token", r.URL)
		case strings.TrimSpace(ct) != "application/json":
			log.reject("push with Content-Type %q: 415", r.Header.Get("Content-Type"))
		case !ok:
			log.reject("push %q is not JSON", body)
		case unknownKeys(m, "message", "retcode", "event") != "":
			log.reject("push %s: Unrecognized field %s", body, unknownKeys(m, "message", "retcode", "event"))
		case ev != nil && unknownKeys(ev, "eventType", "workNo", "content") != "":
			log.reject("push %s: Unrecognized field %s", body, unknownKeys(ev, "eventType", "workNo", "content"))
		case len(scalarText(m["message"])) > 10 || len(scalarText(m["retcode"])) > 10:
			log.reject("push %s: message or retcode over 10 characters", body)
		case ev == nil || strings.TrimSpace(eventType) == "" || len(eventType) > 64:
			log.reject("push %s: eventType blank or over 64", body)
		case !aPortalWorkNo.MatchString(workNo):
			log.reject("push %s: workNo does not match [1-9][\\d]{0,3}|[1-5][\\d]{4}", body)
		default:
			log.accept(eventType)
		}
		io.WriteString(w, `{"retcode":0}`)
	}
}

// TestClientAPortal replays the vendor's aPortal agent console backend (#3,
// Huawei/CloudIPCC_aPortal_JAVA) against a static-GUID gateway in push mode:
// login with status 5 and pushUrl .../eventreceiver/event?token=<uuid>, the GUID
// taken (exact name) only because the retcode is "0"; the pushes pass its
// receiver's validation and get {"retcode":0}; GET agentgroup/{id}/iscensor/
// (trailing slash) is not served (404, 000-002, which the console maps to
// "not a censor"); resetskill/true, PUT heartbeat, sayfree, saybusy,
// autoanswer/true, and DELETE forcelogout, after which nothing is pushed and
// the heartbeat gets 100-006.
func TestClientAPortal(t *testing.T) { onEveryStore(t, testClientAPortal) }

func testClientAPortal(t *testing.T, store string) {
	const id = "1001"
	const token = "5f0c2b1e-8d3a-4b7e-9c61-2a4f8e0d9b13" // UUID.randomUUID()
	var log pushLog
	recv := serveReceiver(t, aPortalReceiver(&log, token))
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const base = "/agentgateway/resource" // sb.append("/agentgateway/resource"), paths start with "/"
	c := &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}
	var guid string
	// do is AgentRequest: guid and Cookie (formatCookie(null) = "") once the
	// agent is known, Content-Type always; a non-200 becomes retcode 000-002.
	do := func(method, path string) wireResp {
		t.Helper()
		h := []hdr{{"guid", guid}, {"Cookie", ""}, {"Content-Type", "application/json;charset=UTF-8"}}
		var b []byte
		if method != http.MethodGet {
			b = []byte{}
		}
		r := c.do(method, base+path, h, b)
		noSetCookie(t, r)
		return r
	}
	ok := func(method, path string) {
		t.Helper()
		mustCode(t, method+" "+path, do(method, path), "0")
	}

	pushURL := "http://" + recv + "/aPortal/resource/eventreceiver/event?token=" + token
	r := c.do(http.MethodPut, base+"/onlineagent/"+id, []hdr{{"Content-Type", "application/json;charset=UTF-8"}},
		[]byte(`{"password":"p","phonenum":"70001","autoanswer":false,"status":5,"autoenteridle":false,"pushUrl":"`+pushURL+`","checkInWebm":false}`))
	noSetCookie(t, r)
	res := mustCode(t, "login", r, "0").obj(t, "result")
	if guid = javaSetGUID(t, r); guid == "" {
		t.Fatal("login answered 0 without a Set-GUID header named exactly so")
	}
	if res == nil || res["vdnid"] == nil {
		t.Fatalf("login result %v: the console reads String.valueOf(result.vdnid)", res)
	}
	n := log.wait(t, 0, evInService, evReady, evWork)
	mustUnserved(t, "isCensor", do(http.MethodGet, "/agentgroup/"+id+"/iscensor/"))
	ok(http.MethodPost, "/onlineagent/"+id+"/resetskill/true")
	ok(http.MethodPut, "/onlineagent/"+id+"/heartbeat")
	ok(http.MethodPost, "/onlineagent/"+id+"/sayfree")
	n = log.wait(t, n, evCancelWork, evReady)
	ok(http.MethodPost, "/onlineagent/"+id+"/saybusy")
	n = log.wait(t, n, evSetNotReady)
	ok(http.MethodPost, "/onlineagent/"+id+"/autoanswer/true")
	ok(http.MethodPut, "/onlineagent/"+id+"/heartbeat")

	ok(http.MethodDelete, "/onlineagent/"+id+"/forcelogout")
	p.log.waitLine(t, 30*time.Second, "msg", "signed out", "agent", id)
	holdsFor(t, 500*time.Millisecond, 50*time.Millisecond, func() error {
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.events) != n {
			t.Fatalf("pushed %q after the agent's own forcelogout", log.events[n:])
		}
		return nil
	})
	mustCode(t, "heartbeat after forcelogout", do(http.MethodPut, "/onlineagent/"+id+"/heartbeat"), "100-006")
}

// TestClientICPBridge replays the vendor's ICP bridge (#4,
// Huawei/CloudIPCC_ICP_Bridge) against a static-GUID gateway: its monitor
// agent force-signs in with only password and phonenum and no guid, takes the
// GUID (exact name) from the 200. The monitoring calls that come next
// (agentgroup/allagentstatus, qualitycontrol/endmonitor and beginmonitor) are
// not served: 404 with 000-002, on which the real bridge sleeps 60 s and signs
// in again, never polling. The replay polls anyway, as it would after them:
// events, then the empty answer (event null: pause). When the bridge's retry
// signs in again, the old GUID's poll collects AgentOther_ShutdownService, then
// 100-006 (re-login).
func TestClientICPBridge(t *testing.T) { onEveryStore(t, testClientICPBridge) }

func testClientICPBridge(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const m = "117" // MONITOR_WORKNO in the shipped basic.properties
	c := &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}
	var guid string
	do := func(method, path string) wireResp {
		t.Helper()
		var b []byte
		if method != http.MethodGet {
			b = []byte{}
		}
		r := c.do(method, demoPrefix+path, []hdr{{"guid", guid}, {"Cookie", ""}, {"Content-Type", "application/json;charset=UTF-8"}}, b)
		noSetCookie(t, r)
		return r
	}
	login := func() {
		t.Helper()
		r := c.do(http.MethodPut, demoPrefix+"onlineagent/"+m+"/forcelogin", []hdr{{"Content-Type", "application/json;charset=UTF-8"}},
			[]byte(`{"password":"p","phonenum":"12345678"}`))
		noSetCookie(t, r)
		mustCode(t, "forcelogin", r, "0")
		if guid = javaSetGUID(t, r); guid == "" {
			t.Fatal("forcelogin answered 0 without a Set-GUID header named exactly so")
		}
	}
	poll := func() (string, bool) {
		t.Helper()
		em := mustCode(t, "poll", do(http.MethodGet, "agentevent/"+m), "0")
		if ev := em.obj(t, "event"); ev != nil {
			return ev.str(t, "eventType"), true
		}
		return "", false
	}

	login()
	mustUnserved(t, "allagentstatus", do(http.MethodGet, "agentgroup/"+m+"/allagentstatus"))
	mustUnserved(t, "endmonitor", do(http.MethodPost, "qualitycontrol/"+m+"/endmonitor?agents=1001;1002"))
	mustUnserved(t, "beginmonitor", do(http.MethodPost, "qualitycontrol/"+m+"/beginmonitor?agents=1001;1002"))
	pollEvents(t, poll, evInService, evReady)
	if _, ok := poll(); ok {
		t.Fatal("an event after InService and Ready")
	}

	old := guid
	login()
	if guid == old {
		t.Fatal("a new sign-in kept the old GUID")
	}
	newGUID := guid
	guid = old
	pollEvents(t, poll, evShutdown)
	mustCode(t, "poll with the replaced GUID", do(http.MethodGet, "agentevent/"+m), "100-006")
	guid = newGUID
	pollEvents(t, poll, evInService, evReady)
}
