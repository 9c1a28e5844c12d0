package session

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/push"
	"github.com/ccgw/ccgw/internal/push/pushtest"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// Push delivery end to end (issue 4, STYLE.md §4): 10k push-mode sessions on a
// real Manager, wired to a real push.Pusher as cmd/ccgw wires them
// (Config.Notify → Pusher.Notify, the Manager the Pusher's Source, default
// Pusher settings: 256 workers), pushing over loopback HTTP to a local receiver
// that answers {"message":"success","retcode":"0"}. One op is one round:
// Manager.Update gives every agent one event (producers=P goroutines share the
// agents, as P requests or simulator calls at once would), and the round ends
// when the Pusher delivered all of them; the acknowledgements are then flushed
// as Run's tick does.
//
//   - store=memory: the sessions in an in-memory store (mem.Store), no event
//     store: the Manager's and the Pusher's own cost.
//   - store=bolt: sessions and events in one bbolt file in b.TempDir(), as
//     cmd/ccgw runs: each Update writes the session and appends its event (two
//     writes, each waiting for a commit, an fsync shared by the writes that
//     meet in it), each round's acknowledgements are one more transaction.
//
// producers=8 keeps the Pusher busy without crowding it; producers=256 is many
// concurrent writers, which the bolt store needs to fill its commits.
//
//	go test -run '^$' -bench PushEndToEnd -benchtime 10x ./internal/session/

// benchPushAgents is the number of push-mode sessions.
const benchPushAgents = 10000

// benchPushOK is the receiver's answer.
const benchPushOK = `{"message":"success","retcode":"0"}`

// benchPushEmit is one event, as one state change makes.
var benchPushEmit = []ccgw.Emit{{Type: ccgw.EvSetNotReadySuccess, Content: ccgw.Content(map[string]string{"reason": "0"})}}

func benchPushEmitOne(*ccgw.Session, time.Time) ([]ccgw.Emit, error) { return benchPushEmit, nil }

func BenchmarkPushEndToEnd(b *testing.B) {
	for _, st := range []string{"memory", "bolt"} {
		for _, producers := range []int{8, 256} {
			b.Run(fmt.Sprintf("store=%s/producers=%d/agents=%d", st, producers, benchPushAgents), func(b *testing.B) {
				benchPushE2E(b, st == "bolt", producers)
			})
		}
	}
}

func benchPushE2E(b *testing.B, useBolt bool, producers int) {
	var received atomic.Uint64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		io.WriteString(w, benchPushOK)
	}))
	defer rcv.Close()

	var pusher *push.Pusher // set before any session can notify it, as in main
	cfg := Config{SessionSettings: ccgw.SessionSettings{Directory: benchDirectory{}, Notify: func(id ccgw.AgentID) { pusher.Notify(id) }}}
	if useBolt {
		st, err := bolt.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		cfg.Store, cfg.Events = st, st
	} else {
		cfg.Store = mem.New()
	}
	m, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	pusher = push.New(push.Config{Source: m, Policy: &push.CallbackPolicy{AllowPrivate: true}})
	pusher.Start()
	defer pusher.Close()

	ids := make([]ccgw.AgentID, benchPushAgents)
	for i := range ids {
		ids[i] = ccgw.MinAgentID + ccgw.AgentID(i)
	}
	benchPushEach(ids, 256, func(id ccgw.AgentID) { // set-up: as fast as it goes
		s := ccgw.Session{Agent: id, Phone: "70001", Mode: ccgw.ModePush, CallbackURI: rcv.URL + pushtest.Path, ServiceToken: "token"}
		if _, err := m.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "secret", Status: ccgw.StateIdle, Session: s}); err != nil {
			b.Errorf("sign in %d: %v", id, err)
		}
	})
	if b.Failed() {
		b.FailNow()
	}
	// The sign-ins' events (AgentState_Ready and AgentOther_InService) go first.
	want := uint64(2 * benchPushAgents)
	if !benchPushWait(pusher, want, time.Minute) {
		b.Fatalf("sign-in events: %+v, want %d delivered", pusher.Stats(), want)
	}
	m.FlushAcks()
	start := pusher.Stats()

	b.ReportAllocs()
	var failed atomic.Int64
	for b.Loop() {
		benchPushEach(ids, producers, func(id ccgw.AgentID) {
			if _, err := m.UpdateAny(context.Background(), id, benchPushEmitOne); err != nil {
				failed.Add(1)
			}
		})
		want += benchPushAgents
		if failed.Load() > 0 || !benchPushWait(pusher, want, time.Minute) {
			b.Fatalf("%d updates failed; %+v, want %d delivered", failed.Load(), pusher.Stats(), want)
		}
		m.FlushAcks()
	}
	st := pusher.Stats()
	if st.Failures != 0 || st.Delivered != want || received.Load() != st.Pushes {
		b.Fatalf("Stats %+v, want %d delivered and no failure; receiver got %d pushes", st, want, received.Load())
	}
	secs := b.Elapsed().Seconds()
	b.ReportMetric(float64(st.Delivered-start.Delivered)/secs, "events/s")
	b.ReportMetric(float64(st.Pushes-start.Pushes)/secs, "pushes/s")
}

// benchPushEach calls fn for every id, from n goroutines.
func benchPushEach(ids []ccgw.AgentID, n int, fn func(ccgw.AgentID)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				fn(ids[i])
			}
		}()
	}
	wg.Wait()
}

// benchPushWait waits until p delivered want events, or for up to limit.
func benchPushWait(p *push.Pusher, want uint64, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for p.Stats().Delivered < want {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Microsecond)
	}
	return true
}
