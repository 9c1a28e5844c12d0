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
	"github.com/ccgw/ccgw/internal/guard"
	"github.com/ccgw/ccgw/internal/session/sessiontest"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// BenchmarkHeartbeat measures a heartbeat of n live sessions, in a
// pseudo-random order: Service on an in-memory shared store with its auth
// cache on (a cluster's node, without the network to Redis), and Service as
// one node runs it (Local, on a mem.Shared kept in a log, here in memory).
// (Until issue 13 it ran session.Manager, the one-node implementation, beside
// them: docs/benchmarks.md has the figures of that run.) It reports the heap each session
// holds (live heap after a GC, divided by n: the store's records included),
// for what running one node on Service would cost.
func BenchmarkHeartbeat(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		for _, impl := range []string{"cluster", "node"} {
			b.Run(fmt.Sprintf("impl=%s/sessions=%d", impl, n), func(b *testing.B) {
				benchHeartbeat(b, impl, n)
			})
		}
	}
}

func benchHeartbeat(b *testing.B, impl string, n int) {
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	clk := clock.NewVirtual(time.Unix(1_700_000_000, 0))
	var svc ccgw.SessionService
	switch impl {
	case "node":
		set := ccgw.SessionSettings{Lockouts: guard.NewMemLockouts(), Clock: clk, Directory: sessiontest.Directory{}}
		set.Defaults()
		db, _, err := mem.OpenShared(mem.Durable{Log: mem.New(), Deadline: func(s *ccgw.Session) int64 { return set.Deadline(clk.Now(), s.Mode) }})
		if err != nil {
			b.Fatal(err)
		}
		st, err := New(Config{SessionSettings: set, Store: db, Local: true})
		if err != nil {
			b.Fatal(err)
		}
		watch(b, st)
		svc = st
	default:
		st, err := New(Config{SessionSettings: ccgw.SessionSettings{Lockouts: guard.NewMemLockouts(), Clock: clk, Directory: sessiontest.Directory{}}, Store: mem.NewShared()})
		if err != nil {
			b.Fatal(err)
		}
		watch(b, st)
		svc = st
	}
	ids := make([]ccgw.AgentID, n)
	guids := make([]string, n)
	for i, j := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
		id := ccgw.MinAgentID + ccgw.AgentID(j)
		s, err := svc.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: sessiontest.Password, Status: ccgw.StateIdle,
			Session: ccgw.Session{Agent: id, Phone: "70001", IP: "127.0.0.1", MediaType: "TTF"}})
		if err != nil {
			b.Fatal(err)
		}
		ids[i], guids[i] = id, strings.Clone(s.GUID)
	}
	// A first heartbeat of each fills the node's cache, as in service.
	for i := range n {
		if _, err := svc.Heartbeat(context.Background(), ids[i], guids[i], ""); err != nil {
			b.Fatal(err)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSession := float64(after.HeapAlloc-before.HeapAlloc-uint64(n)*(4+16)) / float64(n) // less the benchmark's own ids and GUID headers
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.Heartbeat(context.Background(), ids[i], guids[i], ""); err != nil {
			b.Fatal(err)
		}
		if i++; i == n {
			i = 0
		}
	}
	b.ReportMetric(perSession, "heap-B/session")
	runtime.KeepAlive(svc)
}
