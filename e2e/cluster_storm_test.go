package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/redis"
	"github.com/ccgw/ccgw/internal/wait"
	goredis "github.com/redis/go-redis/v9"
)

// The storm: stormSilent agents fall silent together on a two-node cluster
// with a stormTimeout heartbeat timeout, while stormBeating others heartbeat
// every stormBeat through both nodes.
const (
	stormSilent  = 20000
	stormBeating = 300
	stormTimeout = 15 * time.Second
	stormBeat    = time.Second
	// stormTarget is how late after its deadline a sign-out should come (the
	// issue's figure); sweepSlack is added for a loaded machine, whose nodes
	// tick when they get the CPU.
	stormTarget = 3 * time.Second
)

// TestClusterSignOutStorm runs one Redis and two real ccgw processes on it.
// 20,000 agents are signed in (straight into Redis through the store's own
// code, skipping the PBKDF2 check an HTTP sign-in costs) and never heard from
// again; 300 more sign in over HTTP and heartbeat through both nodes. The
// silent ones are signed out exactly once each, cluster-wide, within 3 s (and
// sweepSlack) of their deadline, as the nodes' sign-out lag histograms and
// sweep lines say; no heartbeating agent is refused or signed out.
func TestClusterSignOutStorm(t *testing.T) {
	start := time.Now()
	srv := redistest.Start(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	// Not a durability test: no fsync per write, which would make loading the
	// silent agents the test's cost.
	if err := rdb.ConfigSet(context.Background(), "appendfsync", "no").Err(); err != nil {
		t.Fatal(err)
	}
	var nodes []*proc
	for i := range 2 {
		nodes = append(nodes, startGateway(t, t.TempDir(), "--store", srv.URL(), "--heartbeat-timeout", stormTimeout.String(),
			"--node-name", "AgentGateway"+strconv.Itoa(i+1), "--auth-mode", "static", "--log-level", "debug"))
	}

	// The heartbeating agents, over HTTP, and their heartbeats.
	b := newBeaters(t, nodes)
	defer b.stop()

	// The silent ones, straight into Redis.
	silent := loadSilent(t, srv.URL())
	loaded := time.Now()
	t.Logf("%d silent agents signed in in %v; %d heartbeating", stormSilent, loaded.Sub(start).Round(time.Millisecond), stormBeating)

	// Every silent agent is signed out once, cluster-wide.
	wait.For(t, stormTimeout+stormTarget+sweepSlack+time.Minute, 200*time.Millisecond, func() error {
		n := 0
		for _, p := range nodes {
			n += len(p.log.find("msg", "signed out", "cause", "timeout"))
		}
		if n < stormSilent {
			return fmt.Errorf("%d of %d sign-outs logged", n, stormSilent)
		}
		return nil
	})
	done := time.Now()
	b.stop()
	lines := map[string]int{}
	for _, p := range nodes {
		for _, l := range p.log.find("msg", "signed out") {
			lines[l.attr["agent"]]++
		}
	}
	var wrong []string
	for id, n := range lines {
		if !silent[id] || n != 1 {
			wrong = append(wrong, fmt.Sprintf("%s×%d", id, n))
		}
	}
	slices.Sort(wrong)
	if len(wrong) > 0 || len(lines) != stormSilent {
		t.Errorf("%d agents signed out, want the %d silent ones once each; wrong: %s", len(lines), stormSilent,
			strings.Join(wrong[:min(len(wrong), 20)], " "))
	}

	// How late: each sweep's line has its worst, the histograms all of them.
	var lagMax time.Duration
	var from, to time.Time
	sweeps, total := 0, 0
	for _, p := range nodes {
		for _, l := range p.log.find("msg", "sessions expired") {
			d, err := time.ParseDuration(l.attr["lag_max"])
			n, _ := strconv.Atoi(l.attr["count"])
			if err != nil {
				t.Fatalf("sweep line %q: %v", l.raw, err)
			}
			lagMax, sweeps, total = max(lagMax, d), sweeps+1, total+n
			if at := l.time(); from.IsZero() || at.Before(from) {
				from = at
			}
			if at := l.time(); at.After(to) {
				to = at
			}
		}
	}
	var count, within float64
	for _, p := range nodes {
		count += metric(t, p, "ccgw_signout_lag_seconds_count")
		within += metric(t, p, `ccgw_signout_lag_seconds_bucket{le="3"}`)
	}
	t.Logf("signed out in %d sweeps over both nodes, %v after loading; lag at most %v; %.0f of %.0f within %v",
		sweeps, done.Sub(loaded).Round(time.Millisecond), lagMax, within, count, stormTarget)
	if total != stormSilent || count != stormSilent {
		t.Errorf("the sweep lines count %d sign-outs and the lag histograms %.0f, want %d", total, count, stormSilent)
	}
	if lagMax > stormTarget+sweepSlack {
		t.Errorf("a silent agent was signed out %v after its deadline, want within %v (+%v slack)", lagMax, stormTarget, sweepSlack)
	}
	b.check(t, from, to.Add(time.Second))
	for _, p := range nodes {
		if st := metric(t, p, "ccgw_sessions_live"); st != stormBeating {
			t.Errorf("%s: %v sessions live, want the %d heartbeating", p.addr, st, stormBeating)
		}
	}
}

// loadSilent signs stormSilent agents in through session.Service of this process on
// url (no Run: it never sweeps) and returns their work numbers.
func loadSilent(t *testing.T, url string) map[string]bool {
	t.Helper()
	db, err := redis.Open(redis.Config{URL: url, NodeName: "Loader"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := session.New(session.Config{SessionSettings: ccgw.SessionSettings{Timeout: stormTimeout, Directory: agent.Default(), NodeName: "Loader"}, Store: db})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const first, workers = 100000, 8
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := range workers {
		wg.Go(func() {
			for i := w; i < stormSilent; i += workers {
				req := ccgw.SignIn{Op: "login", SkipPassword: true, Status: ccgw.StateIdle,
					Session: ccgw.Session{Agent: ccgw.AgentID(first + i), Phone: "70001", MediaType: "TTF"}}
				if _, err := st.SignIn(context.Background(), req); err != nil && failed.Add(1) == 1 {
					t.Errorf("sign in %d: %v", first+i, err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.FailNow()
	}
	out := make(map[string]bool, stormSilent)
	for i := range stormSilent {
		out[strconv.Itoa(first+i)] = true
	}
	return out
}

// beaters heartbeats stormBeating agents every stormBeat, each through the
// two nodes in turn, and keeps what they were answered.
type beaters struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu   sync.Mutex // guards bad and beats
	bad  []string
	beat []beat
}

// beat is one heartbeat: when it was sent and how long its answer took.
type beat struct {
	at   time.Time
	took time.Duration
}

func newBeaters(t *testing.T, nodes []*proc) *beaters {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &beaters{cancel: cancel}
	clients := make([]*http.Client, len(nodes))
	for i, p := range nodes {
		clients[i] = p.newClient(&http.Transport{MaxIdleConnsPerHost: 32, MaxConnsPerHost: 32})
	}
	guids := make([]string, stormBeating)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < stormBeating; i += 16 {
				p := nodes[i%len(nodes)]
				guids[i], _ = p.signIn(t, strconv.Itoa(10001+i), "")
			}
		})
	}
	wg.Wait()
	for w := range 16 {
		b.wg.Go(func() {
			tick := time.NewTicker(stormBeat)
			defer tick.Stop()
			for round := 0; ; round++ {
				for i := w; i < stormBeating; i += 16 {
					k := (i + round) % len(nodes)
					t0 := time.Now()
					r, err := send(ctx, clients[k], http.MethodPost, nodes[k].url("onlineagent/"+strconv.Itoa(10001+i)+"/handshake"), guids[i], "")
					if ctx.Err() != nil {
						return
					}
					b.mu.Lock()
					b.beat = append(b.beat, beat{t0, time.Since(t0)})
					if err != nil || r.env.Retcode != "0" {
						b.bad = append(b.bad, fmt.Sprintf("agent %d via %s: %v %s", 10001+i, nodes[k].addr, err, r.body))
					}
					b.mu.Unlock()
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	return b
}

func (b *beaters) stop() {
	b.once.Do(func() {
		b.cancel()
		b.wg.Wait()
	})
}

// check fails t if any heartbeat was refused, and logs the latency of those
// sent between from and to (the storm) and before (asserting on latency
// would flake on a loaded machine; that the storm costs heartbeats no Redis
// command is TestSilentStorm's, in internal/store/redis).
func (b *beaters) check(t *testing.T, from, to time.Time) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.bad) > 0 {
		t.Errorf("%d heartbeats of live agents failed, first: %s", len(b.bad), b.bad[0])
	}
	var before, during []time.Duration
	for _, x := range b.beat {
		switch {
		case x.at.Before(from):
			before = append(before, x.took)
		case x.at.Before(to):
			during = append(during, x.took)
		}
	}
	q := func(ds []time.Duration, f float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		slices.Sort(ds)
		return ds[int(f*float64(len(ds)-1))]
	}
	t.Logf("heartbeats before the storm: %d, p50 %v, p99 %v; during it: %d, p50 %v, p99 %v, max %v", len(before),
		q(before, .5), q(before, .99), len(during), q(during, .5), q(during, .99), q(during, 1))
}
