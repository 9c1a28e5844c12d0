package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
	"github.com/ccgw/ccgw/internal/proctest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/wait"
)

// TestE2ESignOutStorm (issue 13, "sign-out storms"): 20,000 agents whose site
// loses its network fall silent together, while five other agents keep
// heartbeating. The gateway signs all 20,000 out within 3 s of their deadline
// (its own measure, ccgw_signout_lag_seconds), exactly once (the counters,
// after two more timeouts), leaves none stored (a restart restores only the
// five), and answers every heartbeat of the five meanwhile.
//
// The 20,005 sessions are written into the data file as sign-ins leave them
// (session and events, by the store's own code) before the gateway starts:
// signing 20,000 in over HTTP took 60-70 s under -race on a loaded 2-core
// machine, and only the storm is under test. The gateway restores them with a
// 4s timeout, which gives every one the same deadline: restore + 4s.
//
// Under -race the gateway's code runs 5-10 times slower, and on a loaded
// machine it gets a fraction of a core: there the bar is 3 s plus sweepSlack
// (the suite's allowance for a sweeper that ticks when it gets the CPU; the
// histogram's le="20" bucket), and the 3 s is asserted on builds without it.
// The figures are logged either way.
func TestE2ESignOutStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 sessions")
	}
	const (
		storm    = 20000
		base     = 10001
		others   = 5
		obase    = 1001
		timeout  = 4 * time.Second
		beatEach = 50 * time.Millisecond
	)
	bar, bucket := 3*time.Second, "3"
	if proctest.RaceEnabled() {
		bar, bucket = 3*time.Second+sweepSlack, "20"
	}
	dir := t.TempDir()
	guids := seedSessions(t, dir, base, storm)
	guids = append(guids, seedSessions(t, dir, obase, others)...)

	starting := time.Now() // before the restore: every deadline is after starting+timeout
	p := startGateway(t, dir, "--heartbeat-timeout", timeout.String(), "--auth-mode", "static")
	restored := time.Now() // after the restore: every deadline is before restored+timeout
	if p.restored != storm+others {
		t.Fatalf("restored %d, want %d", p.restored, storm+others)
	}
	beats := make([]*timedBeats, others)
	for i := range others {
		beats[i] = startTimedHeartbeat(t, p, strconv.Itoa(obase+i), guids[storm+i], beatEach)
	}

	// All 20,000 are signed out; waited for generously: the time is asserted
	// from the gateway's own lag histogram below.
	var firstOut, allOut time.Time
	wait.For(t, 2*time.Minute, 50*time.Millisecond, func() error {
		n := metricValue(t, p, "ccgw_expiries_total")
		if n > 0 && firstOut.IsZero() {
			firstOut = time.Now()
		}
		if n < storm {
			return fmt.Errorf("%v of %d signed out", n, storm)
		}
		allOut = time.Now()
		return nil
	})
	t.Logf("all %d signed out %v to %v after their deadline (seen from here)", storm,
		allOut.Sub(restored.Add(timeout)).Round(time.Millisecond), allOut.Sub(starting.Add(timeout)).Round(time.Millisecond))
	if late := allOut.Sub(restored.Add(timeout)); late > bar {
		t.Errorf("the last signed out at least %v after their deadline, want within %v", late, bar)
	}
	// Exactly once: nothing more in two more timeouts; the five stay.
	holdsFor(t, 2*timeout, 200*time.Millisecond, func() error {
		if n := metricValue(t, p, `ccgw_signouts_total{cause="timeout"}`); n != storm {
			return fmt.Errorf("%v sign-outs for timeout, want %d", n, storm)
		}
		if n := metricValue(t, p, "ccgw_expiries_total"); n != storm {
			return fmt.Errorf("%v expiries, want %d", n, storm)
		}
		if n := metricValue(t, p, "ccgw_sessions_live"); n != others {
			return fmt.Errorf("%v live, want the %d heartbeating", n, others)
		}
		return nil
	})
	lag := func(le string) float64 { return metricValue(t, p, `ccgw_signout_lag_seconds_bucket{le="`+le+`"}`) }
	count := metricValue(t, p, "ccgw_signout_lag_seconds_count")
	t.Logf("sign-out lag (the gateway's): mean %.3fs; within 0.5s %v, 1s %v, 2s %v, 3s %v, 5s %v, 10s %v, 20s %v of %v",
		metricValue(t, p, "ccgw_signout_lag_seconds_sum")/count, lag("0.5"), lag("1"), lag("2"), lag("3"), lag("5"), lag("10"), lag("20"), count)
	if within := lag(bucket); count != storm || within != storm {
		t.Errorf("%v of %v sign-outs within %v of their deadline, want all %d", within, count, bar, storm)
	}

	// The five's heartbeats: every one answered with retcode 0. Their latency
	// before the storm (the first half of the timeout) and while it was
	// signed out (from half a second before the first sign-out was seen until
	// the last was), logged, and bounded generously: a 2-core machine shares
	// its CPU with the storm's work.
	var before, during []time.Duration
	for _, b := range beats {
		b.halt()
		b.check(t)
		before = append(before, b.between(restored, restored.Add(timeout/2))...)
		during = append(during, b.between(firstOut.Add(-500*time.Millisecond), allOut)...)
	}
	t.Logf("heartbeat latency before the storm: %s; during it: %s", pctls(before), pctls(during))
	if len(during) == 0 {
		t.Errorf("no heartbeat answered during the storm")
	}
	if p99 := pctl(during, 0.99); p99 > 2*time.Second {
		t.Errorf("heartbeat p99 during the storm %v, want under 2s", p99)
	}

	// None of the 20,000 is stored: a restart restores the five only.
	if code := p.terminate(30 * time.Second); code != 0 {
		t.Fatalf("gateway exited %d", code)
	}
	p2 := startGateway(t, dir, "--heartbeat-timeout", "10m", "--auth-mode", "static")
	if p2.restored != others {
		t.Fatalf("restart after the storm restored %d, want %d", p2.restored, others)
	}
}

// seedSessions stores n sessions of agents first to first+n-1 in dir's data
// file as their sign-ins leave them (the session, idle, and its
// AgentOther_InService and AgentState_Ready events), with the store's own code,
// and returns their GUIDs. No gateway may have the file open.
func seedSessions(tb testing.TB, dir string, first, n int) []string {
	tb.Helper()
	st, err := bolt.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UnixMilli()
	guids := make([]string, n)
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 64 { // concurrent writes share commits
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				id := ccgw.AgentID(first + int(i))
				s := ccgw.Session{
					Agent: id, Gen: uint64(first) + uint64(i), GUID: guid.New("AgentGateway0"), GUIDIssued: now,
					LoginTime: now, Op: "login", MediaType: "TTF", Phone: "70001", IP: "127.0.0.1", TalkRight: true,
					State: ccgw.StateIdle, StateSince: now, Skills: []int{1, 2},
				}
				guids[i] = s.GUID
				evs := []ccgw.Event{
					{Type: ccgw.EvInService, GenTime: now, WorkNo: id.String(), Seq: 1},
					{Type: ccgw.EvReady, GenTime: now, WorkNo: id.String(), Seq: 2},
				}
				if err := st.PutSessionEvents(&s, evs); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		tb.Fatalf("%d sessions could not be stored", n)
	}
	return guids
}

// timedBeats heartbeats one agent every interval and records when each
// heartbeat was sent and how long its answer took.
type timedBeats struct {
	stop context.CancelFunc
	done chan struct{}
	mu   sync.Mutex // guards below
	at   []time.Time
	took []time.Duration
	bad  []string
}

func startTimedHeartbeat(tb testing.TB, p *proc, id, guid string, every time.Duration) *timedBeats {
	ctx, cancel := context.WithCancel(context.Background())
	b := &timedBeats{stop: cancel, done: make(chan struct{})}
	c := p.newClient(nil)
	go func() {
		defer close(b.done)
		defer c.CloseIdleConnections()
		t := time.NewTicker(every) // paces the heartbeat; not a synchronization
		defer t.Stop()
		for {
			sent := time.Now()
			r, err := send(ctx, c, http.MethodPost, p.url("onlineagent/"+id+"/handshake"), guid, "")
			took := time.Since(sent)
			b.mu.Lock()
			switch {
			case ctx.Err() != nil:
			case err != nil:
				b.bad = append(b.bad, err.Error())
			case r.env.Retcode != "0":
				b.bad = append(b.bad, fmt.Sprintf("HTTP %d %s", r.status, r.body))
			default:
				b.at = append(b.at, sent)
				b.took = append(b.took, took)
			}
			b.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	tb.Cleanup(b.halt)
	return b
}

func (b *timedBeats) halt() {
	b.stop()
	<-b.done
}

// check fails tb if any heartbeat failed.
func (b *timedBeats) check(tb testing.TB) {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.bad) > 0 {
		tb.Errorf("%d heartbeats failed, first: %s", len(b.bad), b.bad[0])
	}
}

// between returns the latencies of the heartbeats sent from from to to.
func (b *timedBeats) between(from, to time.Time) []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []time.Duration
	for i, at := range b.at {
		if !at.Before(from) && !at.After(to) {
			out = append(out, b.took[i])
		}
	}
	return out
}

// pctl returns the q-quantile of ds (nearest rank), 0 for none.
func pctl(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func pctls(ds []time.Duration) string {
	return fmt.Sprintf("n=%d p50 %v p99 %v max %v", len(ds), pctl(ds, 0.5).Round(time.Microsecond),
		pctl(ds, 0.99).Round(time.Microsecond), pctl(ds, 1).Round(time.Microsecond))
}
