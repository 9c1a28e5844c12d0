package session

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// Benchmarks of the heartbeat and of the expiry bookkeeping (STYLE.md §3, §4).
// Every benchmark builds its sessions itself, after the testing package has
// decided to run it, so plain `go test` never pays for them.
//
//	go test -run '^$' -bench 'Heartbeat|Sweep' -benchmem ./internal/session/

// benchSizes are the numbers of live sessions every benchmark runs with.
var benchSizes = []int{1000, 100000, 1000000}

// benchStart is the fake clock's start, on a whole second so that tick
// arithmetic below is exact.
var benchStart = time.Unix(1_700_000_000, 0)

// benchDirectory knows every work number, so that a million agents (IDs 101 to
// 1000100, beyond the spec's 999999) can sign in; any non-empty password works.
type benchDirectory struct{}

var _ ccgw.Directory = benchDirectory{}

var benchSkills = []ccgw.Skill{{ID: 1, Name: "default_voice", MediaType: 5}}

func (benchDirectory) Agent(id ccgw.AgentID) (ccgw.Agent, bool) {
	return ccgw.Agent{ID: id, Skills: benchSkills}, true
}

func (benchDirectory) CheckPassword(_ ccgw.AgentID, password string) bool { return password != "" }

func (benchDirectory) SetPassword(ccgw.AgentID, string) error { return nil }

// benchManager returns a Manager on a fake clock at benchStart and an in-memory store.
func benchManager(tb testing.TB) (*Manager, *clock.Virtual) {
	tb.Helper()
	clk := clock.NewVirtual(benchStart)
	m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: clk, Directory: benchDirectory{}}, Store: mem.New()})
	if err != nil {
		tb.Fatal(err)
	}
	return m, clk
}

// benchSignIn signs agent id in at the clock's time and returns its GUID.
func benchSignIn(tb testing.TB, m *Manager, id ccgw.AgentID) string {
	s, err := m.SignIn(context.Background(), ccgw.SignIn{
		Op:       "login",
		Password: "secret",
		Status:   ccgw.StateIdle,
		Session:  ccgw.Session{Agent: id, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"},
	})
	if err != nil {
		tb.Fatalf("sign in %d: %v", id, err)
	}
	return s.GUID
}

// BenchmarkHeartbeat measures Manager.Heartbeat with n live sessions, visiting
// them in a pseudo-random order so that at 1M the session table is out of cache
// as it would be in service. The IDs and GUIDs are laid out in that order, so the
// benchmark's own reads stay sequential, as a request's bytes would be hot.
func BenchmarkHeartbeat(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			m, _ := benchManager(b)
			ids := make([]ccgw.AgentID, n)
			guids := make([]string, n)
			for i := range n {
				ids[i] = ccgw.MinAgentID + ccgw.AgentID(i)
				guids[i] = benchSignIn(b, m, ids[i])
			}
			rng := rand.New(rand.NewPCG(1, 2))
			order := rng.Perm(n)
			sids := make([]ccgw.AgentID, n)
			sguids := make([]string, n)
			for i, j := range order {
				sids[i] = ids[j]
				sguids[i] = strings.Clone(guids[j])
			}
			ids, guids, order = nil, nil, nil
			runtime.GC()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := m.Heartbeat(context.Background(), sids[i], sguids[i], ""); err != nil {
					b.Fatal(err)
				}
				if i++; i == n {
					i = 0
				}
			}
			if got := m.Stats(context.Background()).Heartbeats; got != uint64(b.N) {
				b.Fatalf("heartbeats = %d, want %d", got, b.N)
			}
		})
	}
}

// BenchmarkSweep measures the expiry bookkeeping: one op is one tick's
// Sweep(now) with n live sessions spread evenly over the timeout (2m, tick 1s, so
// n/120 sessions fall due per tick). Between sweeps, untimed, the sessions
// heartbeat through Manager.Heartbeat once per timeout, just before they fall
// due, so every due entry is re-filed one timeout on ("alive"), or a fraction of
// them stays silent and is signed out ("expire=1pct"; each signed-in again, with a
// new GUID, a timeout later, so that n stays put). Besides ns/op it reports
// due/op (live sessions that fell due per tick), expired/op and ns/due.
func BenchmarkSweep(b *testing.B) {
	for _, n := range benchSizes {
		for _, v := range []struct {
			name string
			pct  uint64 // percent of the due sessions left silent each round
		}{{"alive", 0}, {"expire=1pct", 1}} {
			b.Run(fmt.Sprintf("sessions=%d/%s", n, v.name), func(b *testing.B) {
				benchSweep(b, n, v.pct)
			})
		}
	}
}

// benchSweep runs BenchmarkSweep for n sessions of which pct percent go silent
// in each round of one timeout.
//
// The timeline, in ticks of 1s from benchStart: session i belongs to cohort
// c = i%120 and signs in at c+0.5. In round r, cohort c heartbeats at
// 120(r+1)+c+0.5 (prep, untimed, before the round) and falls due at the sweep of
// op k = 120r+c, at 121+k+0.5: its entry is re-filed to op k+120, or, if it did
// not heartbeat, it is signed out. A signed-out session signs in again at its
// cohort's heartbeat time of the next round and is due in the round after.
func benchSweep(b *testing.B, n int, pct uint64) {
	const rounds = 120 // ticks per timeout
	m, clk := benchManager(b)
	tick := m.cfg.Tick
	if m.cfg.Timeout != rounds*tick {
		b.Fatalf("timeout %v, tick %v: want %d ticks per timeout", m.cfg.Timeout, tick, rounds)
	}
	at := func(ticks int) time.Time { return benchStart.Add(time.Duration(ticks)*tick + tick/2) }

	cohorts := make([][]ccgw.AgentID, rounds)
	guids := make(map[ccgw.AgentID]string, n)
	for i := range n {
		id := ccgw.MinAgentID + ccgw.AgentID(i)
		cohorts[i%rounds] = append(cohorts[i%rounds], id)
	}
	for c := range rounds {
		clk.Set(at(c))
		for _, id := range cohorts[c] {
			guids[id] = benchSignIn(b, m, id)
		}
		m.Sweep(at(c))
	}
	silent := make(map[ccgw.AgentID]bool) // left silent this round, signed in again the next
	// prep heartbeats round r's sessions and signs in those that expired in round
	// r-1. It returns, per cohort, how many sessions fall due in round r and how
	// many of those were left silent.
	prep := func(r int) (due, quiet [rounds]int) {
		for c := range rounds {
			clk.Set(at(rounds*(r+1) + c))
			for _, id := range cohorts[c] {
				if silent[id] {
					delete(silent, id)
					guids[id] = benchSignIn(b, m, id) // due in round r+1
					continue
				}
				due[c]++
				if pct > 0 && benchHash(uint64(id), uint64(r))%100 < pct {
					silent[id] = true
					quiet[c]++
					continue
				}
				if _, err := m.Heartbeat(context.Background(), id, guids[id], ""); err != nil {
					b.Fatalf("round %d: heartbeat %d: %v", r, id, err)
				}
			}
		}
		return due, quiet
	}
	runtime.GC()

	b.ReportAllocs()
	var due, quiet [rounds]int
	var k, totalDue, expired, wantExpired int
	for b.Loop() {
		c := k % rounds
		if c == 0 {
			b.StopTimer()
			due, quiet = prep(k / rounds)
			b.StartTimer()
		}
		totalDue += due[c]
		wantExpired += quiet[c]
		expired += m.Sweep(at(rounds + 1 + k))
		k++
	}
	if expired != wantExpired {
		b.Fatalf("after %d sweeps: expired %d, want %d", k, expired, wantExpired)
	}
	if live := m.Live(); live < n-len(silent) || live > n {
		b.Fatalf("live = %d, want %d to %d", live, n-len(silent), n)
	}
	b.ReportMetric(float64(totalDue)/float64(b.N), "due/op")
	b.ReportMetric(float64(expired)/float64(b.N), "expired/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(totalDue), "ns/due")
}

// benchHash mixes x and y into a pseudo-random number (splitmix64's finaliser).
func benchHash(x, y uint64) uint64 {
	z := x*0x9e3779b97f4a7c15 + y
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
