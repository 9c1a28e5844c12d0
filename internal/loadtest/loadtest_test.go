package loadtest

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/api"
	"github.com/ccgw/ccgw/internal/metrics"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// testGateway starts the real api, session manager and bolt store (in
// tb.TempDir()) behind a loopback httptest server, with /metrics on a second one
// (the admin listener), and returns their URLs. auth picks static or dynamic
// (rotating) GUIDs; token, if set, is the admin bearer token. Cleanup closes
// the servers, stops the sweeper and closes the store.
func testGateway(tb testing.TB, auth ccgw.AuthMode) (url, metricsURL string) {
	tb.Helper()
	url, metricsURL, _ = testGatewayRecording(tb, auth, "")
	return url, metricsURL
}

func testGatewayToken(tb testing.TB, auth ccgw.AuthMode, token string) (url, metricsURL string) {
	tb.Helper()
	url, metricsURL, _ = testGatewayRecording(tb, auth, token)
	return url, metricsURL
}

// setGUIDs records the GUIDs a gateway handed out in Set-GUID, by agent.
type setGUIDs struct {
	mu    sync.Mutex          // guards seen
	seen  map[string][]string // agent → each new GUID, in order
	inner http.Handler
}

func (g *setGUIDs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inner.ServeHTTP(w, r)
	vs := w.Header()["Set-GUID"]                    // sent as spelled, not canonical
	if len(vs) == 0 || r.Method == http.MethodPut { // a sign-in's GUID is no rotation
		return
	}
	v := vs[0]
	agent := path.Base(strings.TrimSuffix(r.URL.Path, "/handshake")) // …/onlineagent/101/handshake, …/agentevent/101
	g.mu.Lock()
	defer g.mu.Unlock()
	if l := g.seen[agent]; len(l) == 0 || l[len(l)-1] != v {
		g.seen[agent] = append(l, v)
	}
}

// maxRotations returns the most distinct GUIDs one agent was handed in a row.
func (g *setGUIDs) maxRotations() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, l := range g.seen {
		n = max(n, len(l))
	}
	return n
}

// testGatewayRecording is testGatewayToken that also records the Set-GUID
// headers of handShake and poll answers.
func testGatewayRecording(tb testing.TB, auth ccgw.AuthMode, token string) (url, metricsURL string, guids *setGUIDs) {
	tb.Helper()
	st, err := bolt.Open(tb.TempDir())
	if err != nil {
		tb.Fatalf("bolt.Open: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	dir := agent.Default()
	// Dynamic GUIDs rotate faster than the 200ms heartbeat interval of the tests.
	// Only a request with the current GUID rotates it, so a run that kept the GUID
	// it signed in with would be handed one new GUID per agent, never a second
	// (TestRunAgainstGateway counts them).
	//
	// Sessions time out after a minute, and a superseded GUID lasts as long: the
	// tool's heartbeats are 200ms apart only while it keeps up. On a loaded
	// machine it falls behind, and then an agent's turn comes once per pass over
	// all agents: four copies of the dynamic+poll run side by side (load 10) left
	// up to 5.3s between two heartbeats of one agent, and 4.5s between a
	// sign-in and its first heartbeat (sign-ins, and the polls that take the
	// sign-in's events, write to bbolt, and they share the 64 connections with
	// the heartbeats). The 10s these were before left less than twice that, and
	// a heavier load (a full -race suite runs at 16) can go past it: the run
	// then counts false sign-outs and timeout sign-outs.
	sm, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory:    dir,
			AuthMode:     auth,
			Timeout:      time.Minute,
			GUIDInterval: 150 * time.Millisecond,
			GUIDTimeout:  time.Minute,
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		tb.Fatalf("session.New: %v", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	met, err := metrics.New(reg, metrics.Sources{Sessions: sm.Stats})
	if err != nil {
		tb.Fatalf("metrics.New: %v", err)
	}
	h := api.New(api.Config{
		Sessions:   sm,
		Directory:  dir,
		PollWait:   20 * time.Millisecond,
		Ready:      st.Ready,
		Metrics:    metrics.Handler(reg),
		AdminToken: token,
		Observe:    met.ObserveRequest,
	})
	guids = &setGUIDs{seen: map[string][]string{}, inner: h}
	srv := httptest.NewServer(guids)
	adm := httptest.NewServer(h.AdminHandler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sm.Run(ctx)
	}()
	tb.Cleanup(func() {
		srv.Close()
		adm.Close()
		cancel()
		<-done
	})
	return srv.URL, adm.URL, guids
}

// checkClean fails tb unless every agent signed in, every request was answered
// "0" (a login may be answered 100-002: forceLogin follows), nobody was falsely signed out and the figures are in order.
func checkClean(tb testing.TB, rep Report) {
	tb.Helper()
	if rep.SignedIn != rep.Agents {
		tb.Errorf("signed in %d of %d", rep.SignedIn, rep.Agents)
	}
	if rep.FalseSignOuts != 0 {
		tb.Errorf("false sign-outs: %d", rep.FalseSignOuts)
	}
	if rep.Errors != 0 {
		tb.Errorf("%d transport errors, first: %s", rep.Errors, rep.FirstError)
	}
	for op, m := range rep.Retcodes {
		for code, n := range m {
			if code != "0" && !(op == opLogin && code == "100-002") { // forceLogin follows
				tb.Errorf("%s answered %s %d times", op, code, n)
			}
		}
	}
	if rep.RPS <= 0 || rep.Requests <= 0 {
		tb.Errorf("throughput %.1f requests/s (%d requests)", rep.RPS, rep.Requests)
	}
	l := rep.HandShake
	if l.N == 0 || !(l.P50 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) || l.P50 <= 0 {
		tb.Errorf("handShake latency out of order: %+v", l)
	}
	if !rep.OK() {
		tb.Errorf("report not OK")
	}
}

func TestRunAgainstGateway(t *testing.T) {
	for _, tc := range []struct {
		name  string
		auth  ccgw.AuthMode
		poll  bool
		conns int
	}{
		{"static", ccgw.AuthStatic, false, 16},
		// Polls are held for the gateway's 20ms poll wait: 200 agents × 5 a second
		// keep 20 connections busy.
		{"dynamic+poll", ccgw.AuthDynamic, true, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, murl, guids := testGatewayRecording(t, tc.auth, "")
			var progress bytes.Buffer
			out := filepath.Join(t.TempDir(), "plot.html")
			rep, err := Run(context.Background(), Config{
				URL:        url,
				MetricsURL: murl,
				Agents:     200,
				Interval:   200 * time.Millisecond,
				Duration:   2 * time.Second, // long enough for a loaded machine to measure something
				Conns:      tc.conns,
				Poll:       tc.poll,
				Out:        out,
				Progress:   &progress,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkClean(t, rep)
			// 200 agents every 200ms for 2s: about 2000 heartbeats (and as many
			// polls) on an idle machine. A loaded machine sends fewer, as few as
			// a handful (the tool falls behind its schedule and says so). Yet it
			// can also send more: the schedule counts from the start of sign-in,
			// and a tool that fell behind while signing in (4.8–6.1s under four
			// runs side by side) hands every slot it missed over at once, so a
			// window that finds the machine idle again catches up inside it.
			// What it never does is send more than one heartbeat (and poll) per
			// agent per slot due before the window ended, counted from the
			// start of sign-in (SignInTime before the window), plus one slot of
			// rounding and one of the time between sign-in's end and the window.
			perSlot := int64(1)
			if tc.poll {
				perSlot = 2
			}
			slots := int64((rep.SignInTime+rep.Elapsed)/(200*time.Millisecond)) + 2
			if most := perSlot * 200 * slots; rep.Requests < 1 || rep.Requests > most {
				t.Errorf("%d keep-alive requests in the window, want 1 to %d (%d slots per agent due by its end; about %d on an idle machine)",
					rep.Requests, most, slots, perSlot*2000)
			}
			if got := rep.Retcodes[opLogout]["0"]; got != 200 {
				t.Errorf("signed out %d agents, want 200", got)
			}
			if tc.poll && rep.Poll.N == 0 {
				t.Errorf("no polls measured")
			}
			// The tool follows Set-GUID: some agent was handed a second new GUID,
			// which only a request with the first one can bring about.
			if n := guids.maxRotations(); tc.auth == ccgw.AuthDynamic && n < 2 {
				t.Errorf("at most %d new GUIDs handed to one agent, want 2 or more (does the tool follow Set-GUID?)", n)
			}
			if rep.RSS <= 0 || rep.SessionsLive != 200 || rep.TimeoutSignOuts != 0 {
				t.Errorf("gateway figures: RSS %d, live %d, timeout sign-outs %d", rep.RSS, rep.SessionsLive, rep.TimeoutSignOuts)
			}
			if len(rep.Series) == 0 {
				t.Errorf("no per-second series")
			}
			if !strings.Contains(progress.String(), "\r") || !strings.HasSuffix(progress.String(), "\n") {
				t.Errorf("progress output %q", progress.String())
			}
			page, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"<svg", "<polyline", "false sign-outs:"} {
				if !bytes.Contains(page, []byte(want)) {
					t.Errorf("plot page lacks %q", want)
				}
			}
			if bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("http://"+"cdn")) {
				t.Errorf("plot page is not self-contained")
			}
			var text strings.Builder
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			t.Logf("\n%s", text.String())
		})
	}
}

func TestRunSignsInOverExistingSessions(t *testing.T) {
	url, murl := testGateway(t, ccgw.AuthStatic)
	cfg := Config{URL: url, MetricsURL: murl, Agents: 20, Interval: 100 * time.Millisecond, Duration: 300 * time.Millisecond, Conns: 4}
	// Sign agent 101 in by hand and leave it, as a bench run killed midway would.
	req, _ := http.NewRequest(http.MethodPut, url+Prefix+"onlineagent/101", strings.NewReader(`{"password":"x","phonenum":"7"}`))
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkClean(t, rep)
	if got := rep.Retcodes[opForceLogin]["0"]; got != 1 {
		t.Errorf("forceLogin answered 0 %d times, want 1 (retcodes %v)", got, rep.Retcodes)
	}
}

func TestRunCountsFalseSignOuts(t *testing.T) {
	// A gateway that forgets agent 103 after its first heartbeat.
	var beats [2]int
	mux := http.NewServeMux()
	mux.HandleFunc("PUT "+Prefix+"onlineagent/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Set-GUID"] = []string{"JSESSIONID=g" + r.PathValue("id")}
		w.Write([]byte(`{"message":"","retcode":"0"}`))
	})
	var mu = make(chan struct{}, 1)
	mux.HandleFunc("POST "+Prefix+"onlineagent/{id}/handshake", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "103" {
			mu <- struct{}{}
			beats[0]++
			n := beats[0]
			<-mu
			if n > 1 {
				w.Write([]byte(`{"message":"not signed in","retcode":"100-006"}`))
				return
			}
		}
		w.Write([]byte(`{"message":"success","retcode":"0"}`))
	})
	mux.HandleFunc("DELETE "+Prefix+"onlineagent/{id}/logout", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"message":"success","retcode":"0"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	rep, err := Run(context.Background(), Config{URL: srv.URL, Agents: 5, Interval: 50 * time.Millisecond, Duration: 300 * time.Millisecond, Conns: 2})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if rep.FalseSignOuts != 1 {
		t.Errorf("false sign-outs %d, want 1 (agent 103, once: it is no longer kept alive)", rep.FalseSignOuts)
	}
	if got := rep.Retcodes[opLogout]["0"]; got != 4 {
		t.Errorf("signed out %d agents, want the 4 still alive", got)
	}
	if rep.RSS != -1 || rep.TimeoutSignOuts != -1 {
		t.Errorf("no /metrics, yet RSS %d, timeout sign-outs %d", rep.RSS, rep.TimeoutSignOuts)
	}
	if rep.OK() {
		t.Errorf("report OK despite a false sign-out")
	}
}

func TestRunBaseline(t *testing.T) {
	url, murl := testGateway(t, ccgw.AuthDynamic)
	rep, err := Run(context.Background(), Config{
		URL: url, MetricsURL: murl, Agents: 100, Interval: 200 * time.Millisecond, Duration: 600 * time.Millisecond, Conns: 8, Baseline: true,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkClean(t, rep)
	if rep.Baseline == nil {
		t.Fatal("no baseline report")
	}
	checkClean(t, *rep.Baseline)
	if !strings.HasPrefix(rep.Baseline.URL, "http://127.0.0.1:") {
		t.Errorf("baseline URL %q", rep.Baseline.URL)
	}
	if rep.Baseline.Where != "in the bench process" || rep.Baseline.RSS != -1 {
		t.Errorf("in-process baseline: where %q, RSS %d (the bench's own: not reported)", rep.Baseline.Where, rep.Baseline.RSS)
	}
	var text strings.Builder
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "ccgw/baseline:") || !strings.Contains(text.String(), "bare net/http in the bench process at ") {
		t.Errorf("report without ratios:\n%s", text.String())
	}
}

// fakeStarter is a Config.StartBaseline that starts a BareServer (with /metrics)
// in the test and records how it was used.
type fakeStarter struct {
	t       *testing.T
	tls     []bool // per start
	stops   int
	stopErr error
	srv     *BareServer
}

func (f *fakeStarter) start(ctx context.Context, tls bool) (BaselineServer, error) {
	f.tls = append(f.tls, tls)
	if ctx == nil {
		f.t.Error("StartBaseline without a context")
	}
	b, err := StartBare(BareConfig{TLS: tls, RSS: true})
	if err != nil {
		return BaselineServer{}, err
	}
	f.srv = b
	f.t.Cleanup(func() { b.Close() })
	return BaselineServer{URL: b.URL + "/", Where: "in a fake", Stop: func() error {
		f.stops++
		b.Close()
		return f.stopErr
	}}, nil
}

func TestRunBaselineStarter(t *testing.T) {
	t.Run("http", func(t *testing.T) {
		f := &fakeStarter{t: t}
		rep, err := Run(context.Background(), Config{
			URL: gwURL(t), Agents: 50, Interval: 100 * time.Millisecond,
			Duration: 300 * time.Millisecond, Conns: 4, Baseline: true, StartBaseline: f.start,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(f.tls) != 1 || f.tls[0] || f.stops != 1 {
			t.Fatalf("started %v (TLS per start), stopped %d times; want one plain start and one stop", f.tls, f.stops)
		}
		checkClean(t, rep)
		bl := rep.Baseline
		if bl == nil {
			t.Fatal("no baseline report")
		}
		checkClean(t, *bl)
		if bl.URL != f.srv.URL || bl.Where != "in a fake" {
			t.Errorf("baseline at %q %q, want the starter's %q", bl.URL, bl.Where, f.srv.URL)
		}
		if bl.RSS <= 0 {
			t.Errorf("baseline RSS %d, want the server's /metrics figure", bl.RSS)
		}
		var text strings.Builder
		rep.WriteText(&text)
		if !regexp.MustCompile(`(?m)^baseline: +bare net/http in a fake at http://127\.0\.0\.1:\d+: [0-9.]+ requests/s, .*, 0 false sign-outs, RSS [0-9.]+ MiB$`).MatchString(text.String()) {
			t.Errorf("report's baseline line:\n%s", text.String())
		}
	})
	t.Run("https", func(t *testing.T) {
		// A bare server over TLS stands in for the gateway: the starter is asked for TLS too.
		gw, err := StartBare(BareConfig{TLS: true})
		if err != nil {
			t.Fatal(err)
		}
		defer gw.Close()
		f := &fakeStarter{t: t}
		rep, err := Run(context.Background(), Config{
			URL: gw.URL, Insecure: true, Agents: 20, Interval: 100 * time.Millisecond,
			Duration: 200 * time.Millisecond, Conns: 2, Baseline: true, StartBaseline: f.start,
		})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(f.tls) != 1 || !f.tls[0] || f.stops != 1 {
			t.Fatalf("started %v (TLS per start), stopped %d times; want one TLS start and one stop", f.tls, f.stops)
		}
		if rep.Baseline == nil || !strings.HasPrefix(rep.Baseline.URL, "https://") {
			t.Fatalf("baseline %+v", rep.Baseline)
		}
		checkClean(t, *rep.Baseline)
	})
	t.Run("start fails", func(t *testing.T) {
		start := func(context.Context, bool) (BaselineServer, error) { return BaselineServer{}, errors.New("no fork") }
		rep, err := Run(context.Background(), Config{
			URL: gwURL(t), Agents: 5, Interval: 50 * time.Millisecond,
			Duration: 100 * time.Millisecond, Conns: 2, Baseline: true, StartBaseline: start,
		})
		if err == nil || !strings.Contains(err.Error(), "baseline: no fork") {
			t.Errorf("Run: %v, want the starter's error", err)
		}
		if rep.SignedIn != 5 || rep.Baseline != nil {
			t.Errorf("report: %d signed in, baseline %v; want the gateway's run alone", rep.SignedIn, rep.Baseline)
		}
	})
	t.Run("stop fails", func(t *testing.T) {
		f := &fakeStarter{t: t, stopErr: errors.New("exit status 66")}
		_, err := Run(context.Background(), Config{
			URL: gwURL(t), Agents: 5, Interval: 50 * time.Millisecond,
			Duration: 100 * time.Millisecond, Conns: 2, Baseline: true, StartBaseline: f.start,
		})
		if err == nil || !strings.Contains(err.Error(), "exit status 66") || f.stops != 1 {
			t.Errorf("Run: %v after %d stops, want the stop's error after one", err, f.stops)
		}
	})
}

func TestVmRSS(t *testing.T) {
	for _, tc := range []struct {
		status string
		rss    int64
		ok     bool
	}{
		{"Name:\tccgw\nVmHWM:\t   20000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t 1 kB\n", 12345 << 10, true},
		{"VmRSS: 0 kB", 0, true},
		{"Name:\tkthreadd\n", 0, false}, // kernel threads have none
		{"VmRSS:\t12 MB\n", 0, false},
		{"VmRSS:\tx kB\n", 0, false},
		{"", 0, false},
	} {
		rss, ok := vmRSS([]byte(tc.status))
		if rss != tc.rss || ok != tc.ok {
			t.Errorf("vmRSS(%q) = %d, %v; want %d, %v", tc.status, rss, ok, tc.rss, tc.ok)
		}
	}
}

func TestRunNoGateway(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, err := Run(context.Background(), Config{URL: url, Agents: 3, Interval: 50 * time.Millisecond, Conns: 2})
	if err == nil || !strings.Contains(err.Error(), "no agent signed in") {
		t.Fatalf("Run against nothing: %v", err)
	}
}

// cancelOnWrite cancels its context at the first write that contains a string:
// a progress writer that stops the run at a known point.
type cancelOnWrite struct {
	mu     sync.Mutex
	s      string
	cancel context.CancelFunc
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte(c.s)) {
		c.cancel()
	}
	return len(p), nil
}

func TestRunStopsWithContext(t *testing.T) {
	url, _ := testGateway(t, ccgw.AuthStatic)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The progress bar's first line of the measured window ("[---…] 0%") stops it.
	stopper := &cancelOnWrite{s: "%", cancel: cancel}
	start := time.Now()
	// Ten minutes to run, stopped at once: even a loaded machine stops it in
	// far less (a bound on the work, not on the machine's speed).
	rep, err := Run(ctx, Config{URL: url, Agents: 50, Interval: 100 * time.Millisecond, Duration: 10 * time.Minute, Conns: 4, Progress: stopper})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Minute {
		t.Errorf("Run took %v to stop a ten-minute run", took)
	}
	if rep.SignedIn != 50 || rep.FalseSignOuts != 0 || rep.Errors != 0 {
		t.Errorf("stopping: %d signed in, %d false sign-outs, %d errors (%s)", rep.SignedIn, rep.FalseSignOuts, rep.Errors, rep.FirstError)
	}
	if got := rep.Retcodes[opLogout]["0"]; got != 50 {
		t.Errorf("signed out %d agents after cancel, want 50", got)
	}
}

func TestParseSample(t *testing.T) {
	for _, tc := range []struct {
		line, key string
		v         float64
		ok        bool
	}{
		{"process_resident_memory_bytes 1.2345e+07", "process_resident_memory_bytes", 12345000, true},
		{`ccgw_signouts_total{cause="timeout"} 3`, `ccgw_signouts_total{cause="timeout"}`, 3, true},
		{`x{a="b c"} 2 1700000000000`, `x{a="b c"}`, 2, true},
		{"# HELP x y", "", 0, false},
		{"", "", 0, false},
		{"x", "", 0, false},
		{"x notanumber", "", 0, false},
	} {
		key, v, ok := parseSample(tc.line)
		if key != tc.key || v != tc.v || ok != tc.ok {
			t.Errorf("parseSample(%q) = %q, %v, %v; want %q, %v, %v", tc.line, key, v, ok, tc.key, tc.v, tc.ok)
		}
	}
}

// gwURL starts a testGateway with static GUIDs and returns its API's URL alone.
func gwURL(tb testing.TB) string {
	tb.Helper()
	url, _ := testGateway(tb, ccgw.AuthStatic)
	return url
}

// TestRunReadsMetricsFromTheAdminListener: the gateway's figures come from
// MetricsURL (its admin listener), with MetricsToken as the bearer token; the
// API's URL serves no /metrics, and a wrong token reads none.
func TestRunReadsMetricsFromTheAdminListener(t *testing.T) {
	const token = "bench-admin-token"
	url, murl := testGatewayToken(t, ccgw.AuthStatic, token)
	run := func(metricsURL, tok string) Report {
		t.Helper()
		rep, err := Run(context.Background(), Config{URL: url, MetricsURL: metricsURL, MetricsToken: tok,
			Agents: 10, Interval: 50 * time.Millisecond, Duration: 150 * time.Millisecond, Conns: 2})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkClean(t, rep)
		return rep
	}
	if rep := run(murl, token); rep.RSS <= 0 || rep.TimeoutSignOuts != 0 {
		t.Errorf("with the admin URL and token: RSS %d, timeout sign-outs %d", rep.RSS, rep.TimeoutSignOuts)
	}
	for _, tc := range []struct{ metricsURL, token string }{{"", ""}, {murl, ""}, {murl, token + "x"}} {
		if rep := run(tc.metricsURL, tc.token); rep.RSS != -1 || rep.TimeoutSignOuts != -1 {
			t.Errorf("metrics URL %q token %q: RSS %d, timeout sign-outs %d; want none read", tc.metricsURL, tc.token, rep.RSS, rep.TimeoutSignOuts)
		}
	}
	if _, err := Run(context.Background(), Config{URL: url, MetricsURL: "127.0.0.1:1"}); err == nil {
		t.Error("MetricsURL without a scheme: no error")
	}
}
