package session

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

// countedLog is a SharedLog that counts its commits and the sign-outs in them.
type countedLog struct {
	ccgw.SharedLog
	commits, deletes atomic.Int64
}

func (l *countedLog) Commit(ops []ccgw.LogOp) error {
	l.commits.Add(1)
	for _, op := range ops {
		if op.Delete {
			l.deletes.Add(1)
		}
	}
	return l.SharedLog.Commit(ops)
}

// TestSilentStormOneNode (issue 13, "sign-out storms"): on one node whose
// sessions are kept in a bbolt file, 20,000 agents that fall silent together
// are signed out exactly once, none before its deadline and all within 3 s
// (virtual) of it, in a few commits of many sign-outs each (not one write
// each), while 200 others heartbeat and stay signed in.
func TestSilentStormOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("20,000 sessions")
	}
	const silent, beating, timeout = 20000, 200, 2 * time.Minute
	file, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { file.Close() })
	log := &countedLog{SharedLog: file}
	cfg := sessiontest.DefaultConfig(sessiontest.NewLogs())
	cfg.Timeout, cfg.Tick = timeout, ccgw.TickFor(timeout)
	fc := cfg.Clock
	db, _ := openLogged(t, log, cfg)
	var mu sync.Mutex
	ended := map[ccgw.AgentID]int{}
	late := time.Duration(0)
	deadline := fc.Now().Add(timeout)
	st := openOn(t, db, guard.NewMemLockouts(), cfg, func(c *Config) {
		c.Local = true
		c.OnSignOut = func(id ccgw.AgentID, _ ccgw.SignOutCause) {
			mu.Lock()
			ended[id]++
			if fc.Now().Before(deadline) {
				t.Errorf("agent %d signed out at %v, before its deadline %v", id, fc.Now(), deadline)
			}
			late = max(late, fc.Now().Sub(deadline))
			mu.Unlock()
		}
	})
	signIn := func(first ccgw.AgentID, n int) map[ccgw.AgentID]string {
		guids := make(map[ccgw.AgentID]string, n)
		var gm sync.Mutex
		var wg sync.WaitGroup
		for w := range 8 { // concurrent sign-ins share commits
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					req := sessiontest.SignInReq(first + ccgw.AgentID(i))
					req.SkipPassword = true
					s, err := st.SignIn(context.Background(), req)
					if err != nil {
						t.Error(err)
						return
					}
					gm.Lock()
					guids[s.Agent] = s.GUID
					gm.Unlock()
				}
			})
		}
		wg.Wait()
		return guids
	}
	signIn(100000, silent)
	guids := signIn(10000, beating)
	if t.Failed() {
		t.FailNow()
	}
	before := log.commits.Load()
	for fc.Now().Before(deadline.Add(5 * time.Second)) {
		if fc.Now().Sub(sessiontest.Start)%(10*time.Second) == 0 {
			for id, g := range guids {
				if _, err := st.Heartbeat(context.Background(), id, g, ""); err != nil {
					t.Fatalf("heartbeat of %d: %v", id, err)
				}
			}
		}
		fc.Advance(cfg.Tick)
		st.Sweep(fc.Now())
	}
	commits := log.commits.Load() - before
	mu.Lock()
	defer mu.Unlock()
	if len(ended) != silent {
		t.Fatalf("%d agents signed out, want the %d silent ones", len(ended), silent)
	}
	for id, n := range ended {
		if id < 100000 || n != 1 {
			t.Fatalf("agent %d signed out %d times", id, n)
		}
	}
	if late > 3*time.Second {
		t.Fatalf("the last silent agent was signed out %v after its deadline, want within 3s", late)
	}
	if n := log.deletes.Load(); n != silent {
		t.Fatalf("%d sign-outs committed, want %d", n, silent)
	}
	// One Expire of expiryBatch sign-outs at most is one commit: 80 for
	// 20,000, and the ticks' own (acknowledgements) besides.
	if max := int64(silent/expiryBatch) * 3; commits > max {
		t.Fatalf("the storm took %d commits, want at most %d (sign-outs written in batches)", commits, max)
	}
	if got := st.Stats(context.Background()).Live; got != beating {
		t.Fatalf("%d live after the storm, want the %d heartbeating", got, beating)
	}
	t.Logf("20,000 sign-outs in %d commits; the last %v after its deadline", commits, late)
}

// TestAgentOf: the work number at the head of a record, as encoding/json
// writes a session; anything else is not read (the sweep decodes it).
func TestAgentOf(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want ccgw.AgentID
		ok   bool
	}{
		{`{"agent":1001,"state":4}`, 1001, true},
		{`{"agent":101,`, 101, true},
		{`{"state":4,"agent":1001}`, 0, false},
		{`{"agent":1001}`, 0, false},
		{`{"agent":-1,`, 0, false},
		{`{"agent":99999999999,`, 0, false},
		{``, 0, false},
	} {
		if got, ok := agentOf(tt.raw); got != tt.want || ok != tt.ok {
			t.Errorf("agentOf(%q) = %d, %v; want %d, %v", tt.raw, got, ok, tt.want, tt.ok)
		}
	}
}
