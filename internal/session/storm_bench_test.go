package session

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/store/bolt"
)

// stormSessions is how many sessions BenchmarkSweepStorm's sweep signs out.
const stormSessions = 10000

// BenchmarkSweepStorm measures the sweep that signs out 10,000 sessions due at
// once (issue 13: a site falls silent), on bbolt, with sessions and events in
// the one store as ccgw runs it. One op is one Sweep(now): taking the sessions
// out of the table, writing their deletions (sessions and stored events) and
// announcing them; it reports ns/signout besides.
//
//   - batched: as ccgw runs, SignOutBatch 5000, sessions and events deleted in
//     one commit per batch.
//   - one-at-a-time: the path before batching, for the ratio in the same run:
//     each sign-out written alone, its session deleted in one commit and its
//     events in another (SignOutBatch 1, on a store that cannot do both in one).
//
// Each op starts from a copy of a data file holding the 10,000 sessions and
// their sign-in events (made once, by real sign-ins), restored into a fresh
// Manager: Restore gives every one the same deadline. Set-up is untimed.
//
//	go test -run '^$' -bench SweepStorm -benchtime 3x ./internal/session/
func BenchmarkSweepStorm(b *testing.B) {
	template := stormTemplate(b)
	for _, v := range []struct {
		name  string
		batch int  // Config.SignOutBatch
		split bool // hide DeleteSessionsEvents: session and events in two commits
	}{
		{"batched", 0, false},
		{"one-at-a-time", 1, true},
	} {
		b.Run(v.name+"/sessions=10000", func(b *testing.B) {
			b.ReportAllocs()
			signOuts := 0
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				copyFile(b, template, filepath.Join(dir, "ccgw.db"))
				st, err := bolt.Open(dir)
				if err != nil {
					b.Fatal(err)
				}
				var store ccgw.SessionStore = st
				var events ccgw.EventStore = st
				if v.split {
					sp := splitStore{st}
					store, events = sp, sp
				}
				fc := clock.NewVirtual(benchStart)
				m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: benchDirectory{}}, Store: store, Events: events, SignOutBatch: v.batch})
				if err != nil {
					b.Fatal(err)
				}
				if n, err := m.Restore(); err != nil || n != stormSessions {
					b.Fatalf("restored %d (%v), want %d", n, err, stormSessions)
				}
				now := benchStart.Add(m.Timeout())
				fc.Set(now)
				b.StartTimer()
				n := m.Sweep(now)
				b.StopTimer()
				if n != stormSessions {
					b.Fatalf("swept %d, want %d", n, stormSessions)
				}
				signOuts += n
				left := 0
				st.LoadSessions(func(*ccgw.Session) error { left++; return nil })
				if left != 0 {
					b.Fatalf("%d sessions still stored", left)
				}
				st.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(signOuts), "ns/signout")
		})
	}
}

// splitStore is a bolt.Store without DeleteSessionsEvents: the Manager then
// deletes sessions and drops events in separate commits, as before batching.
type splitStore struct{ st *bolt.Store }

func (s splitStore) PutSession(x *ccgw.Session) error              { return s.st.PutSession(x) }
func (s splitStore) DeleteSession(id ccgw.AgentID, g uint64) error { return s.st.DeleteSession(id, g) }
func (s splitStore) DeleteSessions(refs []ccgw.SessionRef) error   { return s.st.DeleteSessions(refs) }
func (s splitStore) LoadSessions(fn func(*ccgw.Session) error) error {
	return s.st.LoadSessions(fn)
}
func (s splitStore) Close() error { return s.st.Close() }
func (s splitStore) AppendEvents(id ccgw.AgentID, g uint64, evs []ccgw.Event) error {
	return s.st.AppendEvents(id, g, evs)
}
func (s splitStore) AckEvents(acks []ccgw.EventAck) error       { return s.st.AckEvents(acks) }
func (s splitStore) DropEvents(id ccgw.AgentID, g uint64) error { return s.st.DropEvents(id, g) }
func (s splitStore) DropSignIns(refs []ccgw.SessionRef) error   { return s.st.DropSignIns(refs) }
func (s splitStore) LoadEvents(fn func(ccgw.AgentID, uint64, uint64, []ccgw.Event) error) error {
	return s.st.LoadEvents(fn)
}

// stormTemplate signs stormSessions agents in on a bbolt file (64 at a time, so
// that their commits are shared) and returns the file's path.
func stormTemplate(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	st, err := bolt.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(benchStart), Directory: benchDirectory{}}, Store: st, Events: st})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var next atomic.Int32
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < stormSessions; i = next.Add(1) - 1 {
				req := ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle,
					Session: ccgw.Session{Agent: ccgw.MinAgentID + ccgw.AgentID(i), Phone: "70001", MediaType: "TTF"}}
				if _, err := m.SignIn(context.Background(), req); err != nil {
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
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
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

// BenchmarkHeartbeatDuringStorm measures what a sweep of 10,000 due sessions
// on bbolt (BenchmarkSweepStorm's) costs the heartbeats of other agents: four
// goroutines heartbeat their own agents (every 200 µs, so that they leave the
// CPU to the sweep as HTTP clients would) while one Sweep runs, and the
// heartbeats' latency is reported (beat-p50-ns, beat-p99-ns, beat-max-ns)
// with the sweep's time (sweep-ns), and the p99 of the same goroutines'
// heartbeats in the 30 ms before the sweep (quiet-p99-ns), the baseline. A heartbeat takes no lock the sweep holds
// for more than one entry, does no I/O and waits for no commit, so its tail
// stays in microseconds however long the sweep's commits take.
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
		st, err := bolt.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		fc := clock.NewVirtual(benchStart)
		m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: benchDirectory{}}, Store: st, Events: st})
		if err != nil {
			b.Fatal(err)
		}
		if n, err := m.Restore(); err != nil || n != stormSessions {
			b.Fatalf("restored %d (%v), want %d", n, err, stormSessions)
		}
		// Four agents heartbeat just before the deadline of all: they stay.
		const beaters = 4
		now := benchStart.Add(m.Timeout())
		fc.Set(now.Add(-time.Millisecond))
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
		fc.Set(now)
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
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
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

// BenchmarkSweepRestTimeouts measures a sweep in which the rests of 2,000
// agents end together (a centre's break), on bbolt as ccgw runs it: each
// agent is reminded (AgentState_Rest_Timeout) and its session written with
// the event. One op is one Sweep; set-up (sign-ins, rests) is untimed.
//
//	go test -run '^$' -bench SweepRestTimeouts -benchtime 3x ./internal/session/
func BenchmarkSweepRestTimeouts(b *testing.B) {
	const agents = 2000
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		st, err := bolt.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		fc := clock.NewVirtual(benchStart)
		m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: fc, Directory: benchDirectory{}}, Store: st, Events: st})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for w := range 64 {
			wg.Go(func() {
				for i := w; i < agents; i += 64 {
					id := ccgw.MinAgentID + ccgw.AgentID(i)
					s, err := m.SignIn(ctx, ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle,
						Session: ccgw.Session{Agent: id, Phone: "70001", MediaType: "TTF"}})
					if err == nil {
						_, err = m.Update(ctx, id, s.GUID, func(s *ccgw.Session, now time.Time) ([]ccgw.Emit, error) {
							s.State, s.StateReason, s.StateSince = ccgw.StateRest, 7, ccgw.Millis(now)
							s.RestSeq++
							s.RestUntil = ccgw.Millis(now.Add(30 * time.Second))
							return []ccgw.Emit{{Type: ccgw.EvSetRestSuccess}}, nil
						})
					}
					if err != nil {
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
		fc.Advance(30 * time.Second)
		b.StartTimer()
		if n := m.Sweep(fc.Now()); n != 0 {
			b.Fatalf("signed out %d", n)
		}
		b.StopTimer()
		if err := st.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
