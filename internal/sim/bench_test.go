package sim

import (
	"strconv"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// BenchmarkEngineCalls measures how many inbound calls the engine carries per
// second of real time on a virtual clock: each op injects 1000 calls spread
// over 3 skills (talk 5–24s), then advances the clock in 1s steps until every
// call is over. The simulated agents auto-answer and are idle again at once;
// each has 2 of the 3 skills. Their events go to a Journal, as in cmd/ccgw.
// The scan variants pick agents by scanning Sessions.BySkill per call, as the
// engine did before its idle index (idle.go): the baseline. The bolt variant
// keeps sessions and events in bbolt, as cmd/ccgw does.
func BenchmarkEngineCalls(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run("agents="+strconv.Itoa(n), func(b *testing.B) { benchEngineCalls(b, n, 1000, false, false) })
		b.Run("agents="+strconv.Itoa(n)+"/scan", func(b *testing.B) { benchEngineCalls(b, n, 1000, true, false) })
	}
	b.Run("agents=1000/store=bolt", func(b *testing.B) { benchEngineCalls(b, 1000, 1000, false, true) })
}

func benchEngineCalls(b *testing.B, agents, calls int, scan, useBolt bool) {
	skills := []ccgw.Skill{{ID: 1, Name: "a", MediaType: 5}, {ID: 2, Name: "b", MediaType: 5}, {ID: 3, Name: "c", MediaType: 5}}
	dir := agent.Open(skills)
	clk := clock.NewVirtual(DefaultStart())
	journal := NewJournal(100000)
	var eng *Engine
	cfg := session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     clk,
			Timeout:   time.Hour,
			Tap:       journal.Add,
			OnChange:  func(s ccgw.Session) { eng.AgentChanged(s) },
		},
		Store: mem.NewShared(), Local: true,
	}
	if useBolt {
		st, err := bolt.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		db, _, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(*ccgw.Session) int64 { return 0 }})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Store = db // the sessions of real agents written to bbolt, as --store bolt writes them
	}
	sm, err := session.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	eng = New(Config{Sessions: sm, Directory: dir, Clock: clk})
	eng.scanOnly = scan
	for i := range agents {
		id := ccgw.AgentID(100001 + i)
		if err := eng.AddSimAgent(id, SimAgent{}, []int{i%3 + 1, (i+1)%3 + 1}); err != nil {
			b.Fatal(err)
		}
	}
	total, steps := 0, 0
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		for i := range calls {
			if _, err := eng.Inject(CallSpec{Skill: i%3 + 1, TalkFor: time.Duration(5+i%20) * time.Second}); err != nil {
				b.Fatal(err)
			}
		}
		for eng.live() > 0 {
			clk.Advance(time.Second)
			steps++
		}
		total += calls
	}
	elapsed := time.Since(start)
	if q := eng.Queues(); q[0].Answered+q[1].Answered+q[2].Answered != total {
		b.Fatalf("answered %+v, want %d in all", q, total)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(float64(steps)/float64(b.N), "advances/op")
}
