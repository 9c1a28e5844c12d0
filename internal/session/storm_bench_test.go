package session

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// stormSessions is how many sessions BenchmarkSweepStorm's sweep signs out.
const stormSessions = 10000

// stormStart is the storm benchmarks' fake clock's start, on a whole second.
var stormStart = time.Unix(1_700_000_000, 0)

// stormNode is one node as --store bolt runs it: Service (Local, its auth
// cache on) on a
// mem.Shared kept in the bbolt file in dir, restored from it with the
// default 2m timeout at stormStart, so every session restored has the same
// deadline.
type stormNode struct {
	st   *bolt.Store
	db   *mem.Shared
	s    *Service
	fc   *clock.Virtual
	n    int // sessions restored
	tick time.Duration
}

func openStormNode(tb testing.TB, dir string) *stormNode {
	tb.Helper()
	st, err := bolt.Open(dir)
	if err != nil {
		tb.Fatal(err)
	}
	fc := clock.NewVirtual(stormStart)
	set := ccgw.SessionSettings{Clock: fc, Directory: sessiontest.Directory{}, Lockouts: guard.NewMemLockouts(), Log: slog.New(slog.DiscardHandler)}
	set.Defaults()
	db, n, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 { return set.Deadline(fc.Now(), s.Mode) }})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{SessionSettings: set, Store: db, Local: true})
	if err != nil {
		tb.Fatal(err)
	}
	watch(tb, s) // the auth cache on, as Run has it
	return &stormNode{st: st, db: db, s: s, fc: fc, n: n, tick: set.Tick}
}

// due returns the time at which the sweep signs every restored session out:
// a tick after their deadline.
func (n *stormNode) due() time.Time { return stormStart.Add(2*time.Minute + n.tick) }

func (n *stormNode) close(tb testing.TB) {
	n.s.Close()
	n.db.Flush()
	if err := n.st.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSweepStorm measures the sweep that signs out 10,000 sessions due
// at once (issue 13: a site falls silent) on one node kept in bbolt, as
// --store bolt runs it. One op is one Sweep(now): claiming the due sessions,
// deciding their endings, committing the sign-outs (sessions and events
// deleted, in one commit per 250) and announcing them; it reports
// ns/signout besides. Each op starts from a copy of a data file holding the
// 10,000 sessions and their sign-in events, restored into a fresh node;
// set-up is untimed.
//
//	go test -run '^$' -bench SweepStorm -benchtime 3x ./internal/session/
func BenchmarkSweepStorm(b *testing.B) {
	template := stormTemplate(b)
	b.Run("sessions=10000", func(b *testing.B) {
		b.ReportAllocs()
		signOuts := 0
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			copyFile(b, template, filepath.Join(dir, "ccgw.db"))
			node := openStormNode(b, dir)
			if node.n != stormSessions {
				b.Fatalf("restored %d, want %d", node.n, stormSessions)
			}
			now := node.due()
			node.fc.Set(now)
			b.StartTimer()
			n := node.s.Sweep(now)
			b.StopTimer()
			if n != stormSessions {
				b.Fatalf("swept %d, want %d", n, stormSessions)
			}
			signOuts += n
			left := 0
			node.st.LoadSessions(func(*ccgw.Session) error { left++; return nil })
			if left != 0 {
				b.Fatalf("%d sessions still stored", left)
			}
			node.close(b)
			b.StartTimer()
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(signOuts), "ns/signout")
	})
}

// BenchmarkHeartbeatDuringStorm measures what BenchmarkSweepStorm's sweep
// costs the heartbeats of other agents: four goroutines heartbeat their own
// agents (every 200 µs, leaving the CPU to the sweep as HTTP clients would)
// while one Sweep runs, and the heartbeats' latency is reported (beat-p50-ns,
// beat-p99-ns, beat-max-ns) with the sweep's time (sweep-ns), and the p99 of
// the same goroutines' heartbeats in the 30 ms before the sweep
// (quiet-p99-ns), the baseline. A heartbeat waits for no commit and takes no
// lock held across one.
//
//	go test -run '^$' -bench HeartbeatDuringStorm -benchtime 5x ./internal/session/
func BenchmarkHeartbeatDuringStorm(b *testing.B) {
	template := stormTemplate(b)
	ctx := context.Background()
	var all, quiet []time.Duration
	var sweeps time.Duration
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		copyFile(b, template, filepath.Join(dir, "ccgw.db"))
		node := openStormNode(b, dir)
		m := node.s
		// Four agents heartbeat just before the deadline of all: they stay.
		const beaters = 4
		now := node.due()
		node.fc.Set(now.Add(-node.tick - time.Millisecond))
		var guids [beaters]string
		for i := range beaters {
			s, ok := m.Lookup(ctx, ccgw.MinAgentID+ccgw.AgentID(i))
			if !ok {
				b.Fatal("no session")
			}
			guids[i] = s.GUID
			if _, err := m.Heartbeat(ctx, s.Agent, s.GUID, ""); err != nil {
				b.Fatal(err)
			}
		}
		node.fc.Set(now)
		stop := make(chan struct{})
		lat := make([][]time.Duration, beaters)
		began := make([][]time.Time, beaters)
		var wg sync.WaitGroup
		for g := range beaters {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					t0 := time.Now()
					if _, err := m.Heartbeat(ctx, ccgw.MinAgentID+ccgw.AgentID(g), guids[g], ""); err != nil {
						b.Error(err)
						return
					}
					lat[g] = append(lat[g], time.Since(t0))
					began[g] = append(began[g], t0)
					time.Sleep(200 * time.Microsecond)
				}
			})
		}
		time.Sleep(30 * time.Millisecond)
		b.StartTimer()
		t0 := time.Now()
		n := m.Sweep(now)
		t1 := time.Now()
		sweeps += t1.Sub(t0)
		b.StopTimer()
		close(stop)
		wg.Wait()
		if n != stormSessions-beaters {
			b.Fatalf("swept %d, want %d", n, stormSessions-beaters)
		}
		for g, l := range lat {
			for j, d := range l {
				if at := began[g][j]; at.Before(t0) {
					quiet = append(quiet, d)
				} else if at.Before(t1) {
					all = append(all, d)
				}
			}
		}
		node.close(b)
		b.StartTimer()
	}
	if len(all) == 0 || len(quiet) == 0 {
		b.Fatal("no heartbeat during the sweeps or before them")
	}
	slices.Sort(all)
	slices.Sort(quiet)
	b.ReportMetric(float64(quiet[len(quiet)*99/100].Nanoseconds()), "quiet-p99-ns")
	b.ReportMetric(float64(sweeps.Nanoseconds())/float64(b.N), "sweep-ns")
	b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "beat-p50-ns")
	b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "beat-p99-ns")
	b.ReportMetric(float64(all[len(all)-1].Nanoseconds()), "beat-max-ns")
}

// stormTemplate signs stormSessions agents in on a node kept in a bbolt file
// (64 at a time, so that their commits are shared) and returns the file's
// path.
func stormTemplate(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	node := openStormNode(b, dir)
	var wg sync.WaitGroup
	var next atomic.Int32
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < stormSessions; i = next.Add(1) - 1 {
				req := ccgw.SignIn{Op: "login", Password: sessiontest.Password, Status: ccgw.StateIdle, SkipPassword: true,
					Session: ccgw.Session{Agent: ccgw.MinAgentID + ccgw.AgentID(i), Phone: "70001", MediaType: "TTF"}}
				if _, err := node.s.SignIn(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	node.close(b)
	return filepath.Join(dir, "ccgw.db")
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}
