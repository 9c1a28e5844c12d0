// Package e2e runs the real ccgw binary and talks to it over loopback HTTP(S):
// heartbeat timeouts, kill -9 and restart, SIGTERM, the self-signed certificate,
// and malformed requests. Every wait on the process polls with a deadline.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/wait"
)

// timeout is the --heartbeat-timeout every test runs with.
const timeout = 2 * time.Second

// keepTimeout is the --heartbeat-timeout of the tests whose clients keep a
// session alive with a heartbeat every 300ms and must never lose it: on a
// loaded machine (a load average of 16 on 2 cores, under -race) a heartbeat can
// be seconds late, and 2s left too little room.
const keepTimeout = 8 * time.Second

// sweepSlack is how late after its deadline a sign-out may be logged on a
// loaded machine: the sweeper ticks every few hundred milliseconds when it gets
// the CPU. Tests bound sign-outs from below exactly and from above by this.
const sweepSlack = 15 * time.Second

const (
	evInService = "AgentOther_InService"
	evReady     = "AgentState_Ready"
	evShutdown  = "AgentOther_ShutdownService"
)

// TestSessionLifecycle signs in three agents: A heartbeats and stays, B goes
// silent and is signed out by the sweeper exactly once after the timeout, C signs
// out itself. B's client then sees 100-006 on handshake and collects
// AgentOther_ShutdownService once from its poll.
func TestSessionLifecycle(t *testing.T) { onEveryStore(t, testSessionLifecycle) }

func testSessionLifecycle(t *testing.T, store string) {
	const timeout = keepTimeout
	p := startGatewayOn(t, store, "--heartbeat-timeout", timeout.String(), "--log-level", "debug") // the request lines time the sign-in
	const a, b, c = "1001", "1002", "1003"
	ga, _ := p.signIn(t, a, "")
	gb, loginB := p.signIn(t, b, "")
	gc, _ := p.signIn(t, c, "")
	hb := startHeartbeat(t, a, ga, 300*time.Millisecond, func() *proc { return p })

	r := call(t, p.client, http.MethodDelete, p.url("onlineagent/"+c+"/logout"), gc, "")
	if r.env.Retcode != "0" || string(r.env.Result) != "{}" {
		t.Fatalf("logout %s: HTTP %d %s", c, r.status, r.body)
	}
	p.log.waitLine(t, 30*time.Second, "msg", "signed out", "agent", c, "cause", "logout")

	// B neither polls nor heartbeats: the sweeper signs it out one timeout after sign-in.
	out := p.log.waitLine(t, timeout+sweepSlack+5*time.Second, "msg", "signed out", "agent", b, "cause", "timeout")
	login := p.log.find("msg", "request", "method", "login", "agent", b)
	if len(login) != 1 {
		t.Fatalf("want 1 login line for %s, got %d", b, len(login))
	}
	// The login line is written when the request ends; it started took earlier,
	// before the session's clock began.
	took, err := time.ParseDuration(login[0].attr["took"])
	if err != nil {
		t.Fatalf("login line: %s", login[0].raw)
	}
	silent := out.time().Sub(login[0].time().Add(-took))
	t.Logf("%s signed out %v after its sign-in", b, silent)
	if silent < timeout-10*time.Millisecond || silent > timeout+sweepSlack {
		t.Errorf("%s signed out %v after sign-in, want %v and at most %v more", b, silent, timeout, sweepSlack)
	}
	if g := out.attr["guid"]; g == "" || g == gb {
		t.Errorf("sign-out line guid=%q: want a shortened GUID, never the whole one", g)
	}

	if got := p.handshake(t, b, gb); got != string(ccgw.RetNotSignedIn) {
		t.Errorf("handshake of timed-out %s: retcode %s, want %s", b, got, ccgw.RetNotSignedIn)
	}
	// B's client collects what it never polled, ending with one ShutdownService.
	p.drain(t, b, gb, evInService, evReady)
	env := p.poll(t, b, gb)
	if env.Retcode != "0" || env.Event == nil || env.Event.Type != evShutdown || env.Event.WorkNo != b {
		t.Fatalf("poll %s after timeout: retcode %s event %+v, want %s", b, env.Retcode, env.Event, evShutdown)
	}
	var content struct {
		LoginTime string `json:"loginTime"`
	}
	if err := json.Unmarshal(env.Event.Content, &content); err != nil || content.LoginTime != loginB {
		t.Errorf("%s content %s, want loginTime %s", evShutdown, env.Event.Content, loginB)
	}
	for i := 0; i < 2; i++ {
		if env := p.poll(t, b, gb); env.Retcode != string(ccgw.RetNotSignedIn) {
			t.Errorf("poll %s after its shutdown event: retcode %s event %+v, want %s", b, env.Retcode, env.Event, ccgw.RetNotSignedIn)
		}
	}

	// For one more timeout: B's sign-out stays the only one, A and C are never timed out.
	holdsFor(t, timeout, 50*time.Millisecond, func() error {
		if n := len(p.log.find("msg", "signed out", "agent", b)); n != 1 {
			return fmt.Errorf("%d sign-out lines for %s, want 1", n, b)
		}
		if n := len(p.log.find("msg", "signed out", "agent", a)); n != 0 {
			return fmt.Errorf("heartbeating %s was signed out", a)
		}
		if n := len(p.log.find("msg", "signed out", "agent", c)); n != 1 {
			return fmt.Errorf("%d sign-out lines for %s, want its logout only", n, c)
		}
		return nil
	})
	hb.halt()
	hb.check(t)
	if n := hb.count(); n < 10 {
		t.Errorf("only %d heartbeats of %s succeeded", n, a)
	}
	if got := p.handshake(t, a, ga); got != "0" {
		t.Errorf("handshake of %s: %s", a, got)
	}
	if got := p.handshake(t, c, gc); got != string(ccgw.RetNotSignedIn) {
		t.Errorf("handshake of signed-out %s: %s", c, got)
	}
}

// TestRestartKeepsSessions kills the gateway with SIGKILL and restarts it on the
// same data: sessions come back with their GUIDs and states, a logged-out one does
// not, and a restored silent agent gets a full timeout counted from the restart.
func TestRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	const timeout = keepTimeout
	data := t.TempDir()
	p1 := startGateway(t, data, "--heartbeat-timeout", timeout.String())
	var cur atomic.Pointer[proc]
	cur.Store(p1)
	const x, y, z = "1001", "1002", "1003" // x heartbeats, y is silent, z signs out
	gx, _ := p1.signIn(t, x, `{"password":"p","phonenum":"70001","status":3}`)
	gy, _ := p1.signIn(t, y, "")
	ySilentSince := time.Now()
	gz, _ := p1.signIn(t, z, "")
	if r := call(t, p1.client, http.MethodDelete, p1.url("onlineagent/"+z+"/logout"), gz, ""); r.env.Retcode != "0" {
		t.Fatalf("logout %s: %s", z, r.body)
	}
	hb := startHeartbeat(t, x, gx, 300*time.Millisecond, cur.Load)
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if hb.count() == 0 {
			return fmt.Errorf("no heartbeat of %s yet", x)
		}
		return nil
	})

	// y stays silent for half its timeout before the crash, and is not signed out.
	holdsFor(t, time.Until(ySilentSince.Add(timeout/2)), 50*time.Millisecond, func() error {
		if ls := p1.log.find("msg", "signed out", "cause", "timeout"); len(ls) > 0 {
			return fmt.Errorf("signed out before the crash: %s", ls[0].raw)
		}
		return nil
	})
	cur.Store(nil)
	p1.kill()
	p2 := startGateway(t, data, "--heartbeat-timeout", timeout.String())
	cur.Store(p2)
	t.Logf("restarted %v after y's sign-in", time.Since(ySilentSince).Round(time.Millisecond))
	if p2.restored != 2 {
		t.Errorf("restored=%d, want 2 (%s and %s)", p2.restored, x, y)
	}
	if got := p2.handshake(t, x, gx); got != "0" {
		t.Errorf("handshake of %s with its GUID from before the crash: %s", x, got)
	}
	if code, st := p2.status(t, x, gx); code != "0" || st != int(ccgw.StateBusy) {
		t.Errorf("status of %s: retcode %s state %d, want 0 and %d", x, code, st, ccgw.StateBusy)
	}
	if code, st := p2.status(t, y, gy); code != "0" || st != int(ccgw.StateIdle) {
		t.Errorf("status of %s just after restart: retcode %s state %d, want 0 and %d", y, code, st, ccgw.StateIdle)
	}
	if got := p2.handshake(t, z, gz); got != string(ccgw.RetNotSignedIn) {
		t.Errorf("handshake of %s, signed out before the crash: %s, want %s", z, got, ccgw.RetNotSignedIn)
	}

	// y has now been silent for longer than a timeout, counting from before the
	// crash, and must still be signed in: its deadline counts from the restart
	// (at least half a timeout after ySilentSince) or its status query after it.
	holdsFor(t, time.Until(ySilentSince.Add(timeout+time.Second)), 50*time.Millisecond, func() error {
		if ls := p2.log.find("msg", "signed out", "agent", y); len(ls) > 0 {
			return fmt.Errorf("%s signed out %v after the restart: %s", y, ls[0].time().Sub(p2.listening.time()), ls[0].raw)
		}
		return nil
	})
	yLast := time.Now() // a status query is activity: y's timeout counts from it
	if code, _ := p2.status(t, y, gy); code != "0" {
		t.Errorf("status of %s %v after its sign-in: %s, want still signed in", y, time.Since(ySilentSince), code)
	}
	out := p2.log.waitLine(t, timeout+sweepSlack+5*time.Second, "msg", "signed out", "agent", y, "cause", "timeout")
	after := out.time().Sub(yLast)
	t.Logf("%s signed out %v after its last request", y, after)
	if after < timeout-100*time.Millisecond || after > timeout+sweepSlack {
		t.Errorf("%s signed out %v after its last request, want %v and at most %v more", y, after, timeout, sweepSlack)
	}

	hb.halt()
	hb.check(t)
	for i, p := range []*proc{p1, p2} {
		if ls := p.log.find("msg", "signed out", "agent", x); len(ls) > 0 {
			t.Errorf("run %d signed out heartbeating %s: %s", i+1, x, ls[0].raw)
		}
	}
	if got := p2.handshake(t, x, gx); got != "0" {
		t.Errorf("handshake of %s at the end: %s", x, got)
	}
}

// TestGracefulShutdown sends SIGTERM while a poll is held: the poll gets a
// complete answer, the process exits 0 promptly, and the sessions survive.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := startGateway(t, data, "--poll-wait", "30s", "--heartbeat-timeout", keepTimeout.String(), "--log-level", "debug") // with the request lines
	const id = "1001"
	g, _ := p.signIn(t, id, "")
	p.drain(t, id, g, evInService, evReady)

	type result struct {
		r   response
		err error
	}
	done := make(chan result, 1)
	written := make(chan struct{})
	var once sync.Once
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { once.Do(func() { close(written) }) },
		})
		c := p.newClient(&http.Transport{DisableKeepAlives: true})
		r, err := send(ctx, c, http.MethodGet, p.url("agentevent/"+id), g, "")
		done <- result{r, err}
	}()
	select {
	case <-written:
	case res := <-done:
		t.Fatalf("poll failed before it was sent: %v", res.err)
	case <-time.After(30 * time.Second):
		t.Fatal("poll not sent within 30s")
	}
	// Written is not yet read: wait until the gateway counts the third poll
	// (two drained the queue), which it does as the poll starts.
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if n := metricValue(t, p, "ccgw_polls_total"); n < 3 {
			return fmt.Errorf("ccgw_polls_total %v, want 3", n)
		}
		return nil
	})
	// Nothing is queued, so the gateway holds the poll for its 30s: an answer
	// within this window would be a failure. The log checks below prove the poll
	// was inside the handler when SIGTERM arrived.
	const hold = 300 * time.Millisecond
	select {
	case res := <-done:
		t.Fatalf("poll with nothing queued answered at once: %v %s", res.err, res.r.body)
	case <-time.After(hold):
	}

	if code := p.terminate(time.Minute); code != 0 { // it takes milliseconds; the bound is a guard
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("held poll not answered after the process exited")
	}
	if res.err != nil {
		t.Fatalf("held poll: %v", res.err)
	}
	if res.r.status != http.StatusOK || res.r.err != nil || res.r.env.Retcode != "0" || res.r.env.Event != nil {
		t.Fatalf("held poll answered HTTP %d %q, want a complete empty poll", res.r.status, res.r.body)
	}
	if want := `{"message":"","retcode":"0"}`; string(res.r.body) != want {
		t.Errorf("held poll body %s, want %s", res.r.body, want)
	}
	polls := p.log.find("msg", "request", "method", "getAgentEvent", "agent", id)
	if len(polls) != 3 {
		t.Fatalf("want 3 poll lines, got %d", len(polls))
	}
	took, err := time.ParseDuration(polls[2].attr["took"])
	if err != nil || took < hold-50*time.Millisecond {
		t.Errorf("held poll took=%q in the log, want at least %v (held until SIGTERM)", polls[2].attr["took"], hold)
	}
	down := p.log.find("msg", "shutting down")
	if len(down) != 1 {
		t.Fatalf("want one shutting down line, got %d", len(down))
	}
	if start := polls[2].time().Add(-took); !start.Before(down[0].time()) {
		t.Errorf("held poll started at %v, not before shutdown at %v", start, down[0].time())
	}
	for _, l := range p.log.all() {
		if lv := l.attr["level"]; lv == "ERROR" || lv == "WARN" {
			t.Errorf("unexpected log line: %s", l.raw)
		}
	}

	p2 := startGateway(t, data, "--heartbeat-timeout", keepTimeout.String())
	if p2.restored != 1 {
		t.Errorf("restored=%d after a clean shutdown, want 1", p2.restored)
	}
	if code, st := p2.status(t, id, g); code != "0" || st != int(ccgw.StateIdle) {
		t.Errorf("status after restart: retcode %s state %d", code, st)
	}
	if got := p2.handshake(t, id, g); got != "0" {
		t.Errorf("handshake after restart: %s", got)
	}
}

var fingerprintRE = regexp.MustCompile(`^[0-9A-F]{2}(:[0-9A-F]{2}){31}$`)

// TestHTTPSSelfSigned runs without --plaintext: the gateway generates a
// certificate into its data dir, logs its SHA-256, serves it, and reuses it after
// a restart.
func TestHTTPSSelfSigned(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	p := startHTTPS(t, data)
	if p.scheme != "https" || !fingerprintRE.MatchString(p.certSHA) {
		t.Fatalf("listening line: %s", p.listening.raw)
	}

	// What the server presents is what it logged (p.client pins the same way).
	conn, err := tls.Dial("tcp", p.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	cs := conn.ConnectionState()
	conn.Close()
	if got := fingerprint(cs.PeerCertificates[0].Raw); got != p.certSHA {
		t.Fatalf("served certificate SHA-256 %s, logged %s", got, p.certSHA)
	}
	if cs.Version < tls.VersionTLS12 {
		t.Errorf("TLS version %x, want 1.2 or later", cs.Version)
	}

	g, _ := p.signIn(t, "1001", "")
	if got := p.handshake(t, "1001", g); got != "0" {
		t.Errorf("handshake over HTTPS: %s", got)
	}
	// The pin is really checked: a client expecting another fingerprint fails.
	wrong := &http.Client{Transport: &http.Transport{TLSClientConfig: pinned(strings.Repeat("00:", 31) + "00")}, Timeout: 5 * time.Second}
	if _, err := send(context.Background(), wrong, http.MethodGet, p.url("onlineagent/1001/agentstatus"), g, ""); err == nil {
		t.Error("client pinned to another fingerprint connected")
	}
	// Plain HTTP on the HTTPS port gets nothing from the API.
	if r, err := send(context.Background(), &http.Client{Timeout: 5 * time.Second}, http.MethodGet, "http://"+p.addr+"/agentgateway/resource/onlineagent/1001/agentstatus", g, ""); err == nil && r.env.Retcode == "0" {
		t.Error("plain HTTP served on the HTTPS port")
	}

	if code := p.terminate(10 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	p2 := startHTTPS(t, data)
	if p2.certSHA != p.certSHA {
		t.Errorf("restart serves a new certificate: %s, was %s", p2.certSHA, p.certSHA)
	}
	if p2.restored != 1 {
		t.Errorf("restored=%d, want 1", p2.restored)
	}
	if got := p2.handshake(t, "1001", g); got != "0" {
		t.Errorf("handshake over HTTPS after restart: %s", got)
	}
	g2, _ := p2.signIn(t, "1002", "")
	if got := p2.handshake(t, "1002", g2); got != "0" {
		t.Errorf("handshake of a new sign-in after restart: %s", got)
	}
}

// TestBadRequestsNeverLeak sends malformed requests; each must be answered with
// the JSON envelope and a known retcode with its table message, never a Go error
// or HTML. Then a burst of concurrent sign-ins and heartbeats over a few keep-alive
// connections must all succeed.
func TestBadRequestsNeverLeak(t *testing.T) { onEveryStore(t, testBadRequestsNeverLeak) }

func testBadRequestsNeverLeak(t *testing.T, store string) {
	// A long timeout: on a loaded machine the burst's heartbeats may queue for more than 2s.
	p := startGatewayOn(t, store, "--heartbeat-timeout", "1m")
	const id = "1001"
	g, _ := p.signIn(t, id, "")
	huge := `{"password":"p","phonenum":"70001","ip":"` + strings.Repeat("1", 70<<10) + `"}`

	const (
		put, get, post, del = http.MethodPut, http.MethodGet, http.MethodPost, http.MethodDelete
	)
	tests := []struct {
		name         string
		method, path string
		guid, body   string
		status       int
		code         ccgw.Retcode
	}{
		{"login truncated JSON", put, "onlineagent/1002", "", `{"password":`, 200, ccgw.RetLoginParam},
		{"login not an object", put, "onlineagent/1002", "", `[1,2]`, 200, ccgw.RetLoginParam},
		{"login not JSON", put, "onlineagent/1002", "", `password=p&phonenum=70001`, 200, ccgw.RetLoginParam},
		{"login trailing data", put, "onlineagent/1002", "", loginBody + `{}`, 200, ccgw.RetLoginParam},
		{"login wrong type", put, "onlineagent/1002", "", `{"password":"p","phonenum":"70001","status":"x"}`, 200, ccgw.RetLoginParam},
		{"login empty body", put, "onlineagent/1002", "", "", 200, ccgw.RetLoginParam},
		{"login body over 64KiB", put, "onlineagent/1002", "", huge, 413, ccgw.RetLoginParam}, // refused by its Content-Length
		{"login no password", put, "onlineagent/1002", "", `{"phonenum":"70001"}`, 200, ccgw.RetLoginParam},
		{"login bad phone", put, "onlineagent/1002", "", `{"password":"p","phonenum":"12ab"}`, 200, ccgw.RetBadPhone},
		{"login bad ip", put, "onlineagent/1002", "", `{"password":"p","phonenum":"70001","ip":"::1"}`, 200, ccgw.RetBadIP},
		{"login bad status", put, "onlineagent/1002", "", `{"password":"p","phonenum":"70001","status":9}`, 200, ccgw.RetLoginInvalidParam},
		{"login twice", put, "onlineagent/" + id, "", loginBody, 200, ccgw.RetAlreadySignedIn},
		{"login agent abc", put, "onlineagent/abc", "", loginBody, 200, ccgw.RetBadParam},
		{"login agent 1000000", put, "onlineagent/1000000", "", loginBody, 200, ccgw.RetBadParam},
		{"login agent 100", put, "onlineagent/100", "", loginBody, 200, ccgw.RetBadParam},
		{"handshake agent abc", post, "onlineagent/abc/handshake", g, "", 200, ccgw.RetBadParam},
		{"handshake agent 1000000", post, "onlineagent/1000000/handshake", g, "", 200, ccgw.RetBadParam},
		{"poll agent abc", get, "agentevent/abc", g, "", 200, ccgw.RetBadParam},
		{"poll agent -1", get, "agentevent/-1", g, "", 200, ccgw.RetBadParam},
		{"handshake wrong guid", post, "onlineagent/" + id + "/handshake", "nope", "", 200, ccgw.RetNoPermission},
		{"handshake no guid", post, "onlineagent/" + id + "/handshake", "", "", 200, ccgw.RetNoPermission},
		{"status wrong guid", get, "onlineagent/" + id + "/agentstatus", g + "x", "", 200, ccgw.RetNoPermission},
		{"poll wrong guid", get, "agentevent/" + id, "nope", "", 200, ccgw.RetNoPermission},
		{"logout wrong guid", del, "onlineagent/" + id + "/logout", "nope", "", 200, ccgw.RetNoPermission},
		{"handshake not signed in", post, "onlineagent/1005/handshake", g, "", 200, ccgw.RetNotSignedIn},
		{"logout not signed in", del, "onlineagent/1005/logout", g, "", 200, ccgw.RetNotSignedIn},
		{"bad sign-out reason", del, "onlineagent/" + id + "/forcelogoutwithreason/abc", g, "", 200, ccgw.RetLogoutParam},
		{"GET on login", get, "onlineagent/" + id, g, "", 405, ccgw.RetBadParam},
		{"DELETE on handshake", del, "onlineagent/" + id + "/handshake", g, "", 405, ccgw.RetBadParam},
		{"POST on poll", post, "agentevent/" + id, g, "", 405, ccgw.RetBadParam},
		{"PATCH on logout", http.MethodPatch, "onlineagent/" + id + "/logout", g, "", 405, ccgw.RetBadParam},
		{"unknown resource", get, "nothing/" + id, g, "", 404, ccgw.RetBadParam},
		{"unknown verb", post, "onlineagent/" + id + "/nothing", g, "", 404, ccgw.RetBadParam},
		{"extra segment", post, "onlineagent/" + id + "/handshake/x", g, "", 404, ccgw.RetBadParam},
		// Doubled slashes are served as one: "onlineagent/handshake" has the
		// agent ID "handshake", and only PUT (login) has that shape.
		{"empty segment", post, "onlineagent//handshake", g, "", 405, ccgw.RetBadParam},
		{"prefix only", get, "/agentgateway/resource/", "", "", 404, ccgw.RetBadParam},
		{"outside prefix", get, "/index.html", "", "", 404, ccgw.RetBadParam},
		{"root", get, "/", "", "", 404, ccgw.RetBadParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, p.client, tt.method, p.url(tt.path), tt.guid, tt.body)
			checkEnvelope(t, r)
			if r.status != tt.status || r.env.Retcode != string(tt.code) {
				t.Errorf("HTTP %d retcode %s, want %d %s; body %s", r.status, r.env.Retcode, tt.status, tt.code, r.body)
			}
			if r.status == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// None of that harmed the session.
	if got := p.handshake(t, id, g); got != "0" {
		t.Fatalf("handshake after the bad requests: %s", got)
	}

	// A burst: 200 agents sign in and heartbeat at once over at most 16 connections.
	const agents, beats, conns = 200, 3, 16
	var dials dialCounter
	burst := p.newClient(&http.Transport{MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns, DialContext: dials.dial})
	defer burst.CloseIdleConnections()
	errs := make(chan error, agents)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < agents; i++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			errs <- signInAndBeat(burst, p, id, beats)
		}(strconv.Itoa(2001 + i))
	}
	wg.Wait()
	close(errs)
	t.Logf("%d sign-ins and %d heartbeats in %v over %d connections", agents, agents*beats, time.Since(start).Round(time.Millisecond), dials.count())
	n := 0
	for err := range errs {
		if err != nil {
			if n++; n <= 5 {
				t.Error(err)
			}
		}
	}
	if n > 0 {
		t.Errorf("%d of %d agents failed", n, agents)
	}
	if d := dials.count(); d > conns {
		t.Errorf("%d connections for %d requests, want at most %d (keep-alive)", d, agents*(beats+1), conns)
	}
	for _, l := range p.log.all() {
		if l.attr["msg"] == "client finding" {
			continue // the workbench's report of these very requests (docs/client-report.md)
		}
		if lv := l.attr["level"]; lv == "ERROR" || lv == "WARN" || strings.Contains(l.raw, "panic") {
			t.Errorf("unexpected log line: %s", l.raw)
		}
	}
}

// checkEnvelope fails t unless r is exactly the gateway's JSON envelope with a
// known retcode and that retcode's message.
func checkEnvelope(t *testing.T, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &fields); err != nil {
		t.Fatalf("body is not a JSON object: %q", r.body)
	}
	for k := range fields {
		if k != "message" && k != "retcode" && k != "result" {
			t.Errorf("unexpected field %q in %s", k, r.body)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	var env struct {
		Message string          `json:"message"`
		Retcode ccgw.Retcode    `json:"retcode"`
		Result  json.RawMessage `json:"result"`
	}
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if !env.Retcode.Known() {
		t.Errorf("retcode %q is not a spec retcode", env.Retcode)
	}
	if env.Message != env.Retcode.Message() {
		t.Errorf("message %q, want the table's %q", env.Message, env.Retcode.Message())
	}
	if env.Retcode != ccgw.RetOK && len(env.Result) > 0 {
		t.Errorf("failure with a result: %s", r.body)
	}
}

// signInAndBeat signs agent id in on c and sends n heartbeats.
func signInAndBeat(c *http.Client, p *proc, id string, n int) error {
	ctx := context.Background()
	r, err := send(ctx, c, http.MethodPut, p.url("onlineagent/"+id), "", loginBody)
	if err != nil {
		return fmt.Errorf("sign in %s: %w", id, err)
	}
	guid, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
	if r.status != http.StatusOK || r.env.Retcode != "0" || !ok {
		return fmt.Errorf("sign in %s: HTTP %d %s", id, r.status, r.body)
	}
	for i := 0; i < n; i++ {
		r, err := send(ctx, c, http.MethodPost, p.url("onlineagent/"+id+"/handshake"), guid, "")
		if err != nil {
			return fmt.Errorf("handshake %s: %w", id, err)
		}
		if r.status != http.StatusOK || r.env.Retcode != "0" {
			return fmt.Errorf("handshake %s: HTTP %d %s", id, r.status, r.body)
		}
	}
	return nil
}
