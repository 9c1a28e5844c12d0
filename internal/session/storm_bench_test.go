package session

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

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
				m, err := New(Config{Clock: fc, Store: store, Events: events, Directory: benchDirectory{}, SignOutBatch: v.batch})
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
	m, err := New(Config{Clock: clock.NewVirtual(benchStart), Store: st, Events: st, Directory: benchDirectory{}})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var next atomic.Int32
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < stormSessions; i = next.Add(1) - 1 {
				req := SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle,
					Session: ccgw.Session{Agent: ccgw.MinAgentID + ccgw.AgentID(i), Phone: "70001", MediaType: "TTF"}}
				if _, err := m.SignIn(req); err != nil {
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
