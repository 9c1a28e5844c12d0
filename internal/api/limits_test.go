package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
)

// limitServer signs agents 101–110 in on a session manager with an in-memory
// store and returns a Server on cfg (Sessions and Directory filled in) and the
// agents' GUIDs by work number. drained takes their sign-in events first.
func limitServer(tb testing.TB, cfg Config, drained bool) (*Server, map[string]string) {
	tb.Helper()
	_, m, _ := benchGateway(tb, 10)
	cfg.Sessions, cfg.Directory = m, agent.Default()
	g := map[string]string{}
	for id := range 10 {
		s, _ := m.Lookup(context.Background(), ccgw.MinAgentID+ccgw.AgentID(id))
		g[s.Agent.String()] = s.GUID
		for range 10 { // bounded: a sign-in queues two events
			if ev, _, err := m.Poll(context.Background(), s.Agent, s.GUID, 0); !drained || err != nil || ev == nil {
				break
			}
		}
	}
	return New(cfg), g
}

// unreadable is a request body that fails the test if anything reads it.
type unreadable struct {
	tb   testing.TB
	read bool
}

func (u *unreadable) Read([]byte) (int, error) {
	u.read = true
	return 0, errors.New("the body of a refused request was read")
}

func (u *unreadable) Close() error { return nil }

// limitEnvelope decodes w's body, failing unless it is the envelope.
func limitEnvelope(tb testing.TB, w *httptest.ResponseRecorder) (retcode string) {
	tb.Helper()
	var env struct {
		Message *string `json:"message"`
		Retcode string  `json:"retcode"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Message == nil {
		tb.Fatalf("not an envelope: %q", w.Body.Bytes())
	}
	return env.Retcode
}

// TestBodyOverCapRefusedUnread sends requests that announce a 1 GiB body: each
// is answered 413 at once with the retcode its interface gives a malformed body
// (sign-ins 100-001, the rest 000-002) and Connection: close, and nothing reads
// the body.
func TestBodyOverCapRefusedUnread(t *testing.T) {
	s, g := limitServer(t, Config{PollWait: time.Millisecond, Admin: &Admin{Now: time.Now}}, false)
	for i, tc := range []struct {
		method, path, want string
	}{
		{http.MethodPut, "onlineagent/109", "100-001"},
		{http.MethodPut, "onlineagent/109/forcelogin", "100-001"},
		{http.MethodPut, "onlineagent/109/loginex", "100-001"},
		{http.MethodPost, "onlineagent/101/handshake", "000-002"},
		{http.MethodGet, "agentgroup/101/agentbyskill/1", "000-002"},
		{http.MethodPost, "onlineagent/101/modifyaccountpwdex", "000-002"},
		{http.MethodGet, "agentevent/101", "000-002"},
		{http.MethodPost, "/ccgw/v1/clock/advance", "000-002"}, // the admin handler's
	} {
		path := Prefix + tc.path
		if strings.HasPrefix(tc.path, "/") {
			path = tc.path
		}
		body := &unreadable{tb: t}
		r := httptest.NewRequest(tc.method, path, nil)
		r.Body, r.ContentLength = body, 1<<30
		r.Header.Set("Guid", g["101"])
		w := httptest.NewRecorder()
		h := http.Handler(s)
		if strings.HasPrefix(tc.path, AdminPrefix) {
			h = s.AdminHandler()
		}
		h.ServeHTTP(w, r)
		if w.Code != http.StatusRequestEntityTooLarge || limitEnvelope(t, w) != tc.want || w.Header().Get("Connection") != "close" {
			t.Errorf("%s %s: HTTP %d %s, Connection %q; want 413 %s, close",
				tc.method, tc.path, w.Code, w.Body.Bytes(), w.Header().Get("Connection"), tc.want)
		}
		if body.read {
			t.Errorf("%s %s: the body was read", tc.method, tc.path)
		}
		if got := s.Refused().Bodies; got != uint64(i+1) {
			t.Errorf("%s %s: %d bodies refused, want %d", tc.method, tc.path, got, i+1)
		}
	}
}

// TestBodyOverCapWhileRead sends bodies without a Content-Length (chunked):
// one over 64 KiB is refused when read, with 413 and the interface's retcode;
// one of exactly 64 KiB is read.
func TestBodyOverCapWhileRead(t *testing.T) {
	s, g := limitServer(t, Config{}, false)
	pad := func(n int) string { // a sign-in body of n bytes
		b := `{"password":"secret","phonenum":"70001","ip":"10.0.0.1"}`
		return b[:len(b)-1] + strings.Repeat(" ", n-len(b)) + "}"
	}
	for _, tc := range []struct {
		name, method, path, body, want string
		status                         int
	}{
		{"sign-in over", http.MethodPut, "onlineagent/109/forcelogin", pad(64<<10 + 1), "100-001", 413},
		{"sign-in at the cap", http.MethodPut, "onlineagent/109/forcelogin", pad(64 << 10), "0", 200},
		{"agentbyskill over", http.MethodGet, "agentgroup/101/agentbyskill/1", `{"agentLimit":1` + strings.Repeat(" ", 64<<10) + `}`, "000-002", 413},
	} {
		r := httptest.NewRequest(tc.method, Prefix+tc.path, io.MultiReader(strings.NewReader(tc.body)))
		r.ContentLength = -1
		r.Header.Set("Guid", g["101"])
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if w.Code != tc.status || limitEnvelope(t, w) != tc.want {
			t.Errorf("%s: HTTP %d %.100s, want %d %s", tc.name, w.Code, w.Body.Bytes(), tc.status, tc.want)
		}
	}
}

// waitFor calls f until it is true or 10 s have passed (a deadline for other
// goroutines, generous for a loaded machine; it returns as soon as f holds).
func waitFor(tb testing.TB, what string, f func() bool) {
	tb.Helper()
	for end := time.Now().Add(10 * time.Second); !f(); {
		if time.Now().After(end) {
			tb.Fatalf("after 10s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPollLimitPerIP holds two polls from one IP against a limit of two: a third
// from that IP is answered at once with 429, Retry-After: 1 and 000-007, one
// from another IP is held, and once the two end the first IP may poll again.
func TestPollLimitPerIP(t *testing.T) {
	s, g := limitServer(t, Config{PollWait: time.Hour, MaxPollsPerIP: 2}, true)
	ip1, ip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	hold := func(id string, ip netip.Addr) (cancel func(), w *httptest.ResponseRecorder) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, Prefix+"agentevent/"+id, nil)
		r.RemoteAddr = netip.AddrPortFrom(ip, 40000).String()
		r.Header.Set("Guid", g[id])
		w = httptest.NewRecorder()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.ServeHTTP(w, r)
		}()
		return cancel, w
	}
	c1, _ := hold("101", ip1)
	c2, _ := hold("102", ip1)
	waitFor(t, "two polls held", func() bool { return s.polls.Held(ip1) == 2 })

	r := httptest.NewRequest(http.MethodGet, Prefix+"agentevent/103", nil)
	r.RemoteAddr = netip.AddrPortFrom(ip1, 40001).String()
	r.Header.Set("Guid", g["103"])
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r) // answered at once: it returns
	if w.Code != http.StatusTooManyRequests || limitEnvelope(t, w) != "000-007" || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("third poll: HTTP %d %s, Retry-After %q; want 429 000-007, 1", w.Code, w.Body.Bytes(), w.Header().Get("Retry-After"))
	}
	if s.Refused().Polls != 1 {
		t.Fatalf("%d polls refused, want 1", s.Refused().Polls)
	}

	c4, _ := hold("104", ip2)
	waitFor(t, "a poll from another IP held", func() bool { return s.polls.Held(ip2) == 1 })
	c1()
	c2()
	waitFor(t, "the two polls ended", func() bool { return s.polls.Held(ip1) == 0 })
	c5, _ := hold("105", ip1)
	waitFor(t, "a new poll held", func() bool { return s.polls.Held(ip1) == 1 })
	c4()
	c5()
}

// TestPollOutlivesServerTimeouts runs the handler in an http.Server whose read
// and write timeouts (1 s) are shorter than the poll wait (2 s): the poll extends
// its connection's deadlines and answers the empty envelope after its wait, on
// a connection that then serves the next request.
func TestPollOutlivesServerTimeouts(t *testing.T) {
	s, g := limitServer(t, Config{PollWait: 2 * time.Second, WriteTimeout: time.Second}, true)
	srv := httptest.NewUnstartedServer(s)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = time.Second, time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	for _, path := range []string{"agentevent/101", "onlineagent/101/handshake"} {
		method := http.MethodGet
		if strings.HasSuffix(path, "handshake") {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, srv.URL+Prefix+path, nil)
		req.Header.Set("Guid", g["101"])
		start := time.Now()
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v (the server's timeouts cut it)", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"retcode":"0"`) {
			t.Fatalf("%s: HTTP %d %s (%v)", path, resp.StatusCode, b, err)
		}
		if path == "agentevent/101" && (string(b) != `{"message":"","retcode":"0"}` || time.Since(start) < 2*time.Second) {
			t.Fatalf("poll: %s after %v; want the empty envelope after its 2s wait", b, time.Since(start))
		}
	}
}
