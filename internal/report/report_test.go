package report

import (
	"bytes"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

var tStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

const (
	ok        = ccgw.RetOK
	noPerm    = ccgw.RetNoPermission
	notSigned = ccgw.RetNotSignedIn
)

// tClient scripts one agent's client on a fake timeline: each request starts at
// now and takes its time, and now moves to its end.
type tClient struct {
	tb  testing.TB
	r   *Report
	fc  *clock.Virtual
	id  ccgw.AgentID
	now time.Time
}

func newTClient(tb testing.TB, cfg Config) *tClient {
	fc := clock.NewVirtual(tStart)
	cfg.Clock = fc
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 2 * time.Minute
	}
	if cfg.PushTimeout == 0 {
		cfg.PushTimeout = 2 * time.Minute
	}
	return &tClient{tb: tb, r: New(cfg), fc: fc, id: 1001, now: tStart}
}

// sleep moves the client's time (and the report's clock) on by d.
func (c *tClient) sleep(d time.Duration) {
	c.now = c.now.Add(d)
	c.fc.Set(c.now)
}

// do observes one request of method answered code after took, with opts
// applied, and moves the time to its end.
func (c *tClient) do(method string, code ccgw.Retcode, took time.Duration, opts ...func(*Request)) {
	q := Request{Agent: c.id, Method: method, HTTP: "POST", Path: "/agentgateway/resource/onlineagent/{agentid}/x",
		Code: code, Status: 200, Start: c.now, Took: took}
	for _, o := range opts {
		o(&q)
	}
	c.r.Observe(&q)
	c.sleep(took)
}

func presented(g string) func(*Request) { return func(q *Request) { q.GUID = g } }
func setGUID(g string) func(*Request)   { return func(q *Request) { q.SetGUID = g } }
func emptyPoll(q *Request)              { q.EmptyPoll = true }
func withBody(ct string) func(*Request) {
	return func(q *Request) {
		q.Body, q.ContentType = true, ct
		q.JSON = strings.Contains(strings.ToLower(ct), "application/json")
	}
}

const fast = 2 * time.Millisecond

// signIn signs in with GUID g.
func (c *tClient) signIn(g string, opts ...func(*Request)) {
	c.do("login", ok, fast, append([]func(*Request){setGUID(g)}, opts...)...)
}

// findings returns the codes raised for the client, with their counts.
func (c *tClient) findings() map[Code]uint64 {
	c.tb.Helper()
	d, found := c.r.Client(c.id)
	if !found {
		c.tb.Fatalf("agent %d not tracked", c.id)
	}
	out := map[Code]uint64{}
	for _, f := range d.Findings {
		out[f.Code] = f.Count
	}
	return out
}

// evidence returns the evidence of finding code, failing if it is not raised.
func (c *tClient) evidence(code Code) map[string]any {
	c.tb.Helper()
	d, _ := c.r.Client(c.id)
	for _, f := range d.Findings {
		if f.Code == code {
			return f.Evidence
		}
	}
	c.tb.Fatalf("no finding %s", code)
	return nil
}

// TestFindings drives each rule with scripted clients: one that shows the
// mistake, raising exactly the finding with its count, and ones that are
// correct (or nearly so) and raise nothing.
func TestFindings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script func(c *tClient)
		want   map[Code]uint64
	}{
		// stale-guid
		{"stale-guid: ignores Set-GUID until refused", func(c *tClient) {
			c.signIn("G1")
			c.do(mHandShake, ok, fast, presented("G1"))
			c.sleep(time.Minute)
			c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2")) // rotation: told
			c.sleep(30 * time.Second)
			c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2")) // ignored
			c.sleep(30 * time.Second)
			c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2")) // ignored
			c.sleep(90 * time.Second)
			c.do(mHandShake, noPerm, fast, presented("G1")) // refused after GUIDTIMEOUT
		}, map[Code]uint64{StaleGUID: 3, LateHeartbeat: 1}},
		{"stale-guid: follows Set-GUID", func(c *tClient) {
			c.signIn("G1")
			c.sleep(30 * time.Second)
			c.do(mPoll, ok, fast, presented("G1"), setGUID("G2"))
			c.sleep(300 * time.Millisecond)
			c.do(mPoll, ok, fast, presented("G2"))
			c.sleep(30 * time.Second)
			c.do(mHandShake, ok, fast, presented("G2"), setGUID("G3"))
			c.sleep(30 * time.Second)
			c.do(mHandShake, ok, fast, presented("G3"))
		}, nil},
		{"stale-guid: a request already on its way when Set-GUID came", func(c *tClient) {
			c.signIn("G1")
			c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2"))
			c.sleep(StaleGrace / 2)
			c.do(mPoll, ok, fast, presented("G1"), setGUID("G2"))
			c.do(mPoll, ok, fast, presented("G2"))
		}, nil},
		{"stale-guid: the current GUID refused is not the client's doing", func(c *tClient) {
			c.signIn("G1")
			c.do(mHandShake, noPerm, fast, presented("G1"))
			c.sleep(10 * time.Second)
			c.signIn("G9")
			c.do(mHandShake, noPerm, fast, presented("G1")) // an old sign-in's GUID
		}, nil},

		// late-heartbeat (timeout 2m: late from 80s)
		{"late-heartbeat: every 90s, then beyond the timeout", func(c *tClient) {
			c.signIn("G1")
			for range 3 {
				c.sleep(90 * time.Second)
				c.do(mHandShake, ok, fast)
			}
			c.sleep(130 * time.Second)
			c.do(mHandShake, notSigned, fast)
		}, map[Code]uint64{LateHeartbeat: 4}},
		{"late-heartbeat: every 30s, as recommended", func(c *tClient) {
			c.signIn("G1")
			for range 10 {
				c.sleep(30 * time.Second)
				c.do(mHandShake, ok, fast)
			}
		}, nil},
		{"late-heartbeat: held polls back to back", func(c *tClient) {
			c.signIn("G1")
			for range 20 {
				c.do(mPoll, ok, 10*time.Second, emptyPoll)
			}
		}, nil},
		{"late-heartbeat: a pause after signing out", func(c *tClient) {
			c.signIn("G1")
			c.do("logout", ok, fast)
			c.sleep(10 * time.Minute)
			c.signIn("G2")
			c.do(mHandShake, ok, fast)
		}, nil},

		// hammering
		{"hammering: retries at once after 000-003", func(c *tClient) {
			c.signIn("G1")
			for range 6 {
				c.do(mHandShake, noPerm, fast, presented("X"))
			}
		}, map[Code]uint64{Hammering: 1}},
		{"hammering: two bursts", func(c *tClient) {
			for range 6 {
				c.do(mPoll, ccgw.RetSwitchingOver, fast)
			}
			c.sleep(5 * time.Second)
			for range 6 {
				c.do(mPoll, ccgw.RetSwitchingOver, fast)
			}
		}, map[Code]uint64{Hammering: 2}},
		{"hammering: retries every 500ms", func(c *tClient) {
			for range 10 {
				c.do(mPoll, ccgw.RetSwitchingOver, fast)
				c.sleep(500 * time.Millisecond)
			}
		}, nil},
		{"hammering: many requests after successes", func(c *tClient) {
			c.signIn("G1")
			for range 20 {
				c.do("sayBusy", ok, fast)
			}
		}, nil},

		// calls-after-signout
		{"calls-after-signout: polls on after 100-006", func(c *tClient) {
			c.signIn("G1")
			c.r.SignedOut(c.id, ccgw.CauseTimeout)
			for range 4 {
				c.do(mPoll, notSigned, fast)
				c.sleep(500 * time.Millisecond)
			}
		}, map[Code]uint64{CallsAfterSignOut: 3}},
		{"calls-after-signout: signs in again", func(c *tClient) {
			c.signIn("G1")
			c.do(mPoll, notSigned, fast)
			c.sleep(time.Second)
			c.do("login", ccgw.RetAlreadySignedIn, fast)
			c.do("forceLogin", ok, fast, setGUID("G2"))
			c.do(mPoll, ok, fast, presented("G2"))
		}, nil},
		{"calls-after-signout: two calls more are tolerated", func(c *tClient) {
			for range 3 {
				c.do(mHandShake, notSigned, fast)
				c.sleep(time.Second)
			}
		}, nil},

		// poll-too-fast (the gateway answers empty polls at once)
		{"poll-too-fast: polls again at once after empty answers", func(c *tClient) {
			c.signIn("G1")
			for range 4 {
				c.do(mPoll, ok, fast, emptyPoll)
			}
		}, map[Code]uint64{PollTooFast: 3}},
		{"poll-too-fast: pauses 300ms", func(c *tClient) {
			c.signIn("G1")
			for range 10 {
				c.do(mPoll, ok, fast, emptyPoll)
				c.sleep(300 * time.Millisecond)
			}
		}, nil},
		{"poll-too-fast: polls again at once after events", func(c *tClient) {
			c.signIn("G1")
			for range 10 {
				c.do(mPoll, ok, fast)
			}
			c.do(mPoll, ok, fast, emptyPoll)
			c.sleep(500 * time.Millisecond)
			c.do(mPoll, ok, fast)
		}, nil},
		{"poll-too-fast: held polls polled again at once", func(c *tClient) {
			c.signIn("G1")
			for range 10 {
				c.do(mPoll, ok, 500*time.Millisecond, emptyPoll)
			}
		}, nil},

		// wrong-content-type
		{"wrong-content-type: text/plain body", func(c *tClient) {
			c.do("login", ok, fast, setGUID("G1"), withBody("text/plain;charset=UTF-8"))
			c.do("sayBusy", ok, fast, withBody(""))
		}, map[Code]uint64{WrongContentType: 2}},
		{"wrong-content-type: JSON bodies, and none without a body", func(c *tClient) {
			c.do("login", ok, fast, setGUID("G1"), withBody("application/json;charset=UTF-8"))
			c.do("sayBusy", ok, fast, withBody("Application/JSON"))
			c.do(mHandShake, ok, fast)
		}, nil},

		// legacy-interface
		{"legacy-interface: PUT heartbeat and pushUrl", func(c *tClient) {
			c.signIn("G1", func(q *Request) { q.PushURL, q.Push = true, true })
			c.do(mHeartBeat, ok, fast)
			c.do(mHeartBeat, ok, fast)
		}, map[Code]uint64{LegacyInterface: 3}},
		{"legacy-interface: handshake and callBackUri", func(c *tClient) {
			c.signIn("G1", func(q *Request) { q.Push = true })
			c.do(mHandShake, ok, fast)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTClient(t, Config{})
			tc.script(c)
			got := c.findings()
			if tc.want == nil {
				tc.want = map[Code]uint64{}
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("findings %v, want %v", got, tc.want)
			}
			if n := c.r.Findings(c.id); n != len(tc.want) {
				t.Fatalf("Findings() = %d, want %d", n, len(tc.want))
			}
		})
	}
}

// TestEvidence checks what each finding's evidence says for a scripted client.
func TestEvidence(t *testing.T) {
	c := newTClient(t, Config{})
	c.signIn("G1")
	c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2"))
	told := c.now
	c.sleep(2 * time.Second)
	c.do(mHandShake, ok, fast, presented("G1"), setGUID("G2"))
	c.sleep(90 * time.Second)
	c.do(mHandShake, noPerm, fast, presented("G1"))
	refused := c.now
	if ev := c.evidence(StaleGUID); ev["setGuidAt"] != told.UnixMilli() || ev["presentedAfterSetGuid"] != int64(1) ||
		ev["refused"] != int64(1) || ev["lastRefusedAt"] != refused.UnixMilli() {
		t.Errorf("stale-guid evidence %v", ev)
	}
	if ev := c.evidence(LateHeartbeat); ev["longestGapMillis"] != int64(90000) || ev["timeoutMillis"] != int64(120000) ||
		ev["beyondTimeout"] != int64(0) || ev["recommendedMillis"] != int64(30000) {
		t.Errorf("late-heartbeat evidence %v", ev)
	}
	for range 5 {
		c.do(mHandShake, noPerm, 10*time.Millisecond, presented("G1"))
	}
	if ev := c.evidence(Hammering); ev["requests"] != int64(5) || ev["afterRetcode"] != noPerm || ev["withinMillis"] != int64(40) {
		t.Errorf("hammering evidence %v", ev)
	}

	c.sleep(time.Minute)
	c.fc.Set(c.now)
	c.r.SignedOut(c.id, ccgw.CauseSupervisor)
	out := c.now
	c.do(mPoll, notSigned, fast)
	first := c.now
	for range 3 {
		c.sleep(time.Second)
		c.do(mPoll, notSigned, fast)
	}
	if ev := c.evidence(CallsAfterSignOut); ev["refusedAt"] != first.UnixMilli() || ev["callsAfter"] != int64(3) ||
		ev["signedOutAt"] != out.UnixMilli() || ev["cause"] != ccgw.CauseSupervisor {
		t.Errorf("calls-after-signout evidence %v", ev)
	}
	c.do("login", ok, fast, setGUID("G5"), withBody("text/plain"))
	if ev := c.evidence(WrongContentType); ev["contentType"] != "text/plain" || ev["requests"] != uint64(1) {
		t.Errorf("wrong-content-type evidence %v", ev)
	}
	d, _ := c.r.Client(c.id)
	for _, f := range d.Findings {
		if f.Explanation == "" || f.Vendor == "" || f.First == 0 || f.Last < f.First {
			t.Errorf("finding %+v", f)
		}
	}
}

// TestRaisedLogsOnce: a finding logs one WARN line when it is raised (agent
// and code, no GUID), not at its later occurrences, and counts in Raised.
func TestRaisedLogsOnce(t *testing.T) {
	var buf bytes.Buffer
	c := newTClient(t, Config{Log: slog.New(slog.NewTextHandler(&buf, nil))})
	c.signIn("secret-guid-1")
	c.do(mHandShake, ok, fast, presented("secret-guid-1"), setGUID("secret-guid-2"))
	for range 5 {
		c.sleep(2 * time.Second)
		c.do(mHandShake, ok, fast, presented("secret-guid-1"), setGUID("secret-guid-2"))
	}
	log := buf.String()
	if n := strings.Count(log, "\n"); n != 1 || !strings.Contains(log, "level=WARN") ||
		!strings.Contains(log, `msg="client finding" agent=1001 code=stale-guid`) {
		t.Fatalf("log %q, want one WARN line for stale-guid", log)
	}
	if strings.Contains(log, "secret") {
		t.Fatalf("log %q shows a GUID", log)
	}
	raised := c.r.Raised()
	if raised[StaleGUID] != 1 || raised[Hammering] != 0 || len(raised) != numCodes {
		t.Fatalf("Raised() = %v", raised)
	}
}

// TestJournal: the last N requests, oldest first, with the agent in the path,
// and the ring bounded.
func TestJournal(t *testing.T) {
	c := newTClient(t, Config{Journal: 3})
	for i, m := range []string{"login", mHandShake, mPoll, "sayBusy", mHandShake} {
		c.do(m, ok, time.Duration(i+1)*time.Millisecond, func(q *Request) {
			q.Path = "/agentgateway/resource/onlineagent/{agentid}/" + m
			q.HTTP = "GET"
		})
	}
	c.do("unknown", ccgw.RetBadParam, fast, func(q *Request) {
		q.Path, q.HTTP, q.Status = "/agentgateway/resource/onlineagent/1001/notifybulletin", "PATCH", 404
	})
	got, found := c.r.Requests(1001)
	if !found || len(got) != 3 {
		t.Fatalf("Requests: %v %v", got, found)
	}
	want := []Entry{
		{Time: tStart.Add(6 * time.Millisecond).UnixMilli(), Method: "sayBusy", HTTP: "GET", Path: "/agentgateway/resource/onlineagent/1001/sayBusy", Retcode: ok, Status: 200, TookMicros: 4000},
		{Time: tStart.Add(10 * time.Millisecond).UnixMilli(), Method: mHandShake, HTTP: "GET", Path: "/agentgateway/resource/onlineagent/1001/handShake", Retcode: ok, Status: 200, TookMicros: 5000},
		{Time: tStart.Add(15 * time.Millisecond).UnixMilli(), Method: "unknown", HTTP: "other", Path: "/agentgateway/resource/onlineagent/1001/notifybulletin", Retcode: ccgw.RetBadParam, Status: 404, TookMicros: 2000},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, found := c.r.Requests(1002); found {
		t.Error("an agent never seen has a journal")
	}
	off := newTClient(t, Config{Journal: -1})
	off.do(mHandShake, ok, fast)
	if got, _ := off.r.Requests(1001); len(got) != 0 {
		t.Errorf("journal off: %v", got)
	}
}

// TestEviction: beyond MaxAgents, the least recently seen agent is forgotten
// for a new one, unless it was seen within Keep: then the new one is not
// tracked (no churn), until the old one has been quiet for Keep.
func TestEviction(t *testing.T) {
	tracked := func(c *tClient, want map[ccgw.AgentID]bool) {
		t.Helper()
		for id, w := range want {
			if _, found := c.r.Client(id); found != w {
				t.Errorf("agent %d tracked %v, want %v", id, found, w)
			}
		}
	}
	visit := func(c *tClient, ids ...ccgw.AgentID) {
		for _, id := range ids {
			c.id = id
			c.do(mHandShake, ok, fast)
			c.sleep(time.Second)
		}
	}
	strict := newTClient(t, Config{MaxAgents: 2, Keep: -1})
	visit(strict, 1001, 1002, 1001, 1003)
	tracked(strict, map[ccgw.AgentID]bool{1001: true, 1002: false, 1003: true})

	kept := newTClient(t, Config{MaxAgents: 2, Keep: time.Minute})
	visit(kept, 1001, 1002, 1001, 1003)
	tracked(kept, map[ccgw.AgentID]bool{1001: true, 1002: true, 1003: false})
	kept.sleep(time.Minute) // 1002 quiet for a minute (1001 too, but seen later)
	visit(kept, 1003)
	tracked(kept, map[ccgw.AgentID]bool{1001: true, 1002: false, 1003: true})
}

// TestClientsPaging pages the summary in work-number order.
func TestClientsPaging(t *testing.T) {
	c := newTClient(t, Config{})
	for _, id := range []ccgw.AgentID{1005, 1001, 1003, 1002, 1004} {
		c.id = id
		c.do("login", ok, fast, setGUID("G"), withBody("text/plain"))
	}
	var seen []string
	var after ccgw.AgentID
	for pages := 0; ; pages++ {
		page, next := c.r.Clients(after, 2)
		for _, s := range page {
			seen = append(seen, s.Agent)
			if s.Requests != 1 || s.Findings[WrongContentType] != 1 || len(s.Findings) != 1 || s.LastSeen == 0 {
				t.Errorf("summary %+v", s)
			}
		}
		if next == 0 {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		after = next
	}
	if got := strings.Join(seen, ","); got != "1001,1002,1003,1004,1005" {
		t.Fatalf("paged %s", got)
	}
}

// TestObserveAllocs: observing a tracked agent's heartbeat allocates nothing.
func TestObserveAllocs(t *testing.T) {
	c := newTClient(t, Config{})
	c.signIn("G1")
	q := Request{Agent: c.id, Method: mHandShake, HTTP: "POST", Path: "/p/{agentid}", Code: ok, Status: 200, Start: c.now, Took: fast}
	if n := testing.AllocsPerRun(1000, func() {
		q.Start = q.Start.Add(30 * time.Second)
		c.r.Observe(&q)
	}); n != 0 {
		t.Fatalf("Observe allocates %v times per heartbeat", n)
	}
}

// TestEntrySize: a journal entry stays one cache line.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 64 {
		t.Fatalf("entry is %d bytes, want 64", n)
	}
}
