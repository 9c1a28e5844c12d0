package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

// signIns are the three sign-in interfaces and the mediatype each reports.
var signIns = []struct {
	name  string
	path  func(string) string
	media string
}{
	{"login", pathLogin, "TTF"},
	{"forceLogin", pathForceLogin, "TTF"},
	{"loginEx", pathLoginEx, "TFF"},
}

// TestSignInSuccess checks the success response of login, forceLogin and loginEx
// field by field against interfaces.md §1: the envelope, every result field and
// its JSON type, and the Set-GUID and Guid headers with a GUID of the vendor's shape.
func TestSignInSuccess(t *testing.T) {
	ts := testServer(t, tConfig{})
	for i, si := range signIns {
		t.Run(si.name, func(t *testing.T) {
			id := strconv.Itoa(1001 + i)
			before := time.Now().UnixMilli()
			r := ts.do(t, http.MethodPut, si.path(id), nil, loginBody)
			after := time.Now().UnixMilli()
			mustCode(t, r, "0")
			mustKeys(t, "envelope", r.env, "message", "retcode", "result")
			if string(r.env["message"]) != `""` {
				t.Errorf("message %s, want \"\"", r.env["message"])
			}
			res := r.object(t, "result")
			mustKeys(t, "result", res, "vdnid", "workno", "mediatype", "loginTime", "isForceChange", "serverName", "timeRemaining")
			for k, want := range map[string]string{
				"vdnid":         `1`,
				"workno":        strconv.Quote(id),
				"mediatype":     strconv.Quote(si.media),
				"isForceChange": `"false"`,
				"serverName":    `"AgentGateway"`,
			} {
				if got := string(res[k]); got != want {
					t.Errorf("result.%s = %s, want %s", k, got, want)
				}
			}
			var remaining string
			if err := json.Unmarshal(res["timeRemaining"], &remaining); err != nil {
				t.Errorf("result.timeRemaining %s is not a string", res["timeRemaining"])
			}
			var lt string
			if err := json.Unmarshal(res["loginTime"], &lt); err != nil {
				t.Fatalf("result.loginTime %s is not a string", res["loginTime"])
			}
			ms, err := strconv.ParseInt(lt, 10, 64)
			if err != nil || ms < before || ms > after {
				t.Errorf("result.loginTime %q, want ms epoch in [%d, %d]", lt, before, after)
			}

			sg := r.header.Values("Set-GUID")
			if len(sg) != 1 || !strings.HasPrefix(sg[0], "JSESSIONID=") {
				t.Fatalf("Set-GUID %q, want one JSESSIONID=<guid>", sg)
			}
			g := strings.TrimPrefix(sg[0], "JSESSIONID=")
			if !guidRE.MatchString(g) {
				t.Errorf("GUID %q, want 8-4-4-4-12 hex + .AgentGateway0", g)
			}
			if got := r.header.Values("Guid"); len(got) != 1 || got[0] != g {
				t.Errorf("Guid header %q, want [%q]", got, g)
			}
			// The GUID works.
			mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "0")
		})
	}
}

// TestSetGUIDSpelling checks that the sign-in response header key is spelled
// "Set-GUID" as the spec writes it, both in the handler's header map and on the
// wire, not Go's canonical "Set-Guid".
func TestSetGUIDSpelling(t *testing.T) {
	ts := testServer(t, tConfig{})

	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPut, pathLogin("1001"), strings.NewReader(loginBody))
	ts.handler.ServeHTTP(rec, req)
	mustValidResponse(t, "recorder login", rec.Code, rec.Header(), rec.Body.Bytes())
	sg, ok := rec.Header()["Set-GUID"]
	if !ok || len(sg) != 1 || !strings.HasPrefix(sg[0], "JSESSIONID=") {
		t.Fatalf("header map %v: want key Set-GUID with one JSESSIONID=<guid>", rec.Header())
	}
	if _, bad := rec.Header()["Set-Guid"]; bad {
		t.Errorf("header map also has Set-Guid: %v", rec.Header())
	}
	g := strings.TrimPrefix(sg[0], "JSESSIONID=")
	if got := rec.Header()["Guid"]; len(got) != 1 || got[0] != g {
		t.Errorf("Guid %q, want [%q]", got, g)
	}

	// On the wire.
	conn, err := net.Dial("tcp", ts.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "PUT "+pathLogin("1002")+" HTTP/1.1\r\nHost: ccgw\r\n"+
		"Content-Type: application/json; charset=UTF-8\r\nConnection: close\r\n"+
		"Content-Length: "+strconv.Itoa(len(loginBody))+"\r\n\r\n"+loginBody)
	head := readHead(t, conn)
	if !strings.Contains(head, "\r\nSet-GUID: JSESSIONID=") {
		t.Errorf("wire header has no \"Set-GUID: JSESSIONID=\":\n%s", head)
	}
	if !strings.Contains(head, "\r\nGuid: ") {
		t.Errorf("wire header has no \"Guid: \":\n%s", head)
	}
}

// readHead returns the response head read from conn, up to the blank line.
func readHead(tb testing.TB, conn net.Conn) string {
	tb.Helper()
	br := bufio.NewReader(conn)
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			tb.Fatalf("reading response head: %v (so far %q)", err, b.String())
		}
		if line == "\r\n" {
			return "\r\n" + b.String()
		}
	}
}

// TestSignInLooseTypes checks that sign-in accepts numbers and booleans sent as
// JSON strings and phone numbers sent as JSON numbers (sources.md OPEN 16), and
// that the values take effect.
func TestSignInLooseTypes(t *testing.T) {
	ts := testServer(t, tConfig{})
	for i, tc := range []struct {
		name      string
		path      func(string) string
		body      string
		wantState int    // agentState after sign-in
		wantMedia string // result.mediatype
	}{
		{"status string busy", pathLogin, `{"password":"x","phonenum":"70001","status":"3"}`, 3, "TTF"},
		{"status string idle", pathLogin, `{"password":"x","phonenum":"70001","status":"4"}`, 4, "TTF"},
		{"status string work", pathLogin, `{"password":"x","phonenum":"70001","status":"5"}`, 5, "TTF"},
		{"status number", pathLogin, `{"password":"x","phonenum":"70001","status":3}`, 3, "TTF"},
		{"autoanswer string", pathLogin, `{"password":"x","phonenum":"70001","autoanswer":"false"}`, 4, "TTF"},
		{"booleans as strings", pathLogin, `{"password":"x","phonenum":"70001","autoenteridle":"TRUE","releasephone":"false","phonelinkage":"0","listenStatus":"1","checkInMailm":"false"}`, 4, "TTF"},
		{"phonenum number", pathLogin, `{"password":"x","phonenum":70001}`, 4, "TTF"},
		{"password number", pathLogin, `{"password":12345,"phonenum":"70001"}`, 4, "TTF"},
		{"agenttype string", pathLogin, `{"password":"x","phonenum":"70001","agenttype":"11"}`, 4, "TTF"},
		{"agenttype 4", pathLogin, `{"password":"x","phonenum":"70001","agenttype":4}`, 4, "TTF"},
		{"checkInWebm false", pathLogin, `{"password":"x","phonenum":"70001","checkInWebm":"false"}`, 4, "TFF"},
		{"nulls are absent", pathLogin, `{"password":"x","phonenum":"70001","status":null,"ip":null,"autoanswer":null}`, 4, "TTF"},
		{"unknown fields ignored", pathLogin, `{"password":"x","phonenum":"70001","extra":{"a":[1,2]}}`, 4, "TTF"},
		{"ip and entryIp", pathLogin, `{"password":"x","phonenum":"70001","ip":"10.1.2.3","entryIp":"192.168.0.1"}`, 4, "TTF"},
		{"32-char password", pathLogin, `{"password":"` + strings.Repeat("p", 32) + `","phonenum":"70001"}`, 4, "TTF"},
		{"32 multi-byte chars", pathLogin, `{"password":"` + strings.Repeat("é", 32) + `","phonenum":"70001"}`, 4, "TTF"},
		{"24-digit phone", pathLogin, `{"password":"x","phonenum":"` + strings.Repeat("9", 24) + `"}`, 4, "TTF"},
		{"phone with + * #", pathLogin, `{"password":"x","phonenum":"+8613*0#"}`, 4, "TTF"},
		{"50-char token alone", pathLogin, `{"password":"x","phonenum":"70001","serviceToken":"` + strings.Repeat("t", 50) + `"}`, 4, "TTF"},
		{"callBackUri alone", pathLogin, `{"password":"x","phonenum":"70001","callBackUri":"https://crm.example/cb"}`, 4, "TTF"},
		{"loginEx empty password", pathLoginEx, `{"password":"","phonenum":"70001"}`, 4, "TFF"},
		{"loginEx no phone", pathLoginEx, `{"password":"x"}`, 4, "TFF"},
		{"loginEx empty object", pathLoginEx, `{}`, 4, "TFF"},
		{"loginEx status string", pathLoginEx, `{"status":"3"}`, 3, "TFF"},
		{"forceLogin status string", pathForceLogin, `{"password":"x","phonenum":"70001","status":"5"}`, 5, "TTF"},
		{"surrounding whitespace", pathLogin, " \n\t" + loginBody + "\n ", 4, "TTF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := strconv.Itoa(3000 + i)
			r := ts.do(t, http.MethodPut, tc.path(id), nil, tc.body)
			mustCode(t, r, "0")
			if got := string(r.object(t, "result")["mediatype"]); got != strconv.Quote(tc.wantMedia) {
				t.Errorf("mediatype %s, want %q", got, tc.wantMedia)
			}
			g := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
			st := ts.do(t, http.MethodGet, pathStatus(id), guidHdr(g), "")
			mustCode(t, st, "0")
			if got, want := string(st.object(t, "result")["agentState"]), strconv.Itoa(tc.wantState); got != want {
				t.Errorf("agentState %s, want %s", got, want)
			}
			// Polling mode unless both callBackUri and serviceToken were given.
			mustEventType(t, ts.mustPoll(t, id, g), id, "AgentOther_InService")
		})
	}
}

// TestSignInAnyContentType checks that sign-in does not depend on the request's
// Content-Type spelling (README §2: accept missing and other spellings).
func TestSignInAnyContentType(t *testing.T) {
	ts := testServer(t, tConfig{})
	for i, ct := range []string{"application/json; charset=UTF-8", "application/json", "application/json;charset=utf-8", "text/plain", ""} {
		id := strconv.Itoa(3900 + i)
		r := ts.do(t, http.MethodPut, pathLogin(id), hdr{"Content-Type": ct}, loginBody)
		mustCode(t, r, "0")
	}
}

// TestSignInRetcodes has one row per (sign-in interface, bad input) and the
// retcode it must produce (interfaces.md §1–3, retcodes.md).
func TestSignInRetcodes(t *testing.T) {
	open := testServer(t, tConfig{})
	file := testServer(t, tConfig{dir: testFileDirectory(t)})
	broken := testServer(t, tConfig{})
	broken.store.Close() // every store write fails

	long := func(n int) string { return strings.Repeat("a", n) }
	pad := func(total int) string { // a valid login body of exactly total bytes
		const head, tail = `{"password":"x","phonenum":"70001","pad":"`, `"}`
		return head + long(total-len(head)-len(tail)) + tail
	}
	withField := func(f string) string { return `{"password":"x","phonenum":"70001",` + f + `}` }

	type row struct {
		name string
		ts   *tServer
		id   string // default: a fresh agent per row
		body string
		pre  string // "login": sign the agent in first
		want string
		// status is the HTTP status wanted when not 200: a body over the cap is
		// refused by its Content-Length with 413 (docs/security.md).
		status int
	}
	var rows []row
	for _, si := range signIns {
		missingPassword := "100-001" // the field left out
		if si.name == "loginEx" {
			missingPassword = "0" // loginEx: password may be left out; the built-in directory has none configured
		}
		phone := "100-001" // missing phone
		if si.name == "loginEx" {
			phone = "0" // loginEx: phonenum optional
		}
		rs := []row{
			{name: "ok", body: loginBody, want: "0"},
			{name: "body of exactly 64 KiB", body: pad(64 << 10), want: "0"},
			{name: "empty body", body: "", want: "100-001"},
			{name: "whitespace body", body: " \r\n", want: "100-001"},
			{name: "malformed JSON", body: `{"password":"x",`, want: "100-001"},
			{name: "not an object", body: `["x"]`, want: "100-001"},
			{name: "two objects", body: loginBody + loginBody, want: "100-001"},
			{name: "body over 64 KiB", body: pad(64<<10 + 1), want: "100-001", status: http.StatusRequestEntityTooLarge},
			{name: "missing password", body: `{"phonenum":"70001"}`, want: missingPassword},
			// Sent empty, the directory judges it: the built-in one has no
			// password configured (com.Zackeus.CTI always sends "").
			{name: "empty password", body: `{"password":"","phonenum":"70001"}`, want: "0"},
			{name: "password is a boolean", body: `{"password":true,"phonenum":"70001"}`, want: "100-001"},
			{name: "password 33 chars", body: `{"password":"` + long(33) + `","phonenum":"70001"}`, want: "100-001"},
			{name: "missing phonenum", body: `{"password":"x"}`, want: phone},
			{name: "phonenum is an object", body: `{"password":"x","phonenum":{}}`, want: "100-001"},
			{name: "status not a number", body: withField(`"status":"busy"`), want: "100-001"},
			{name: "autoanswer not a boolean", body: withField(`"autoanswer":"maybe"`), want: "100-001"},
			{name: "callBackUri not a URL", body: withField(`"callBackUri":"not a url","serviceToken":"tok"`), want: "100-001"},
			{name: "callBackUri ftp", body: withField(`"callBackUri":"ftp://crm.example/cb","serviceToken":"tok"`), want: "100-001"},
			{name: "callBackUri no host", body: withField(`"callBackUri":"https:///cb"`), want: "100-001"},
			{name: "callBackUri 201 chars", body: withField(`"callBackUri":"https://crm.example/` + long(201-len("https://crm.example/")) + `","serviceToken":"tok"`), want: "100-001"},
			{name: "serviceToken special chars", body: withField(`"callBackUri":"https://crm.example/cb","serviceToken":"a!b"`), want: "100-001"},
			{name: "serviceToken space", body: withField(`"serviceToken":"a b"`), want: "100-001"},
			{name: "serviceToken 51 chars", body: withField(`"callBackUri":"https://crm.example/cb","serviceToken":"` + long(51) + `"`), want: "100-001"},
			{name: "phonenum letters", body: `{"password":"x","phonenum":"abc"}`, want: "100-013"},
			{name: "phonenum 25 digits", body: `{"password":"x","phonenum":"` + strings.Repeat("1", 25) + `"}`, want: "100-013"},
			{name: "phonenum + inside", body: `{"password":"x","phonenum":"1+2"}`, want: "100-013"},
			{name: "phonenum negative number", body: `{"password":"x","phonenum":-5}`, want: "100-013"},
			{name: "vcPhoneNumber letters", body: withField(`"vcPhoneNumber":"x1"`), want: "100-013"},
			{name: "agenttype 5", body: withField(`"agenttype":5`), want: "100-012"},
			{name: "agenttype string 5", body: withField(`"agenttype":"5"`), want: "100-012"},
			{name: "status 7", body: withField(`"status":7`), want: "100-011"},
			{name: "status string 1", body: withField(`"status":"1"`), want: "100-011"},
			{name: "ip 1.2.3", body: withField(`"ip":"1.2.3"`), want: "100-016"},
			{name: "ip IPv6", body: withField(`"ip":"::1"`), want: "100-016"},
			{name: "ip IPv4-mapped IPv6", body: withField(`"ip":"::ffff:10.0.0.1"`), want: "100-016"},
			{name: "ip name", body: withField(`"ip":"localhost"`), want: "100-016"},
			{name: "entryIp bad", body: withField(`"entryIp":"300.1.1.1"`), want: "100-016"},
			{name: "wrong password", ts: file, id: "1001", body: `{"password":"nope","phonenum":"70001"}`, want: "100-004"},
			{name: "unknown agent", ts: file, id: "1003", body: `{"password":"S3cret!pw","phonenum":"70001"}`, want: "100-004"},
			{name: "right password", ts: file, id: "1002", body: `{"password":"other-pw","phonenum":"70001"}`, want: "0"},
			{name: "store down", ts: broken, body: loginBody, want: "100-007"},
		}
		// An empty password never matches a configured one, on any sign-in;
		// with the built-in directory (no password configured) it signs in.
		rs = append(rs,
			row{name: "empty password, file directory", ts: file, id: "1001", body: `{"password":"","phonenum":"70001"}`, want: "100-004"},
			row{name: "empty password, unknown agent", ts: file, id: "1003", body: `{"password":"","phonenum":"70001"}`, want: "100-004"})
		if si.name == "loginEx" {
			rs = append(rs, row{name: "no password, file directory", ts: file, id: "1001", body: `{}`, want: "100-004"})
		}
		if si.name == "forceLogin" {
			rs = append(rs, row{name: "already signed in", pre: "login", body: loginBody, want: "0"})
		} else {
			rs = append(rs, row{name: "already signed in", pre: "login", body: loginBody, want: "100-002"})
		}
		for _, r := range rs {
			r.name = si.name + "/" + r.name
			if r.ts == nil {
				r.ts = open
			}
			rows = append(rows, r)
		}
	}
	// The file directory's agents are shared by the three interfaces; sign each
	// success out again so that the next interface's row can sign in.
	next := 4000
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			id := r.id
			if id == "" {
				id = strconv.Itoa(next)
				next++
			}
			path := pathLogin
			for _, si := range signIns {
				if strings.HasPrefix(r.name, si.name+"/") {
					path = si.path
				}
			}
			if r.pre == "login" {
				r.ts.mustLogin(t, id)
			}
			got := r.ts.do(t, http.MethodPut, path(id), nil, r.body)
			if r.status != 0 {
				if got.status != r.status || got.retcode() != r.want {
					t.Fatalf("got HTTP %d %s, want %d %s", got.status, got.body, r.status, r.want)
				}
				return
			}
			mustCode(t, got, r.want)
			if r.want != "0" {
				mustKeys(t, "error envelope", got.env, "message", "retcode")
				if got.header.Get("Set-GUID") != "" || got.header.Get("Guid") != "" {
					t.Errorf("failed sign-in sent a GUID: %v", got.header)
				}
				return
			}
			g := strings.TrimPrefix(got.header.Get("Set-GUID"), "JSESSIONID=")
			mustCode(t, r.ts.do(t, http.MethodDelete, pathForceLogout(id), guidHdr(g), ""), "0")
		})
	}
}

// TestForceLoginReplaces checks that forceLogin over a live session succeeds with
// a new GUID, that the old GUID is then refused with 100-006 (that client is
// signed out; clients stop only on 100-006), and that the old client can still
// collect its undelivered events, ending with AgentOther_ShutdownService.
func TestForceLoginReplaces(t *testing.T) {
	ts := testServer(t, tConfig{})
	const id = "1001"
	old := ts.mustLogin(t, id)
	r := ts.do(t, http.MethodPut, pathForceLogin(id), nil, loginBody)
	mustCode(t, r, "0")
	g := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if g == old || !guidRE.MatchString(g) {
		t.Fatalf("forceLogin GUID %q (old %q)", g, old)
	}

	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), ""), "100-006")
	mustCode(t, ts.do(t, http.MethodGet, pathStatus(id), guidHdr(old), ""), "100-006")
	mustCode(t, ts.do(t, http.MethodGet, pathStatus(id), guidHdr("00000000-0000-0000-0000-000000000000.AgentGateway0"), ""), "000-003")
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "0")

	// The old client drains what it had not collected, then is refused.
	mustEventType(t, ts.mustPoll(t, id, old), id, "AgentOther_InService")
	mustEventType(t, ts.mustPoll(t, id, old), id, "AgentState_Ready")
	ev := ts.mustPoll(t, id, old)
	mustEventType(t, ev, id, "AgentOther_ShutdownService")
	var content map[string]string
	if err := json.Unmarshal(ev["content"], &content); err != nil || content["loginTime"] == "" {
		t.Errorf("ShutdownService content %s, want {\"loginTime\":\"<ms>\"}", ev["content"])
	}
	mustCode(t, ts.do(t, http.MethodGet, pathEvent(id), guidHdr(old), ""), "100-006")

	// The new client starts from its own sign-in.
	mustEventType(t, ts.mustPoll(t, id, g), id, "AgentOther_InService")
}

// guidCase says which Guid header a row sends.
type guidCase int

const (
	guidCurrent  guidCase = iota // Guid: <the session's GUID>
	guidNone                     // no Guid header
	guidWrong                    // a well-formed GUID of no session
	guidLower                    // guid: <GUID> (header name in lower case)
	guidJSession                 // Guid: JSESSIONID=<GUID>, as copied from Set-GUID
	guidOther                    // the GUID of another signed-in agent
)

func (c guidCase) header(g, other string) hdr {
	switch c {
	case guidCurrent:
		return hdr{"Guid": g}
	case guidWrong:
		return hdr{"Guid": "00000000-0000-0000-0000-000000000000.AgentGateway0"}
	case guidLower:
		return hdr{"guid": g}
	case guidJSession:
		return hdr{"Guid": "JSESSIONID=" + g}
	case guidOther:
		return hdr{"Guid": other}
	}
	return hdr{}
}

// authRow is one (interface, session and Guid) → retcode case of a GUID-protected
// interface.
type authRow struct {
	name     string
	method   string
	path     func(id string) string
	signedIn bool
	guid     guidCase
	extra    hdr    // more request headers
	want     string // retcode
	wantBody string // exact body, if set
	after    func(t *testing.T, ts *tServer, id, g string)
}

// runAuthRows runs rows against ts, each on a fresh agent from first on.
func runAuthRows(t *testing.T, ts *tServer, first int, rows []authRow) {
	t.Helper()
	other := ts.mustLogin(t, strconv.Itoa(first))
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			id := strconv.Itoa(first + 1 + i)
			g := ""
			if r.signedIn {
				g = ts.mustLogin(t, id)
			}
			h := r.guid.header(g, other)
			if !r.signedIn && (r.guid == guidCurrent || r.guid == guidLower || r.guid == guidJSession) {
				h = r.guid.header(other, other) // a real GUID, of another agent
			}
			for k, v := range r.extra {
				h[k] = v
			}
			got := ts.do(t, r.method, r.path(id), h, "")
			mustCode(t, got, r.want)
			if r.wantBody != "" {
				mustBody(t, got, r.wantBody)
			}
			if r.want != "0" {
				mustKeys(t, "error envelope", got.env, "message", "retcode")
			}
			if r.after != nil {
				r.after(t, ts, id, g)
			}
		})
	}
}

// signedOut checks that the agent's session is gone: its GUID gets 100-006.
func signedOut(t *testing.T, ts *tServer, id, g string) {
	t.Helper()
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "100-006")
	mustCode(t, ts.do(t, http.MethodGet, pathStatus(id), guidHdr(g), ""), "100-006")
	ts.mustLogin(t, id) // and the agent can sign in again
}

// stillSignedIn checks that a refused request left the session alone.
func stillSignedIn(t *testing.T, ts *tServer, id, g string) {
	t.Helper()
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "0")
}

// TestSignOut covers logout, forceLogout and forceLogoutWithReason (interfaces.md
// §4–6): one row per retcode each returns.
func TestSignOut(t *testing.T) {
	ts := testServer(t, tConfig{})
	reason := func(r string) func(string) string {
		return func(id string) string { return pathForceLogoutReason(id, r) }
	}
	const okReserved = `{"message":"success","retcode":"0","result":{}}`
	const okPlain = `{"message":"success","retcode":"0"}`
	var rows []authRow
	for _, iface := range []struct {
		name   string
		path   func(string) string
		okBody string
	}{
		{"logout", pathLogout, okReserved},
		{"forceLogout", pathForceLogout, okPlain},
		{"forceLogoutWithReason", reason("1"), okPlain},
	} {
		rows = append(rows,
			authRow{name: iface.name + "/ok", path: iface.path, signedIn: true, want: "0", wantBody: iface.okBody, after: signedOut},
			authRow{name: iface.name + "/lower-case guid", path: iface.path, signedIn: true, guid: guidLower, want: "0", after: signedOut},
			authRow{name: iface.name + "/JSESSIONID= guid", path: iface.path, signedIn: true, guid: guidJSession, want: "0", after: signedOut},
			authRow{name: iface.name + "/not signed in", path: iface.path, want: "100-006"},
			authRow{name: iface.name + "/not signed in, no guid", path: iface.path, guid: guidNone, want: "100-006"},
			authRow{name: iface.name + "/wrong guid", path: iface.path, signedIn: true, guid: guidWrong, want: "000-003", after: stillSignedIn},
			authRow{name: iface.name + "/other agent's guid", path: iface.path, signedIn: true, guid: guidOther, want: "000-003", after: stillSignedIn},
			authRow{name: iface.name + "/missing guid", path: iface.path, signedIn: true, guid: guidNone, want: "000-003", after: stillSignedIn},
		)
	}
	for _, r := range []string{"1", "128", "255"} {
		rows = append(rows, authRow{name: "forceLogoutWithReason/reason " + r, path: reason(r), signedIn: true, want: "0", after: signedOut})
	}
	for _, r := range []string{"0", "256", "x", "-1", "1.5", "99999999999999999999"} {
		rows = append(rows,
			authRow{name: "forceLogoutWithReason/reason " + r, path: reason(r), signedIn: true, want: "100-005", after: stillSignedIn},
			authRow{name: "forceLogoutWithReason/reason " + r + ", not signed in", path: reason(r), want: "100-005"})
	}
	for i := range rows {
		rows[i].method = http.MethodDelete
	}
	runAuthRows(t, ts, 5000, rows)
}

// TestSignOutEvents checks what a client sees after signing out: a sign-out by
// the agent itself (logout, forceLogout, forceLogoutWithReason) ends the event
// stream at once, with no AgentOther_ShutdownService (the vendor's 2025 sign-out
// pages); a second sign-out with the same GUID is 100-008.
func TestSignOutEvents(t *testing.T) {
	ts := testServer(t, tConfig{})

	g := ts.mustLogin(t, "1001")
	mustCode(t, ts.do(t, http.MethodDelete, pathLogout("1001"), guidHdr(g), ""), "0")
	mustCode(t, ts.do(t, http.MethodGet, pathEvent("1001"), guidHdr(g), ""), "100-006")
	// Signing out again with the same GUID: "agent already signed out" (interfaces.md §4).
	mustCode(t, ts.do(t, http.MethodDelete, pathLogout("1001"), guidHdr(g), ""), "100-008")

	for _, path := range []string{pathForceLogout("1002"), pathForceLogoutReason("1002", "7")} {
		g := ts.mustLogin(t, "1002")
		mustEventType(t, ts.mustPoll(t, "1002", g), "1002", "AgentOther_InService")
		mustEventType(t, ts.mustPoll(t, "1002", g), "1002", "AgentState_Ready")
		mustCode(t, ts.do(t, http.MethodDelete, path, guidHdr(g), ""), "0")
		mustCode(t, ts.do(t, http.MethodGet, pathEvent("1002"), guidHdr(g), ""), "100-006")
		mustCode(t, ts.do(t, http.MethodDelete, path, guidHdr(g), ""), "100-008")
	}
}

// TestHandShake covers the heartbeat (interfaces.md §7): the exact success body,
// service_token validation, and the Guid header in every accepted spelling.
func TestHandShake(t *testing.T) {
	ts := testServer(t, tConfig{})
	const okBody = `{"message":"success","retcode":"0"}`
	tok := func(v string) hdr { return hdr{"service_token": v} }
	rows := []authRow{
		{name: "ok", signedIn: true, want: "0", wantBody: okBody},
		{name: "lower-case guid header", signedIn: true, guid: guidLower, want: "0", wantBody: okBody},
		{name: "JSESSIONID= guid", signedIn: true, guid: guidJSession, want: "0", wantBody: okBody},
		{name: "valid token", signedIn: true, extra: tok("tok-1_2.x"), want: "0", wantBody: okBody, after: stillSignedIn},
		{name: "50-char token", signedIn: true, extra: tok(strings.Repeat("T", 50)), want: "0", wantBody: okBody},
		{name: "upper-case token header", signedIn: true, extra: hdr{"SERVICE_TOKEN": "abc"}, want: "0", wantBody: okBody},
		{name: "token special chars", signedIn: true, extra: tok("a!b"), want: "100-001", after: stillSignedIn},
		{name: "token 51 chars", signedIn: true, extra: tok(strings.Repeat("T", 51)), want: "100-001", after: stillSignedIn},
		{name: "token with space", signedIn: true, extra: tok("a b"), want: "100-001"},
		{name: "bad token, not signed in", extra: tok("a!b"), want: "100-001"},
		{name: "not signed in", want: "100-006"},
		{name: "not signed in, no guid", guid: guidNone, want: "100-006"},
		{name: "wrong guid", signedIn: true, guid: guidWrong, want: "000-003"},
		{name: "other agent's guid", signedIn: true, guid: guidOther, want: "000-003"},
		{name: "missing guid", signedIn: true, guid: guidNone, want: "000-003"},
	}
	for i := range rows {
		rows[i].method, rows[i].path = http.MethodPost, pathHandShake
	}
	runAuthRows(t, ts, 6000, rows)
}

// TestHandShakeStaticNoSetGUID checks that in static auth mode a handshake never
// sends Set-GUID, with or without a (new) service_token (README §2: Set-GUID on
// poll and handshake only in dynamic mode when the GUID changed).
func TestHandShakeStaticNoSetGUID(t *testing.T) {
	ts := testServer(t, tConfig{})
	g := ts.mustLogin(t, "1001")
	for _, h := range []hdr{
		{"Guid": g},
		{"Guid": g, "service_token": "first"},
		{"Guid": g, "service_token": "second"},
		{"Guid": g, "service_token": "second"},
	} {
		r := ts.do(t, http.MethodPost, pathHandShake("1001"), h, "")
		mustCode(t, r, "0")
		if sg := r.header.Values("Set-GUID"); len(sg) != 0 {
			t.Errorf("handshake %v sent Set-GUID %q in static mode", h, sg)
		}
	}
}

// TestGetAgentEvent checks the poll (interfaces.md §8, README §5.1): events one
// per response in order, with exactly the spec's keys, then an empty poll after
// PollWait.
func TestGetAgentEvent(t *testing.T) {
	ts := testServer(t, tConfig{})
	for i, tc := range []struct {
		status string
		want   []string
	}{
		{"", []string{"AgentOther_InService", "AgentState_Ready"}},
		{"4", []string{"AgentOther_InService", "AgentState_Ready"}},
		{"3", []string{"AgentOther_InService", "AgentState_Ready", "AgentState_SetNotReady_Success"}},
		{"5", []string{"AgentOther_InService", "AgentState_Ready", "AgentState_Work"}},
	} {
		t.Run("status="+tc.status, func(t *testing.T) {
			t.Parallel()
			id := strconv.Itoa(7001 + i)
			body := loginBody
			if tc.status != "" {
				body = `{"password":"x","phonenum":"70001","status":"` + tc.status + `"}`
			}
			g := ts.mustSignIn(t, pathLogin, id, body)
			for _, want := range tc.want {
				ev := ts.mustPoll(t, id, g)
				mustEventType(t, ev, id, want)
				switch want {
				case "AgentState_SetNotReady_Success":
					if got := string(ev["content"]); got != `{"reason":"0"}` {
						t.Errorf("%s content %s, want {\"reason\":\"0\"}", want, got)
					}
				default:
					if got := string(ev["content"]); got != "null" {
						t.Errorf("%s content %s, want null", want, got)
					}
				}
			}
			start := time.Now()
			r := ts.do(t, http.MethodGet, pathEvent(id)+"?calldata=XXX", guidHdr(g), "")
			mustBody(t, r, `{"message":"","retcode":"0"}`)
			if took := time.Since(start); took < 50*time.Millisecond {
				t.Errorf("empty poll answered after %v, want it held for PollWait (50ms)", took)
			}
		})
	}
}

// TestGetAgentEventRetcodes has one row per retcode of getAgentEvent.
func TestGetAgentEventRetcodes(t *testing.T) {
	ts := testServer(t, tConfig{})
	const push = `{"password":"x","phonenum":"70001","callBackUri":"https://crm.example/cb","serviceToken":"tok123"}`
	pushed := func(t *testing.T, ts *tServer, id, _ string) {
		t.Helper()
		g := ts.mustSignIn(t, pathForceLogin, id, push)
		r := ts.do(t, http.MethodGet, pathEvent(id), guidHdr(g), "")
		mustCode(t, r, "000-001")
		mustKeys(t, "error envelope", r.env, "message", "retcode")
		// A push-mode session keeps itself alive with handShake.
		mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "0")
	}
	rows := []authRow{
		{name: "ok", signedIn: true, want: "0"},
		{name: "lower-case guid header", signedIn: true, guid: guidLower, want: "0"},
		{name: "JSESSIONID= guid", signedIn: true, guid: guidJSession, want: "0"},
		{name: "push mode", signedIn: true, want: "0", after: pushed},
		{name: "not signed in", want: "100-006"},
		{name: "not signed in, no guid", guid: guidNone, want: "100-006"},
		{name: "wrong guid", signedIn: true, guid: guidWrong, want: "000-003"},
		{name: "other agent's guid", signedIn: true, guid: guidOther, want: "000-003"},
		{name: "missing guid", signedIn: true, guid: guidNone, want: "000-003"},
	}
	for i := range rows {
		rows[i].method, rows[i].path = http.MethodGet, pathEvent
	}
	runAuthRows(t, ts, 7100, rows)
}

// TestGetAgentStatus covers getAgentStatus (interfaces.md §20).
func TestGetAgentStatus(t *testing.T) {
	ts := testServer(t, tConfig{})
	rows := []authRow{
		{name: "ok", signedIn: true, want: "0", wantBody: `{"message":"","retcode":"0","result":{"agentState":4,"isWorking":false}}`},
		{name: "not signed in", want: "100-006"},
		{name: "wrong guid", signedIn: true, guid: guidWrong, want: "000-003"},
		{name: "missing guid", signedIn: true, guid: guidNone, want: "000-003"},
	}
	for i := range rows {
		rows[i].method, rows[i].path = http.MethodGet, pathStatus
	}
	runAuthRows(t, ts, 7200, rows)

	g := ts.mustSignIn(t, pathLogin, "7300", `{"password":"x","phonenum":"70001","status":"3"}`)
	r := ts.do(t, http.MethodGet, pathStatus("7300"), guidHdr(g), "")
	mustBody(t, r, `{"message":"","retcode":"0","result":{"agentState":3,"isWorking":false}}`)
}

// TestUpdateGuid covers updateGuid (interfaces.md §26, README §3.2): a new GUID in
// result.guid and Set-GUID, the new one works and the old one stays valid.
func TestUpdateGuid(t *testing.T) {
	ts := testServer(t, tConfig{})
	const id = "1001"
	old := ts.mustLogin(t, id)
	r := ts.do(t, http.MethodPut, pathUpdateGuid(id), guidHdr(old), "")
	mustCode(t, r, "0")
	mustKeys(t, "envelope", r.env, "message", "retcode", "result")
	if string(r.env["message"]) != `"success"` {
		t.Errorf("message %s, want \"success\"", r.env["message"])
	}
	res := r.object(t, "result")
	mustKeys(t, "result", res, "guid")
	var g string
	json.Unmarshal(res["guid"], &g)
	if g == old || !guidRE.MatchString(g) {
		t.Fatalf("result.guid %q (old %q)", g, old)
	}
	if got := r.header.Values("Set-GUID"); len(got) != 1 || got[0] != "JSESSIONID="+g {
		t.Errorf("Set-GUID %q, want [JSESSIONID=%s]", got, g)
	}
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "0")
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), ""), "0") // grace
	mustCode(t, ts.do(t, http.MethodGet, pathStatus(id), guidHdr(old), ""), "0")
	mustEventType(t, ts.mustPoll(t, id, g), id, "AgentOther_InService")

	// Updating with the old GUID (still in its grace) works too.
	r = ts.do(t, http.MethodPut, pathUpdateGuid(id), guidHdr(old), "")
	mustCode(t, r, "0")

	rows := []authRow{
		{name: "not signed in", want: "100-006"},
		{name: "wrong guid", signedIn: true, guid: guidWrong, want: "000-003", after: stillSignedIn},
		{name: "missing guid", signedIn: true, guid: guidNone, want: "000-003"},
	}
	for i := range rows {
		rows[i].method, rows[i].path = http.MethodPut, pathUpdateGuid
	}
	runAuthRows(t, ts, 7400, rows)

	// A rotation writes nothing (the new GUID is derived, and a restart
	// recovers it): it succeeds with the data file closed, and the new GUID
	// is the one that works.
	g = ts.mustLogin(t, "7500")
	ts.store.Close()
	rot := ts.do(t, http.MethodPut, pathUpdateGuid("7500"), guidHdr(g), "")
	mustCode(t, rot, "0")
	ng := strings.TrimPrefix(rot.header.Get("Set-GUID"), "JSESSIONID=")
	if ng == "" || ng == g {
		t.Fatalf("rotation with the data file closed: Set-GUID %q (was %q)", ng, g)
	}
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake("7500"), guidHdr(ng), ""), "0")
}

// TestDynamicGUID checks the plumbing of dynamic auth mode (README §3.2) on a
// fake clock: after GUIDINTERVAL the next handshake and poll carry Set-GUID with
// the new GUID, the old one is accepted until GUIDTIMEOUT and refused after.
func TestDynamicGUID(t *testing.T) {
	fc := clock.NewVirtual(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	ts := testServer(t, tConfig{clock: fc, authMode: ccgw.AuthDynamic})
	const id = "1001"
	old := ts.mustLogin(t, id)

	r := ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), "")
	mustCode(t, r, "0")
	if sg := r.header.Get("Set-GUID"); sg != "" {
		t.Errorf("handshake before GUIDINTERVAL sent Set-GUID %q", sg)
	}

	fc.Advance(61 * time.Second)
	ts.sessions.Sweep(fc.Now()) // the sweep (every tick) marks the rotation due
	r = ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), "")
	mustBody(t, r, `{"message":"success","retcode":"0"}`)
	g := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if g == old || !guidRE.MatchString(g) {
		t.Fatalf("rotated Set-GUID %q (old %q)", r.header.Get("Set-GUID"), old)
	}
	// A client that has not switched yet is told again, on the poll too.
	r = ts.do(t, http.MethodGet, pathEvent(id), guidHdr(old), "")
	mustCode(t, r, "0")
	if got := r.header.Get("Set-GUID"); got != "JSESSIONID="+g {
		t.Errorf("poll with the old GUID: Set-GUID %q, want JSESSIONID=%s", got, g)
	}
	r = ts.do(t, http.MethodGet, pathEvent(id), guidHdr(g), "")
	mustCode(t, r, "0")
	if got := r.header.Get("Set-GUID"); got != "" {
		t.Errorf("poll with the current GUID: Set-GUID %q", got)
	}

	fc.Advance(59 * time.Second) // 120 s after sign-in, 59 s after the rotation
	r = ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), "")
	mustCode(t, r, "0")
	if sg := r.header.Get("Set-GUID"); sg != "" {
		t.Errorf("handshake before the next GUIDINTERVAL sent Set-GUID %q", sg)
	}
	r = ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), "") // in its grace
	mustCode(t, r, "0")
	if got := r.header.Get("Set-GUID"); got != "JSESSIONID="+g {
		t.Errorf("handshake with the old GUID: Set-GUID %q, want JSESSIONID=%s", got, g)
	}

	fc.Advance(62 * time.Second) // 121 s after the rotation: the grace is over
	ts.sessions.Sweep(fc.Now())
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(old), ""), "000-003")
	mustCode(t, ts.do(t, http.MethodGet, pathEvent(id), guidHdr(old), ""), "000-003")
	r = ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), "")
	mustCode(t, r, "0")
	g2 := strings.TrimPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if g2 == g || !guidRE.MatchString(g2) {
		t.Fatalf("second rotation: Set-GUID %q", r.header.Get("Set-GUID"))
	}
}

// TestTimeoutThroughAPI checks what a client sees when its session times out
// (README §4, sources.md OPEN 7) on a fake clock: its last events end with
// AgentOther_ShutdownService, then every call gets 100-006.
func TestTimeoutThroughAPI(t *testing.T) {
	fc := clock.NewVirtual(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	ts := testServer(t, tConfig{clock: fc})
	const id = "1001"
	g := ts.mustLogin(t, id)
	fc.Advance(2*time.Minute + time.Second) // the default timeout
	if n := ts.sessions.Sweep(fc.Now()); n != 1 {
		t.Fatalf("Sweep expired %d sessions, want 1", n)
	}
	mustCode(t, ts.do(t, http.MethodPost, pathHandShake(id), guidHdr(g), ""), "100-006")
	mustEventType(t, ts.mustPoll(t, id, g), id, "AgentOther_InService")
	mustEventType(t, ts.mustPoll(t, id, g), id, "AgentState_Ready")
	mustEventType(t, ts.mustPoll(t, id, g), id, "AgentOther_ShutdownService")
	mustCode(t, ts.do(t, http.MethodGet, pathEvent(id), guidHdr(g), ""), "100-006")
	mustCode(t, ts.do(t, http.MethodGet, pathStatus(id), guidHdr(g), ""), "100-006")
	mustCode(t, ts.do(t, http.MethodDelete, pathLogout(id), guidHdr(g), ""), "100-006")
	ts.mustLogin(t, id)
}

// iface is one interface: its method, a path for agent id, and the spec method
// name it logs.
type iface struct {
	name   string
	method string
	path   func(id string) string
}

var ifaces = []iface{
	{"login", http.MethodPut, pathLogin},
	{"forceLogin", http.MethodPut, pathForceLogin},
	{"loginEx", http.MethodPut, pathLoginEx},
	{"logout", http.MethodDelete, pathLogout},
	{"forceLogout", http.MethodDelete, pathForceLogout},
	{"forceLogoutWithReason", http.MethodDelete, func(id string) string { return pathForceLogoutReason(id, "1") }},
	{"handShake", http.MethodPost, pathHandShake},
	{"getAgentEvent", http.MethodGet, pathEvent},
	{"getAgentStatus", http.MethodGet, pathStatus},
	{"updateGuid", http.MethodPut, pathUpdateGuid},
}

// TestBadAgentID checks that every interface refuses an agent ID that is not a
// work number in 101–999999 with 000-002 (README §1), before looking at the
// body or the Guid.
func TestBadAgentID(t *testing.T) {
	ts := testServer(t, tConfig{})
	g := ts.mustLogin(t, "1001")
	for _, in := range ifaces {
		for _, id := range []string{"abc", "100", "1000000", "0", "-101", "+101", "1001x", "１０１"} {
			t.Run(in.name+"/"+id, func(t *testing.T) {
				r := ts.do(t, in.method, in.path(id), guidHdr(g), loginBody)
				mustCode(t, r, "000-002")
				mustKeys(t, "error envelope", r.env, "message", "retcode")
			})
		}
		t.Run(in.name+"/empty", func(t *testing.T) {
			// Doubled slashes are served as one, so an empty agent ID makes
			// another path: whatever it matches, it fails with 000-002.
			r := ts.do(t, in.method, in.path(""), guidHdr(g), loginBody)
			if r.retcode() != "000-002" {
				t.Fatalf("got HTTP %d %q, want 000-002: %s", r.status, r.retcode(), r.body)
			}
		})
	}
	// The bounds themselves are work numbers.
	ts.mustLogin(t, "101")
	ts.mustLogin(t, "999999")
}

// TestWrongMethod checks that every interface answers any other method with HTTP
// 405, an Allow header naming its method, and the 000-002 envelope.
func TestWrongMethod(t *testing.T) {
	ts := testServer(t, tConfig{})
	g := ts.mustLogin(t, "1001")
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodOptions}
	for _, in := range ifaces {
		for _, m := range methods {
			if m == in.method {
				continue
			}
			t.Run(in.name+"/"+m, func(t *testing.T) {
				r := ts.do(t, m, in.path("1001"), guidHdr(g), "")
				if r.status != http.StatusMethodNotAllowed || r.retcode() != "000-002" {
					t.Fatalf("got HTTP %d %q, want 405 000-002: %s", r.status, r.retcode(), r.body)
				}
				if got := r.header.Get("Allow"); got != in.method {
					t.Errorf("Allow %q, want %q", got, in.method)
				}
				mustKeys(t, "405 envelope", r.env, "message", "retcode")
			})
		}
	}
	// The session was not touched by any of it.
	stillSignedIn(t, ts, "1001", g)
}

// TestUnknownPath checks that paths matching no interface, inside the vendor
// prefix or outside it, get HTTP 404 with the 000-002 envelope.
func TestUnknownPath(t *testing.T) {
	ts := testServer(t, tConfig{})
	for _, p := range []string{
		"/",
		"/agentgateway",
		"/agentgateway/resource",
		"/agentgateway/resource/",
		"/agentgateway/resource/onlineagent",
		"/agentgateway/resource/onlineagent/",
		"/agentgateway/resource/nosuchresource/1001",
		"/agentgateway/resource/onlineagent/1001/nosuchverb",
		"/agentgateway/resource/onlineagent/1001/handshake/extra",
		"/agentgateway/resource/agentevent/1001/extra",
		"/agentgateway/resource/onlineagent/1001/forcelogoutwithreason",
		"/agentgateway/resource/onlineagent/1001/forcelogoutwithreason/1/2",
		"/agentgateway/resource/ONLINEAGENT/1001/handshake",
		"/agentgateway/resource/onlineagent/1001/HANDSHAKE",
		"/AgentGateway/resource/onlineagent/1001/handshake",
		"/onlineagent/1001/handshake",
		"/favicon.ico",
		"/healthz/x",
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			t.Run(m+" "+p, func(t *testing.T) {
				r := ts.do(t, m, p, nil, "")
				if r.status != http.StatusNotFound || r.retcode() != "000-002" {
					t.Fatalf("got HTTP %d %q, want 404 000-002: %s", r.status, r.retcode(), r.body)
				}
				mustKeys(t, "404 envelope", r.env, "message", "retcode")
			})
		}
	}
}

// TestHealth checks /healthz and /readyz: both 200 while the store is open;
// /readyz 503 once Ready reports false, /healthz still 200.
func TestHealth(t *testing.T) {
	var down atomic.Bool
	ts := testServer(t, tConfig{ready: func() bool { return !down.Load() }})
	for _, p := range []string{"/healthz", "/readyz"} {
		mustCode(t, ts.do(t, http.MethodGet, p, nil, ""), "0")
	}
	down.Store(true)
	mustCode(t, ts.do(t, http.MethodGet, "/healthz", nil, ""), "0")
	if r := ts.do(t, http.MethodGet, "/readyz", nil, ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz when not ready: HTTP %d, want 503: %s", r.status, r.body)
	}

	// The default wiring in these tests: the bolt store's Ready.
	ts = testServer(t, tConfig{})
	mustCode(t, ts.do(t, http.MethodGet, "/readyz", nil, ""), "0")
	ts.store.Close()
	if r := ts.do(t, http.MethodGet, "/readyz", nil, ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz with the store closed: HTTP %d, want 503: %s", r.status, r.body)
	}
}

// TestRequestLog checks the one log line per request (STYLE §13): it names the
// spec method and the retcode, health checks are not logged, and no line of the
// api or the session manager carries a full GUID.
func TestRequestLog(t *testing.T) {
	lr := &logRecorder{}
	ts := testServer(t, tConfig{log: slog.New(lr)})
	serve := func(method, path, guid, body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if guid != "" {
			req.Header.Set("Guid", guid)
		}
		ts.handler.ServeHTTP(rec, req) // logs before it returns
		return rec
	}
	rec := serve(http.MethodPut, pathLogin("1001"), "", loginBody)
	g := strings.TrimPrefix(rec.Header()["Set-GUID"][0], "JSESSIONID=")
	lines := lr.take()
	for _, in := range ifaces {
		serve(in.method, in.path("1001"), g, loginBody)
		got := lr.take()
		var req []string
		for _, l := range got {
			if strings.HasPrefix(l, "request ") {
				req = append(req, l)
			}
		}
		if len(req) != 1 || !strings.Contains(req[0], " method="+in.name+" ") || !strings.Contains(req[0], " agent=1001 ") || !strings.Contains(req[0], " retcode=") {
			t.Errorf("%s: request log lines %q, want one with method=%s agent=1001 retcode=", in.name, req, in.name)
		}
		lines = append(lines, got...)
	}
	serve(http.MethodGet, "/healthz", "", "")
	serve(http.MethodGet, "/readyz", "", "")
	if got := lr.take(); len(got) != 0 {
		t.Errorf("health checks logged %q", got)
	}
	serve(http.MethodGet, "/nowhere", "", "")
	serve(http.MethodPatch, pathHandShake("1001"), "", "")
	got := lr.take()
	if len(got) != 2 || !strings.Contains(got[0], "method=unknown") || !strings.Contains(got[1], "method=handShake") {
		t.Errorf("404 and 405 log lines %q, want method=unknown and method=handShake", got)
	}
	for _, l := range append(lines, got...) {
		if strings.Contains(l, g[:13]) {
			t.Errorf("log line carries the GUID: %q", l)
		}
	}
}

// TestSlashesServedAsOne checks that doubled slashes, as the vendor's generated
// JavaScript SDK sends them (its base URL ends in "/"), and a trailing slash
// reach the interface the path names.
func TestSlashesServedAsOne(t *testing.T) {
	ts := testServer(t, tConfig{})
	g := ts.mustSignIn(t, func(id string) string { return "/agentgateway/resource//onlineagent/" + id }, "1001", loginBody)
	for _, p := range []string{
		"/agentgateway/resource//onlineagent/1001/handshake",
		"/agentgateway//resource//onlineagent//1001//handshake",
		"//agentgateway/resource/onlineagent/1001/handshake",
		"/agentgateway/resource/onlineagent/1001/handshake/",
	} {
		t.Run(p, func(t *testing.T) {
			r := ts.do(t, http.MethodPost, p, guidHdr(g), "")
			mustCode(t, r, "0")
		})
	}
	r := ts.do(t, http.MethodGet, "/agentgateway/resource//onlineagent/1001/agentstatus", guidHdr(g), "")
	mustCode(t, r, "0")
	r = ts.do(t, http.MethodDelete, "/agentgateway/resource//onlineagent/1001/logout", guidHdr(g), "")
	mustCode(t, r, "0")
}
