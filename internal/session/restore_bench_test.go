package session

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/guid"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// BenchmarkRestoreAgainstShared restores n sessions, each with its two
// sign-in events undelivered, from one bbolt file: Manager.Restore against
// mem.OpenShared (the one-node store of internal/cluster), in one run, each
// with the collector off as cmd/ccgw runs it. It reports the live heap per
// session after the restore and a collection.
//
//	go test -run '^$' -bench RestoreAgainstShared -benchtime 1x -count 3 ./internal/session/
func BenchmarkRestoreAgainstShared(b *testing.B) {
	for _, n := range restoreSizes {
		dir := b.TempDir()
		fillBolt(b, dir, n)
		now := benchStart.Add(time.Hour)
		b.Run(fmt.Sprintf("sessions=%d/manager", n), func(b *testing.B) {
			for b.Loop() {
				restoreOnce(b, dir, n, func(st *bolt.Store) any {
					key, _ := st.Key("guid", 32)
					m, err := New(Config{SessionSettings: ccgw.SessionSettings{Clock: clock.NewVirtual(now), Directory: benchDirectory{}},
						Store: st, Events: st, GUIDKey: key})
					if err != nil {
						b.Fatal(err)
					}
					got, err := m.Restore()
					if err != nil || got != n {
						b.Fatalf("Restore = %d, %v; want %d", got, err, n)
					}
					return m
				})
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/shared", n), func(b *testing.B) {
			for b.Loop() {
				restoreOnce(b, dir, n, func(st *bolt.Store) any {
					set := ccgw.SessionSettings{}
					set.Defaults()
					db, got, err := mem.OpenShared(mem.Durable{Log: st, Deadline: func(s *ccgw.Session) int64 { return set.Deadline(now, s.Mode) }})
					if err != nil || got != n {
						b.Fatalf("OpenShared = %d, %v; want %d", got, err, n)
					}
					return db
				})
			}
		})
	}
}

// restoreOnce opens the bbolt file in dir, times restore on it with the
// collector off, and reports the live heap per session of what it returns.
func restoreOnce(b *testing.B, dir string, n int, restore func(*bolt.Store) any) {
	b.StopTimer()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	st, err := bolt.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	gc := debug.SetGCPercent(-1)
	kept := restore(st)
	debug.SetGCPercent(gc)
	b.StopTimer()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/session")
	runtime.KeepAlive(kept)
	st.Close()
	b.StartTimer()
}

// fillBolt stores n sessions as a sign-in makes them, each with its two
// sign-in events, in dir's bbolt file.
func fillBolt(b *testing.B, dir string, n int) {
	st, err := bolt.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	var ops []ccgw.LogOp
	for i := range n {
		id := ccgw.AgentID(101 + i)
		req := ccgw.SignIn{Op: "login", Status: ccgw.StateIdle,
			Session: ccgw.Session{Agent: id, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"}}
		s := req.Start(ccgw.Agent{ID: id, Skills: benchSkills}, uint64(1+i), guid.New("AgentGateway0"), benchStart)
		var evs []ccgw.Event
		for j, em := range req.Events() {
			evs = append(evs, ccgw.Event{Type: em.Type, GenTime: ccgw.Millis(benchStart), WorkNo: id.String(),
				Content: em.Content, Seq: uint64(j + 1)})
		}
		ops = append(ops, ccgw.LogOp{Put: &s, Ref: ccgw.SessionRef{Agent: id, Gen: s.Gen}, Events: evs})
		if len(ops) == 10000 || i == n-1 {
			if err := st.Commit(ops); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
}

// restoreSizes are the numbers of sessions BenchmarkRestoreAgainstShared restores.
var restoreSizes = []int{100000, 1000000}
