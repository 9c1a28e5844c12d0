package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/wait"
)

// The vendor's configuration and push-failure rules on the real binary: a
// gateway started with a vendor basic.properties behaves as that file says.

// pushSink is a callback receiver on loopback that records each push's arrival
// time and answers as fail says.
type pushSink struct {
	srv       *httptest.Server
	fail      atomic.Bool  // answer HTTP 500
	failFirst atomic.Int64 // answer HTTP 500 to this many pushes more

	mu    sync.Mutex
	times []time.Time
	types []string // event types pushed, in order
}

func newPushSink(tb testing.TB, tlsSrv bool) *pushSink {
	tb.Helper()
	s := &pushSink{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		for _, part := range strings.Split(string(b), `"eventType":"`)[1:] {
			s.types = append(s.types, part[:strings.IndexByte(part, '"')])
		}
		s.mu.Unlock()
		if s.fail.Load() || s.failFirst.Add(-1) >= 0 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"message":"success","retcode":"0"}`)
	})
	if tlsSrv {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *pushSink) url() string { return s.srv.URL + "/cb/event" }

func (s *pushSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

func (s *pushSink) pushed(typ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.types {
		if t == typ {
			n++
		}
	}
	return n
}

// writeProps writes a basic.properties in the vendor's style and returns its path.
func writeProps(tb testing.TB, lines ...string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "basic.properties")
	body := "# agentgateway/WEB-INF/config/basic.properties\n" + strings.Join(lines, "\n") + "\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// startWithProps runs ccgw on props with no timing flags of its own, so that
// the file sets them.
func startWithProps(tb testing.TB, props string, extra ...string) *proc {
	tb.Helper()
	dir := tb.TempDir()
	return startArgs(tb, dir, append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--plaintext", "--data", dir,
		"--basic-properties", props}, extra...))
}

// startWithPropsOn is startWithProps on store (one of stores).
func startWithPropsOn(t *testing.T, store, props string, extra ...string) *proc {
	t.Helper()
	return startWithProps(t, props, append(extra, storeFlags(t, store)...)...)
}

func pushLogin(uri string) string {
	return `{"password":"secret","phonenum":"70001","callBackUri":"` + uri + `","serviceToken":"tok"}`
}

// TestBasicPropertiesTimeouts: MAXTIME signs a silent poll-mode agent out while
// a push-mode one (EVENT_PUSH_HANDSHAKE_MAXTIME, longer) stays; GUIDINTERVAL
// and AUTHMODE rotate the GUID on the heartbeat; AGENT_POLL_WAIT_FLAG=OFF
// answers an empty poll at once; unknown keys are logged and ignored.
func TestBasicPropertiesTimeouts(t *testing.T) { onEveryStore(t, testBasicPropertiesTimeouts) }

func testBasicPropertiesTimeouts(t *testing.T, store string) {
	sink := newPushSink(t, false)
	props := writeProps(t,
		"AUTHMODE = 2",
		"GUIDINTERVAL = 700  //GUID refresh period",
		"GUIDTIMEOUT = 60000",
		"TIMEOUT_FLAG = ON",
		"MAXTIME = 8000", // room for a loaded machine between the poll-mode agent's requests
		"EVENT_PUSH_HANDSHAKE_MAXTIME = 120000",
		"AGENT_POLL_WAIT_FLAG = OFF",
		"AGENT_POLL_WAIT_TIMES = 6000", // with the flag ignored, an empty poll would be held 10 minutes
		"EVENT_PUST_WHILTELIST_CALLBACKURI = "+sink.url(),
		"SOME_VENDOR_KEY = whatever",
	)
	p := startWithPropsOn(t, store, props)
	p.log.waitLine(t, 30*time.Second, "key", "SOME_VENDOR_KEY")

	gPoll, _ := p.signIn(t, "1001", "")
	gPush, _ := p.signIn(t, "1002", pushLogin(sink.url()))

	// An empty poll answers at once instead of being held (for 6000 × 100 ms
	// if the flag were ignored; the bound below leaves room for a loaded machine).
	p.drain(t, "1001", gPoll, evInService, evReady)
	start := time.Now()
	if env := p.poll(t, "1001", gPoll); env.Retcode != "0" || env.Event != nil {
		t.Fatalf("empty poll: %+v", env)
	}
	if took := time.Since(start); took > time.Minute {
		t.Errorf("empty poll held %v with AGENT_POLL_WAIT_FLAG = OFF", took)
	}

	// Dynamic GUIDs every 700 ms: a handshake after that brings Set-GUID.
	wait.For(t, 30*time.Second, 100*time.Millisecond, func() error {
		r := call(t, p.client, http.MethodPost, p.url("onlineagent/1002/handshake"), gPush, "")
		if r.env.Retcode != "0" {
			return fmt.Errorf("handshake %s", r.body)
		}
		if sg := r.header.Get("Set-GUID"); sg == "" {
			return fmt.Errorf("no Set-GUID yet")
		}
		return nil
	})

	// The poll-mode agent falls silent: out after MAXTIME; the push-mode one,
	// silent as long, is not.
	p.log.waitLine(t, 8*time.Second+sweepSlack+5*time.Second, "msg", "signed out", "agent", "1001", "cause", "timeout")
	if got := p.handshake(t, "1002", gPush); got != "0" {
		t.Fatalf("push-mode agent after the poll-mode timeout: %s, want 0 (EVENT_PUSH_HANDSHAKE_MAXTIME is 120 s)", got)
	}
}

// TestBasicPropertiesNoTimeout: TIMEOUT_FLAG = OFF keeps a silent agent signed
// in past MAXTIME.
func TestBasicPropertiesNoTimeout(t *testing.T) { onEveryStore(t, testBasicPropertiesNoTimeout) }

func testBasicPropertiesNoTimeout(t *testing.T, store string) {
	props := writeProps(t, "TIMEOUT_FLAG = OFF", "MAXTIME = 500", "AUTHMODE = 1")
	p := startWithPropsOn(t, store, props)
	g, _ := p.signIn(t, "1001", "")
	// Four timeouts of silence (the sweep runs every 10 ms): nobody signed out.
	holdsFor(t, 2*time.Second, 100*time.Millisecond, func() error {
		if n := len(p.log.find("msg", "signed out")); n != 0 {
			return fmt.Errorf("%d sign-outs with TIMEOUT_FLAG = OFF", n)
		}
		return nil
	})
	if got := p.handshake(t, "1001", g); got != "0" {
		t.Fatalf("handshake after 2 s of silence with TIMEOUT_FLAG = OFF: %s, want 0", got)
	}
}

// TestBasicPropertiesTrustlist: a sign-in whose callBackUri is not on
// EVENT_PUST_WHILTELIST_CALLBACKURI is refused with 100-001 and nothing is ever
// sent there; one on it is pushed to.
func TestBasicPropertiesTrustlist(t *testing.T) { onEveryStore(t, testBasicPropertiesTrustlist) }

func testBasicPropertiesTrustlist(t *testing.T, store string) {
	trusted, other := newPushSink(t, false), newPushSink(t, false)
	props := writeProps(t, "EVENT_PUST_WHILTELIST_CALLBACKURI = https://crm.example.com/cb; "+trusted.url())
	p := startWithPropsOn(t, store, props)
	r := call(t, p.client, http.MethodPut, p.url("onlineagent/1001"), "", pushLogin(other.url()))
	if r.env.Retcode != "100-001" {
		t.Fatalf("sign-in with an untrusted callBackUri: %s, want 100-001", r.body)
	}
	if r := call(t, p.client, http.MethodPut, p.url("onlineagent/1001"), "",
		`{"password":"secret","phonenum":"70001","pushUrl":"`+other.url()+`"}`); r.env.Retcode != "100-001" {
		t.Fatalf("sign-in with an untrusted pushUrl: %s, want 100-001", r.body)
	}
	p.signIn(t, "1002", pushLogin(trusted.url()+"?token=abc"))
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if trusted.pushed(evInService) != 1 {
			return fmt.Errorf("the trusted receiver has not got the sign-in events")
		}
		return nil
	})
	if n := other.count(); n != 0 {
		t.Fatalf("%d pushes reached the untrusted receiver", n)
	}
}

// TestPushFailureSignsOut: with EVENT_PUSH_FAIL_INTERVALTIME and
// EVENT_PUSH_FAIL_TOTALTIME set, a receiver that fails for less than the total
// and then recovers keeps its agent signed in with every event delivered; one
// that keeps failing gets retries about an interval apart and its agent is
// signed out (cause push_failed) exactly once, its ShutdownService attempted
// once.
func TestPushFailureSignsOut(t *testing.T) { onEveryStore(t, testPushFailureSignsOut) }

func testPushFailureSignsOut(t *testing.T, store string) {
	const interval, total = 400 * time.Millisecond, 2 * time.Second
	short, dead := newPushSink(t, false), newPushSink(t, false)
	props := writeProps(t,
		"AUTHMODE = 1",
		"EVENT_PUSH_FAIL_INTERVALTIME = 400",
		"EVENT_PUSH_FAIL_TOTALTIME = 2000",
		"EVENT_PUSH_HANDSHAKE_MAXTIME = 60000")
	p := startWithPropsOn(t, store, props)

	// The short outage: one failure, then the receiver is back. (The receiver
	// counts it itself: a test flipping it after two failures had 1.6s to do so,
	// which a loaded machine may not give it.)
	short.failFirst.Store(1)
	dead.fail.Store(true)
	gShort, _ := p.signIn(t, "1001", pushLogin(short.url()))
	gDead, _ := p.signIn(t, "1002", pushLogin(dead.url()))
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if short.pushed(evReady) == 0 || short.count() < 2 {
			return fmt.Errorf("not delivered yet")
		}
		return nil
	})

	// The dead receiver: its agent is signed out once the failures add up.
	out := p.log.waitLine(t, time.Minute, "msg", "signed out", "agent", "1002", "cause", "push_failed")
	if got := p.handshake(t, "1002", gDead); got != "100-006" {
		t.Fatalf("handshake after the push-failure sign-out: %s, want 100-006", got)
	}
	dead.mu.Lock()
	times := append([]time.Time(nil), dead.times...)
	dead.mu.Unlock()
	var failing []time.Time // attempts before the sign-out
	for _, at := range times {
		if at.Before(out.time()) {
			failing = append(failing, at)
		}
	}
	if n := len(failing); n < 2 || n > int(total/interval)+1 {
		t.Errorf("%d attempts before the sign-out, want about %d (every %v for %v)", n, total/interval+1, interval, total)
	}
	for i := 1; i < len(failing); i++ {
		if gap := failing[i].Sub(failing[i-1]); gap < interval-50*time.Millisecond {
			t.Errorf("retry %d came %v after the one before, want at least the interval %v", i, gap, interval)
		}
	}
	if span := out.time().Sub(failing[0]); span < total-100*time.Millisecond {
		t.Errorf("signed out %v after the first failure, want at least %v", span, total)
	}
	// The shutdown is attempted once; nothing comes after it.
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if dead.pushed(evShutdown) != 1 {
			return fmt.Errorf("no shutdown attempt yet")
		}
		return nil
	})
	n := dead.count()
	holdsFor(t, 3*interval, 50*time.Millisecond, func() error {
		if dead.count() != n {
			return fmt.Errorf("%d attempts after the shutdown's one", dead.count()-n)
		}
		return nil
	})
	if got := len(p.log.find("msg", "signed out", "agent", "1002")); got != 1 {
		t.Errorf("%d sign-out lines for 1002, want 1", got)
	}
	// The agent whose receiver came back is still signed in.
	if got := p.handshake(t, "1001", gShort); got != "0" {
		t.Fatalf("agent of the receiver that recovered: %s, want 0", got)
	}
}

// TestPushCA: eventpush.ssl.cert.file (--push-ca) makes a receiver whose
// certificate that CA signed trusted; without it, pushes to it fail.
func TestPushCA(t *testing.T) {
	t.Parallel()
	sink := newPushSink(t, true)
	ca := filepath.Join(t.TempDir(), "receiver-ca.pem")
	cert := sink.srv.Certificate()
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParseCertificate(cert.Raw); err != nil {
		t.Fatal(err)
	}
	with := startWithProps(t, writeProps(t, "eventpush.ssl.cert.file = "+ca, "AUTHMODE = 1"))
	with.signIn(t, "1001", pushLogin(sink.url()))
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		if sink.pushed(evInService) != 1 {
			return fmt.Errorf("not delivered over TLS with the receiver's CA")
		}
		return nil
	})

	without := startWithProps(t, writeProps(t, "AUTHMODE = 1", "EVENT_PUSH_FAIL_INTERVALTIME = 200"))
	without.signIn(t, "1002", pushLogin(sink.url()))
	wait.For(t, 30*time.Second, 50*time.Millisecond, func() error {
		r, err := without.client.Get(without.adminURL("/metrics"))
		if err != nil {
			return err
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(b), "\nccgw_push_failures_total ") || strings.Contains(string(b), "\nccgw_push_failures_total 0\n") {
			return fmt.Errorf("no failed push attempt counted yet")
		}
		return nil
	})
	if n := sink.count(); n != 1 {
		t.Fatalf("%d pushes reached the receiver, want only the trusting gateway's", n)
	}
}

// TestBasicPropertiesMoreKeys: the keys the other tests leave out —
// AGENT_POLL_WAIT_TIMES × AGENT_POLL_WAIT_INTERVAL hold an empty poll,
// GUIDTIMEOUT bounds how long a superseded GUID works, and
// eventpush.ssl.trustAll = true pushes to a receiver whose certificate nobody
// vouches for.
func TestBasicPropertiesMoreKeys(t *testing.T) { onEveryStore(t, testBasicPropertiesMoreKeys) }

func testBasicPropertiesMoreKeys(t *testing.T, store string) {
	sink := newPushSink(t, true) // self-signed: only trustAll lets pushes through
	p := startWithPropsOn(t, store, writeProps(t,
		"AGENT_POLL_WAIT_FLAG = ON",
		"AGENT_POLL_WAIT_TIMES = 6",
		"AGENT_POLL_WAIT_INTERVAL = 100",
		"AUTHMODE = 2",
		"GUIDINTERVAL = 300",
		"GUIDTIMEOUT = 1500",
		"eventpush.ssl.trustAll=true"))

	// 6 × 100 ms: an empty poll is held about 600 ms (not the default 10 s).
	g, _ := p.signIn(t, "1001", "")
	p.drain(t, "1001", g, evInService, evReady)
	start := time.Now()
	if env := p.poll(t, "1001", g); env.Retcode != "0" || env.Event != nil {
		t.Fatalf("empty poll: %+v", env)
	}
	if took := time.Since(start); took < 500*time.Millisecond || took > 8*time.Second {
		t.Errorf("empty poll held %v, want about 600ms (AGENT_POLL_WAIT_TIMES × AGENT_POLL_WAIT_INTERVAL)", took)
	}

	// The GUID rotates every 300 ms; the superseded one still works at once,
	// and is refused later (how much later: docs/decisions.md).
	var old string
	wait.For(t, 10*time.Second, 50*time.Millisecond, func() error {
		r := call(t, p.client, http.MethodPost, p.url("onlineagent/1001/handshake"), g, "")
		if next, ok := strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID="); ok && next != g {
			old, g = g, next
			return nil
		}
		return fmt.Errorf("no rotation yet")
	})
	superseded := time.Now()
	if got := p.handshake(t, "1001", old); got != "0" {
		t.Fatalf("superseded GUID at once: %s, want 0 (GUIDTIMEOUT 1.5 s)", got)
	}
	wait.For(t, 15*time.Second, 100*time.Millisecond, func() error {
		p.handshake(t, "1001", g) // keep the session alive with the new GUID
		if got := p.handshake(t, "1001", old); got != "000-003" {
			return fmt.Errorf("superseded GUID still %s", got)
		}
		return nil
	})
	t.Logf("superseded GUID refused %v after it was superseded (GUIDTIMEOUT 1.5 s, GUIDINTERVAL 300 ms)", time.Since(superseded))

	// trustAll: the self-signed receiver gets its pushes.
	p.signIn(t, "1002", pushLogin(sink.url()))
	wait.For(t, 10*time.Second, 20*time.Millisecond, func() error {
		if sink.pushed(evInService) != 1 {
			return fmt.Errorf("not delivered to the self-signed receiver with trustAll")
		}
		return nil
	})
}
