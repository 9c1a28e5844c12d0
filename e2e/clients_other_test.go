package e2e

// Replays of third-party clients (docs/clients.md #5–#8, #11, #12).

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// jsPage is one browser page running the gateway's generated JavaScript SDK
// (RESTEasy jsapi, #5) under the agent bar that calls it (#6): cookiestring is
// the SDK's global GUID.
type jsPage struct {
	t            *testing.T
	c            *wireClient
	cookiestring string
}

// jsAPIURL is the path of REST.apiURL, which ends in '/'; every generated
// method then appends '/onlineagent/…', so the SDK requests
// /agentgateway/resource//onlineagent/{id}.
const jsAPIURL = "/agentgateway/resource/"

// xhr is REST.Request.execute and REST._complete: Guid when cookiestring is
// set, Accept: application/json, Content-Type only with an entity; on a 2xx
// the body is JSON.parse-d only if Content-Type contains application/json,
// and a Set-GUID replaces cookiestring with its split("=")[1]. The entity is
// nil for a non-2xx (the callback gets undefined).
func (pg *jsPage) xhr(method, uri, entity string) javaMap {
	pg.t.Helper()
	var h []hdr
	if pg.cookiestring != "" {
		h = append(h, hdr{"Guid", pg.cookiestring})
	}
	h = append(h, hdr{"Accept", "application/json"})
	var b []byte
	switch {
	case entity != "":
		h, b = append(h, hdr{"Content-Type", "application/json"}), []byte(entity)
	case method == http.MethodPost || method == http.MethodPut:
		b = []byte{} // send(undefined): the browser sends Content-Length: 0
	}
	r := pg.c.do(method, jsAPIURL+uri, h, b)
	if r.status < 200 || r.status > 299 {
		return nil
	}
	if ct := r.fold("Content-Type"); len(ct) != 1 || !strings.Contains(ct[0], "application/json") {
		pg.t.Fatalf("%s %s: Content-Type %q: the SDK hands the agent bar a string, whose retcode is undefined", method, uri, ct)
	}
	if g, ok := jsSetGUID(pg.t, r); ok {
		pg.cookiestring = g
	}
	m := parseJavaMap(pg.t, r.body)
	m.str(pg.t, "retcode") // the agent bar switches on retcode as a string
	return m
}

// poll is one getAgentEvent2 turn of the agent bar: retcode "0" with no event
// means retry in 500 ms; an event is handled as one object.
func (pg *jsPage) poll(id string) (string, bool) {
	pg.t.Helper()
	m := pg.xhr(http.MethodGet, "/agentevent/"+id, "")
	if m == nil || m.str(pg.t, "retcode") != "0" {
		pg.t.Fatalf("poll: %v", m)
	}
	if ev := m.obj(pg.t, "event"); ev != nil {
		return ev.str(pg.t, "eventType"), true
	}
	return "", false
}

func (pg *jsPage) mustCode(method, uri, entity, want string) javaMap {
	pg.t.Helper()
	m := pg.xhr(method, uri, entity)
	if m == nil || m.str(pg.t, "retcode") != want {
		pg.t.Fatalf("%s %s: %v, want retcode %s", method, uri, m, want)
	}
	return m
}

// TestClientJSSDK replays the generated JavaScript SDK (#5) as the CRM agent
// bar (#6) drives it, against a dynamic-GUID gateway that rotates the GUID
// every 500 ms and honours a superseded one for 1 s: REST.apiURL ends in '/',
// so every path has '//'; the login body has status and releasephone as
// strings (<select> values) and agenttype a number; resetSkill with autoflag
// true and no query; the poll loop; sayBusy and sayFree. The SDK follows
// Set-GUID on every 2xx, so polls keep working across rotations while the first
// GUID stops working. A second page's login gets 100-002 and force-logs in; the
// first page's poll collects AgentOther_ShutdownService and then 100-006. The
// SDK script itself (/agentgateway/resource-js) is not served by ccgw.
func TestClientJSSDK(t *testing.T) { onEveryStore(t, testClientJSSDK) }

func testClientJSSDK(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "dynamic", "--guid-interval", "500ms", "--guid-timeout", "1s", "--heartbeat-timeout", "1m")
	const id = "1001"
	browser := []hdr{{"Connection", "keep-alive"}, {"User-Agent", "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko"}, {"Accept-Language", "zh-CN"}}
	a := &jsPage{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: browser}}
	const login = `{"password":"p","phonenum":"70001","status":"4","releasephone":"false","agenttype":4}`

	mustUnserved(t, "the SDK script", a.c.do(http.MethodGet, "/agentgateway/resource-js", nil, nil))
	res := a.mustCode(http.MethodPut, "/onlineagent/"+id, login, "0").obj(t, "result")
	if res == nil || res["vdnid"] == nil {
		t.Fatalf("login result %v: the agent bar reads resLogin.result.vdnid", res)
	}
	first := a.cookiestring
	if first == "" {
		t.Fatal("login without Set-GUID")
	}
	a.mustCode(http.MethodPost, "/onlineagent/"+id+"/resetskill/true", "", "0")
	pollEvents(t, func() (string, bool) { return a.poll(id) }, evInService, evReady)

	// Poll on; each answer may carry a new GUID.
	seen := map[string]bool{first: true}
	wait.For(t, 30*time.Second, 0, func() error {
		if typ, ok := a.poll(id); ok {
			t.Fatalf("unexpected event %s", typ)
		}
		seen[a.cookiestring] = true
		if len(seen) < 3 {
			return fmt.Errorf("%d GUIDs seen, want the login's and two rotations", len(seen))
		}
		return nil
	})
	stale := &jsPage{t: t, c: a.c, cookiestring: first}
	if m := stale.xhr(http.MethodGet, "/agentevent/"+id, ""); m == nil || m.str(t, "retcode") != "000-003" {
		t.Fatalf("poll with the login's GUID after two rotations: %v, want 000-003 (the SDK never sends it)", m)
	}
	a.mustCode(http.MethodPost, "/onlineagent/"+id+"/saybusy", "", "0")
	pollEvents(t, func() (string, bool) { return a.poll(id) }, evSetNotReady)
	a.mustCode(http.MethodPost, "/onlineagent/"+id+"/sayfree", "", "0")
	pollEvents(t, func() (string, bool) { return a.poll(id) }, evCancelNotReady, evReady)

	// Another browser: "100-002" → confirm → OnlineAgent.forceLogin, same body.
	b := &jsPage{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: browser}}
	b.mustCode(http.MethodPut, "/onlineagent/"+id, login, "100-002")
	b.mustCode(http.MethodPut, "/onlineagent/"+id+"/forcelogin", login, "0")
	if b.cookiestring == "" || b.cookiestring == a.cookiestring {
		t.Fatalf("forcelogin GUID %q", b.cookiestring)
	}
	pollEvents(t, func() (string, bool) { return a.poll(id) }, evShutdown)
	a.mustCode(http.MethodGet, "/agentevent/"+id, "", "100-006") // the bar stops polling
	pollEvents(t, func() (string, bool) { return b.poll(id) }, evInService, evReady)
	b.mustCode(http.MethodDelete, "/onlineagent/"+id+"/logout", "", "0")
	b.mustCode(http.MethodGet, "/agentevent/"+id, "", "100-006")
}

// zackeus is com.Zackeus.CTI's AgentClientUtil (#7): guid once known, an
// entity as application/json with Content-Encoding UTF-8 (StringEntity), and
// the GUID of every PUT's 200 (exact name; the loop breaks at Set-GUID).
type zackeus struct {
	t    *testing.T
	c    *wireClient
	guid string
}

func (z *zackeus) do(method, path, body string) javaMap {
	z.t.Helper()
	var h []hdr
	if z.guid != "" {
		h = append(h, hdr{"guid", z.guid})
	}
	var b []byte
	switch {
	case body != "":
		h, b = append(h, hdr{"Content-Type", "application/json"}, hdr{"Content-Encoding", "UTF-8"}), []byte(body)
	case method != http.MethodGet:
		b = []byte{}
	}
	r := z.c.do(method, "/agentgateway/resource/"+path, h, b)
	noSetCookie(z.t, r)
	m, _ := envelopeMap(z.t, r) // assertAgent: HTTP 200, then fastjson
	if method == http.MethodPut {
		if g := javaSetGUID(z.t, r); g != "" {
			z.guid = g
		}
	}
	return m
}

func (z *zackeus) ok(method, path string) javaMap {
	z.t.Helper()
	m := z.do(method, path, "")
	if code := m.str(z.t, "retcode"); code != "0" {
		z.t.Fatalf("%s %s: retcode %s", method, path, code)
	}
	return m
}

// event is AgentService.event: retcode "0" or an exception; the event object.
func (z *zackeus) event(id string) (string, bool) {
	z.t.Helper()
	m := z.ok(http.MethodGet, "agentevent/"+id)
	if ev := m.obj(z.t, "event"); ev != nil {
		return ev.str(z.t, "eventType"), true
	}
	return "", false
}

// state is getAgentState: result.agentState.
func (z *zackeus) state(id string) string {
	z.t.Helper()
	return fmt.Sprint(z.ok(http.MethodGet, "onlineagent/"+id+"/agentstatus").obj(z.t, "result")["agentState"])
}

// TestClientZackeusCTI replays com.Zackeus.CTI (#7) against a static-GUID
// gateway: login with its LoginParam (json-lib, properties in name order);
// "0" → resetskill/true?phonelinkage=1; the event loop; busy(), work() and
// ready(), which ask agentstatus first and leave the work state with
// cancelwork; a second login gets 100-002, so forcelogin (its new GUID is
// taken from the PUT's 200) and resetskill again; logout, then 100-006.
//
// Its LoginParam never sets the password, so it signs in with "password":"",
// as against a deployment whose agents have none (the built-in directory).
func TestClientZackeusCTI(t *testing.T) { onEveryStore(t, testClientZackeusCTI) }

func testClientZackeusCTI(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const id = "1001"
	z := &zackeus{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}}
	const loginFmt = `{"autoanswer":true,"autoenteridle":true,"ip":"127.0.0.1","password":"%s","phonenum":"70001","releasephone":true,"status":4}`
	login := fmt.Sprintf(loginFmt, "")
	if code := z.do(http.MethodPut, "onlineagent/"+id, login).str(t, "retcode"); code != "0" || z.guid == "" {
		t.Fatalf("login: retcode %s, GUID %q", code, z.guid)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/resetskill/true?phonelinkage=1")
	events := func() (string, bool) { return z.event(id) }
	pollEvents(t, events, evInService, evReady)

	// busy(): not in work, so saybusy.
	if st := z.state(id); st != "4" {
		t.Fatalf("agentState %s, want 4", st)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/saybusy")
	pollEvents(t, events, evSetNotReady)
	z.ok(http.MethodPost, "onlineagent/"+id+"/work")
	pollEvents(t, events, evSetWork)
	// ready(): in work (5), so outwork and ready() again.
	if st := z.state(id); st != "5" {
		t.Fatalf("agentState %s, want 5 (AGENT_STATE_WORK)", st)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/cancelwork")
	pollEvents(t, events, evCancelWork)
	if st := z.state(id); st != "4" {
		t.Fatalf("agentState %s, want 4", st)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/sayfree")
	pollEvents(t, events, evReady)

	// The user logs in again: 100-002, so forceLogin and resetskill.
	old := z.guid
	if code := z.do(http.MethodPut, "onlineagent/"+id, login).str(t, "retcode"); code != "100-002" {
		t.Fatalf("second login: retcode %s, want 100-002", code)
	}
	if code := z.do(http.MethodPut, "onlineagent/"+id+"/forcelogin", login).str(t, "retcode"); code != "0" || z.guid == old {
		t.Fatalf("forcelogin: retcode %s, GUID %q (was %q)", code, z.guid, old)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/resetskill/true?phonelinkage=1")
	pollEvents(t, events, evInService, evReady)
	z.ok(http.MethodDelete, "onlineagent/"+id+"/logout")
	if code := z.do(http.MethodGet, "agentevent/"+id, "").str(t, "retcode"); code != "100-006" {
		t.Fatalf("event after logout: retcode %s, want 100-006 (kick out)", code)
	}
	for _, path := range []string{"voicecall/" + id + "/phonepickup", "voicecall/" + id + "/phonehangup", "recordplay/" + id + "/play"} {
		mustUnserved(t, path, z.c.do(http.MethodPut, "/agentgateway/resource/"+path, nil, []byte{}))
	}
}

// zzAgent is com.zz.CTI's Request (#8): guid once known, Content-Type
// application/json;charset=UTF-8 on every request, the GUID of every PUT's 200
// (exact name); a non-200 or an exception is a null map.
type zzAgent struct {
	t    *testing.T
	c    *wireClient
	id   string
	guid string
}

func (z *zzAgent) do(method, path, body string) javaMap {
	z.t.Helper()
	var h []hdr
	if z.guid != "" {
		h = append(h, hdr{"guid", z.guid})
	}
	h = append(h, hdr{"Content-Type", "application/json;charset=UTF-8"})
	var b []byte
	switch {
	case body != "":
		b = []byte(body)
	case method != http.MethodGet:
		b = []byte{}
	}
	r := z.c.do(method, "/agentgateway/resource/"+path, h, b) // CTIAPI.prefix + "onlineagent/" + workNo
	noSetCookie(z.t, r)
	m, _ := envelopeMap(z.t, r)
	if method == http.MethodPut {
		if g := javaSetGUID(z.t, r); g != "" {
			z.guid = g
		}
	}
	return m
}

func (z *zzAgent) ok(method, path string) {
	z.t.Helper()
	if code := z.do(method, path, "").str(z.t, "retcode"); code != "0" {
		z.t.Fatalf("%s %s: retcode %s", method, path, code)
	}
}

// poll is GetAgentEventThread: (String) map.get("retcode"), then an event
// whose workNo is a key of loginedMap (a String).
func (z *zzAgent) poll() (string, bool) {
	z.t.Helper()
	m := z.do(http.MethodGet, "agentevent/"+z.id, "")
	if code := m.str(z.t, "retcode"); code != "0" {
		z.t.Fatalf("poll: retcode %s", code)
	}
	ev := m.obj(z.t, "event")
	if ev == nil {
		return "", false
	}
	if w := ev.str(z.t, "workNo"); w != z.id {
		z.t.Fatalf("event workNo %q, want %q", w, z.id)
	}
	return ev.str(z.t, "eventType"), true
}

// TestClientZZCTI replays com.zz.CTI (#8, the predecessor of #7) against a
// static-GUID gateway: login (Jackson HashMap), resetskill/true?phonelinkage=1,
// the poll thread, sayfree, saybusy, work, cancelwork; forceLogin first drops
// its own GUID (clearResourse) and so sends none; logout, then 100-006.
//
// Like #7 it signs in with "password":"" ("默认为空", empty by default).
func TestClientZZCTI(t *testing.T) { onEveryStore(t, testClientZZCTI) }

func testClientZZCTI(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "1m")
	const id = "1001"
	z := &zzAgent{t: t, c: &wireClient{tb: t, addr: p.addr, fixed: apacheHeaders}, id: id}
	const loginFmt = `{"password":"%s","phonenum":"70001","autoanswer":false,"autoenteridle":true,"status":4,"releasephone":true,"ip":"127.0.0.1"}`
	if code := z.do(http.MethodPut, "onlineagent/"+id, fmt.Sprintf(loginFmt, "")).str(t, "retcode"); code != "0" || z.guid == "" {
		t.Fatalf("login: retcode %s, GUID %q", code, z.guid)
	}
	z.ok(http.MethodPost, "onlineagent/"+id+"/resetskill/true?phonelinkage=1")
	pollEvents(t, z.poll, evInService, evReady)
	for _, s := range []struct {
		path string
		want []string
	}{
		{"sayfree", []string{evReady}},
		{"saybusy", []string{evSetNotReady}},
		{"work", []string{evSetWork}},
		{"cancelwork", []string{evCancelWork}},
	} {
		z.ok(http.MethodPost, "onlineagent/"+id+"/"+s.path)
		pollEvents(t, z.poll, s.want...)
	}
	old := z.guid
	z.guid = "" // forceLogin: clearResourse(workNo) first
	if code := z.do(http.MethodPut, "onlineagent/"+id+"/forcelogin", fmt.Sprintf(loginFmt, "p")).str(t, "retcode"); code != "0" || z.guid == "" || z.guid == old {
		t.Fatalf("forcelogin: retcode %s, GUID %q (was %q)", code, z.guid, old)
	}
	pollEvents(t, z.poll, evInService, evReady)
	z.ok(http.MethodDelete, "onlineagent/"+id+"/logout")
	if code := z.do(http.MethodGet, "agentevent/"+id, "").str(t, "retcode"); code != "100-006" {
		t.Fatalf("poll after logout: retcode %s, want 100-006 (clearResourse)", code)
	}
	for _, u := range []struct{ method, path string }{
		{http.MethodPost, "onlineagent/" + id + "/notifybulletin"},
		{http.MethodGet, "agentgroup/" + id + "/allagentstatus"},
		{http.MethodPost, "agentgroup/" + id + "/agentinfonoskills"},
		{http.MethodGet, "calldata/" + id + "/allcallid"},
		{http.MethodDelete, "voicecall/" + id + "/releasephone"},
	} {
		mustUnserved(t, u.path, z.c.do(u.method, "/agentgateway/resource/"+u.path, nil, nil))
	}
}
