package e2e

// Replays of the SaaS-era clients (docs/clients.md #11, #12).

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// okhttpHeaders are what okhttp 3 adds to every request.
var okhttpHeaders = []hdr{{"Connection", "Keep-Alive"}, {"Accept-Encoding", "gzip"}, {"User-Agent", "okhttp/3.14.2"}}

// TestClientEiisysIPCC replays the eiisys cloud_ipcc backend (#11,
// kimhu/huawei-ipcc) against a static-GUID gateway. It never polls: its web
// front end drives a bodiless-in-spirit PUT .../heartbeat, sent by okhttp with
// the body "null" (fastjson's JSON.toJSONString(null)), as are its POSTs and
// DELETEs. Login sends only password and phonenum (fastjson drops nulls); the
// GUID is response.header("Set-GUID") (any case) without "JSESSIONID=" and must
// be there on a "0". Status changes: 1 sayfree, 4 work; 3 (saybusy?reason=null)
// and 2 (rest/null/null) carry the text "null" where numbers belong, and
// their answers are only logged. Sign-out reads agentstatus's
// result.isWorking (a boolean) before DELETE logout; then the heartbeat gets
// 100-006 and the backend drops the GUID.
func TestClientEiisysIPCC(t *testing.T) { onEveryStore(t, testClientEiisysIPCC) }

func testClientEiisysIPCC(t *testing.T, store string) {
	p := startGatewayOn(t, store, "--auth-mode", "static", "--heartbeat-timeout", "2s")
	const id = "1001"
	const base = "/agentgateway/resource/onlineagent/" + id
	c := &wireClient{tb: t, addr: p.addr, fixed: okhttpHeaders}
	var guid string
	// do is OkhttpClientUtils: the header map (Content-Type, guid), and for a
	// body okhttp's own Content-Type in place of the map's.
	do := func(method, path string) javaMap {
		t.Helper()
		h := []hdr{{"guid", guid}}
		var b []byte
		if method == http.MethodGet {
			h = append(h, hdr{"Content-Type", "application/json;charset=UTF-8"})
		} else {
			h, b = append(h, hdr{"Content-Type", "application/json; charset=utf-8"}), []byte("null")
		}
		r := c.do(method, path, h, b)
		noSetCookie(t, r)
		m, _ := envelopeMap(t, r) // JSONObject.parseObject(body).getString("retcode")
		return m
	}
	ok := func(method, path string) {
		t.Helper()
		if code := do(method, path).str(t, "retcode"); code != "0" {
			t.Fatalf("%s %s: retcode %s", method, path, code)
		}
	}

	r := c.do(http.MethodPut, base, []hdr{{"Content-Type", "application/json; charset=utf-8"}}, []byte(`{"password":"p","phonenum":"70001"}`))
	noSetCookie(t, r)
	mustCode(t, "login", r, "0")
	sg := r.fold("Set-GUID") // okhttp's response.header(name): any case, the last value
	if len(sg) != 1 {
		t.Fatalf("login Set-GUID %q: the backend calls replace on it (a NullPointerException without one)", sg)
	}
	guid = strings.ReplaceAll(sg[0], "JSESSIONID=", "")

	// The front end's heartbeat, faster than its period, for longer than the timeout.
	holdsFor(t, 3*time.Second, 300*time.Millisecond, func() error {
		ok(http.MethodPut, base+"/heartbeat")
		return nil
	})
	ok(http.MethodPost, base+"/sayfree")
	ok(http.MethodPost, base+"/work")
	ok(http.MethodPost, base+"/sayfree")
	for _, path := range []string{base + "/saybusy?reason=null", base + "/rest/null/null"} {
		t.Logf("POST %s: retcode %s (not asserted; see docs/clients.md)", path, do(http.MethodPost, path).str(t, "retcode"))
	}
	ok(http.MethodPut, base+"/heartbeat")

	st := do(http.MethodGet, base+"/agentstatus")
	if working, isBool := st.obj(t, "result")["isWorking"].(bool); !isBool || working {
		t.Fatalf("agentstatus %v: the backend reads result.isWorking as a boolean and refuses to sign out while it is true", st)
	}
	ok(http.MethodDelete, base+"/logout")
	if code := do(http.MethodPut, base+"/heartbeat").str(t, "retcode"); code != "100-006" {
		t.Fatalf("heartbeat after logout: retcode %s, want 100-006", code)
	}
	for _, path := range []string{base + "/notifybulletin", base + "/sendnoteletex"} {
		mustUnserved(t, path, c.do(http.MethodPost, path, []hdr{{"guid", guid}}, []byte("null")))
	}
}

// ispReceiver is the IspMockServer's POST /softphone/event/{agentId} (Spring
// MVC, Spring Boot's Jackson, which ignores unknown properties): the body binds
// to EventDto {message, retcode, eventList: [Event {eventType, workNo,
// content: Content}], workNo}, where Content's fields are all Strings (a
// content that is not an object or null, or a field that is not a scalar, is a
// 400); handleEvent loops over eventList (null throws). It answers
// {"message":"success","retcode":"0"}.
func ispReceiver(log *pushLog, id string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var dto struct {
			Message   json.RawMessage `json:"message"`
			Retcode   json.RawMessage `json:"retcode"`
			WorkNo    json.RawMessage `json:"workNo"`
			EventList []struct {
				EventType json.RawMessage `json:"eventType"`
				WorkNo    json.RawMessage `json:"workNo"`
				Content   json.RawMessage `json:"content"`
			} `json:"eventList"`
		}
		ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/softphone/event/"+id:
			log.reject("push %s %s", r.Method, r.URL)
		case strings.TrimSpace(ct) != "application/json":
			log.reject("push with Content-Type %q: 415", r.Header.Get("Content-Type"))
		case json.Unmarshal(body, &dto) != nil || !jacksonString(dto.Message) || !jacksonString(dto.Retcode) || !jacksonString(dto.WorkNo):
			log.reject("push %s does not bind to EventDto", body)
		case dto.EventList == nil:
			log.reject("push %s without eventList: handleEvent throws", body)
		default:
			var types []string
			for _, ev := range dto.EventList {
				var typ string
				if json.Unmarshal(ev.EventType, &typ) != nil || typ == "" || !jacksonString(ev.WorkNo) || !jacksonContent(ev.Content) {
					log.reject("push %s: an event does not bind to Event", body)
					http.Error(w, "bad request", http.StatusBadRequest)
					return
				}
				types = append(types, typ)
			}
			log.accept(types...)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"message":"success","retcode":"0"}`)
	}
}

// jacksonString reports whether raw binds to a Java String: absent, null or a
// scalar (Jackson coerces numbers and booleans).
func jacksonString(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || (s[0] != '{' && s[0] != '[')
}

// jacksonContent reports whether raw binds to the Content class: absent, null
// or an object whose values bind to Strings.
func jacksonContent(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	for _, v := range m {
		if !jacksonString(v) {
			return false
		}
	}
	return true
}

// TestClientIspMockServer replays the IspMockServer proof of concept (#12,
// moritzrose/IspMockServer at ec8be72) against a default (dynamic-GUID)
// gateway in callback mode: Java 11 HttpClient, login with callBackUri and
// serviceToken (the web session ID) and "status":"4" as a string; it reads the
// GUID from the response header Guid (a case-insensitive map) and sends it back
// as Guid. Every other request carries a RequestDto of nulls as its body.
// Pushes go to its /softphone/event/{agentId}, {workNo, eventList}: sign-in,
// saybusy, sayfree; DELETE logout then pushes no ShutdownService. Signed in
// again, it answers a simulated call (PUT voicecall/answer).
func TestClientIspMockServer(t *testing.T) { onEveryStore(t, testClientIspMockServer) }

func testClientIspMockServer(t *testing.T, store string) {
	const id = "1001"
	var log pushLog
	recv := serveReceiver(t, ispReceiver(&log, id))
	// It never heartbeats: the session lives for the push-mode timeout.
	p := startGatewayOn(t, store, "--heartbeat-timeout", "1m")
	c := &wireClient{tb: t, addr: p.addr, fixed: []hdr{{"User-Agent", "Java-http-client/17.0.2"}}}
	const agentURL = "/agentgateway/resource/onlineagent/"
	const nulls = `{"password":null,"phonenum":null,"callBackUri":null,"serviceToken":null,"status":null,"autoanswer":false}`
	var guid string
	send := func(method, path string) {
		t.Helper()
		r := c.do(method, path, []hdr{{"Content-Type", "application/json"}, {"Guid", guid}}, []byte(nulls))
		mustCode(t, method+" "+path, r, "0")
	}

	login := func() {
		t.Helper()
		r := c.do(http.MethodPut, agentURL+id, []hdr{{"Content-Type", "application/json"}},
			[]byte(`{"password":"p","phonenum":"70001","callBackUri":"http://`+recv+`/softphone/event/`+id+`","serviceToken":"8D4C0F2B6A1E3D5C7B9A0E2F4D6C8B1A","status":"4","autoanswer":false}`))
		mustCode(t, "login", r, "0")
		g := r.fold("Guid") // responseDto.getHeader().get("Guid").get(0)
		if len(g) != 1 || g[0] == "" {
			t.Fatalf("login Guid header %q", g)
		}
		guid = g[0]
		if sg := r.fold("Set-GUID"); len(sg) != 1 || sg[0] != "JSESSIONID="+guid {
			t.Fatalf("Guid %q and Set-GUID %q disagree", guid, sg)
		}
	}

	login()
	n := log.wait(t, 0, evInService, evReady)
	send(http.MethodPost, agentURL+id+"/saybusy")
	n = log.wait(t, n, evSetNotReady)
	send(http.MethodPost, agentURL+id+"/sayfree")
	n = log.wait(t, n, evCancelNotReady, evReady)
	send(http.MethodDelete, agentURL+id+"/logout")
	p.log.waitLine(t, 30*time.Second, "msg", "signed out", "agent", id)
	holdsFor(t, 500*time.Millisecond, 50*time.Millisecond, func() error {
		log.mu.Lock()
		defer log.mu.Unlock()
		if len(log.events) != n {
			t.Fatalf("pushed %q after the agent's own logout", log.events[n:])
		}
		return nil
	})

	// Signed in again, it takes a call. The replay ends with the call up: when
	// it ends, AgentEvent_Call_Release's content is the call ID, a string (as
	// the vendor documents it), which its Content class cannot bind (400).
	login()
	n = log.wait(t, n, evInService, evReady)
	injectCall(t, p, 1)
	n = log.wait(t, n, "AgentEvent_Incoming_CallInfo", "AgentState_Busy", "AgentOther_PhoneAlerting", "AgentOther_PhoneOffhook", "AgentEvent_Ringing", "AgentEvent_Customer_Alerting")
	send(http.MethodPut, "/agentgateway/resource/voicecall/"+id+"/answer")
	log.wait(t, n, "AgentEvent_Talking")
}
