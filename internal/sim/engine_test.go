package sim

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/session"
	"github.com/ccgw/ccgw/internal/store/bolt"
	"github.com/ccgw/ccgw/internal/store/mem"
)

// testRig is an engine on a fake clock with a real session manager.
type testRig struct {
	clock *clock.Virtual
	sm    *session.Service
	eng   *Engine
	tap   []ccgw.Event
}

// newTestRig builds the rig; opts change the engine's Config.
func newTestRig(t *testing.T, opts ...func(*Config)) *testRig {
	t.Helper()
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r := &testRig{clock: clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))}
	dir := agent.Default()
	var eng *Engine
	r.sm, err = session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     r.clock,
			Timeout:   time.Hour,
			Tap:       func(ev ccgw.Event) { r.tap = append(r.tap, ev) },
			OnChange:  func(s ccgw.Session) { eng.AgentChanged(s) },
		},
		Store: mem.NewShared(), Local: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Sessions: r.sm, Directory: dir, Clock: r.clock, RingTimeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	eng = New(cfg)
	r.eng = eng
	return r
}

func (r *testRig) signIn(t *testing.T, id ccgw.AgentID, autoAnswer bool) ccgw.Session {
	t.Helper()
	s, err := r.sm.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "p", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: id, Phone: "70001", AutoAnswer: autoAnswer, AutoEnterIdle: true, ReleasePhone: true}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// types returns the event types agent id received, in order, draining its queue.
func (r *testRig) types(t *testing.T, id ccgw.AgentID, guid string) []string {
	t.Helper()
	var out []string
	for {
		ev, _, err := r.sm.Poll(context.Background(), id, guid, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ev == nil {
			return out
		}
		out = append(out, ev.Type)
	}
}

func TestLongestIdleAgentGetsTheCall(t *testing.T) {
	r := newTestRig(t)
	a := r.signIn(t, 1001, true)
	r.clock.Advance(time.Second)
	b := r.signIn(t, 1002, true)
	r.types(t, 1001, a.GUID)
	r.types(t, 1002, b.GUID)
	id, err := r.eng.Inject(CallSpec{Skill: 1, Caller: "13800000000", TalkFor: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	got := r.types(t, 1001, a.GUID)
	want := []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvAutoAnswer, ccgw.EvTalking}
	if !equal(got, want) {
		t.Fatalf("agent 1001 got %v, want %v", got, want)
	}
	if got := r.types(t, 1002, b.GUID); len(got) != 0 {
		t.Fatalf("agent 1002 got %v, want nothing", got)
	}
	if ci, ok := r.eng.Call(id); !ok || ci.State != "talking" || ci.WorkNo != "1001" || ci.BeginTime == nil {
		t.Fatalf("call info %+v %v", ci, ok)
	}
	r.clock.Advance(30 * time.Second)
	got = r.types(t, 1001, a.GUID)
	want = []string{ccgw.EvCustomerRelease, ccgw.EvCallRelease, ccgw.EvPhoneRelease, ccgw.EvReady}
	if !equal(got, want) {
		t.Fatalf("after hang-up 1001 got %v, want %v", got, want)
	}
}

func TestNoAnswerRequeuesToNextAgent(t *testing.T) {
	r := newTestRig(t)
	a := r.signIn(t, 1001, false)
	r.clock.Advance(time.Second)
	b := r.signIn(t, 1002, false)
	r.types(t, 1001, a.GUID)
	r.types(t, 1002, b.GUID)
	if _, err := r.eng.Inject(CallSpec{Skill: 1}); err != nil {
		t.Fatal(err)
	}
	want := []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting}
	if got := r.types(t, 1001, a.GUID); !equal(got, want) {
		t.Fatalf("1001 got %v", got)
	}
	r.clock.Advance(10 * time.Second)
	want = []string{ccgw.EvNoAnswer, ccgw.EvPhoneRelease, ccgw.EvSetNotReadySuccess}
	if got := r.types(t, 1001, a.GUID); !equal(got, want) {
		t.Fatalf("1001 after ring timeout got %v", got)
	}
	want = []string{ccgw.EvIncomingCallInfo, ccgw.EvBusy, ccgw.EvPhoneAlerting, ccgw.EvPhoneOffhook, ccgw.EvRinging, ccgw.EvCustomerAlerting}
	if got := r.types(t, 1002, b.GUID); !equal(got, want) {
		t.Fatalf("1002 got %v", got)
	}
	if err := r.eng.Answer(1002, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.eng.Release(1002); err != nil {
		t.Fatal(err)
	}
	want = []string{ccgw.EvTalking, ccgw.EvCallRelease, ccgw.EvCustomerRelease, ccgw.EvPhoneRelease, ccgw.EvReady}
	if got := r.types(t, 1002, b.GUID); !equal(got, want) {
		t.Fatalf("1002 after answer+release got %v", got)
	}
	if err := r.eng.Release(1002); ccgw.CodeOf(err) != RetReleaseNoCall {
		t.Fatalf("second release: %v", err)
	}
	if q := r.eng.Queue(1); q.NoAnswer != 1 || q.Answered != 1 || q.Offered != 2 {
		t.Fatalf("queue stats %+v", q)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// heldLog is a bbolt store whose commit of a talking agent's session waits,
// once armed, until released.
type heldLog struct {
	*bolt.Store
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (s *heldLog) Commit(ops []ccgw.LogOp) error {
	for _, op := range ops {
		if op.Put != nil && op.Put.State == ccgw.StateTalking && s.armed.CompareAndSwap(true, false) {
			close(s.held)
			<-s.release
		}
	}
	return s.Store.Commit(ops)
}

// TestEngineLockNotHeldAcrossStoreWrites checks that the engine writes a real
// agent's session to the store after letting go of its lock: while that write
// is held up, the engine still answers.
func TestEngineLockNotHeldAcrossStoreWrites(t *testing.T) {
	st, err := bolt.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	hs := &heldLog{Store: st, held: make(chan struct{}), release: make(chan struct{})}
	db, _, err := mem.OpenShared(mem.Durable{Log: hs, Deadline: func(*ccgw.Session) int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	fc := clock.NewVirtual(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	dir := agent.Default()
	var eng *Engine
	sm, err := session.New(session.Config{
		SessionSettings: ccgw.SessionSettings{
			Directory: dir,
			Clock:     fc,
			Timeout:   time.Hour,
			OnChange:  func(s ccgw.Session) { eng.AgentChanged(s) },
		},
		Store: db, Local: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	eng = New(Config{Sessions: sm, Directory: dir, Clock: fc, RingTimeout: 10 * time.Second})
	if _, err := sm.SignIn(context.Background(), ccgw.SignIn{Op: "login", Password: "p", Status: ccgw.StateIdle,
		Session: ccgw.Session{Agent: 1001, Phone: "70001", AutoAnswer: true}}); err != nil {
		t.Fatal(err)
	}
	hs.armed.Store(true)
	injected := make(chan error, 1)
	go func() { _, err := eng.Inject(CallSpec{Skill: 1}); injected <- err }()
	<-hs.held // the talking agent's write is at the store
	answered := make(chan int, 1)
	go func() { answered <- len(eng.Queues()) }()
	select {
	case <-answered:
	case <-time.After(10 * time.Second): // a guard, not synchronisation: a held lock never lets go
		t.Fatal("the engine did not answer while a session write was held: its lock is held across the write")
	}
	close(hs.release)
	if err := <-injected; err != nil {
		t.Fatal(err)
	}
	var stored ccgw.AgentState
	if err := st.LoadSessions(func(s *ccgw.Session) error { stored = s.State; return nil }); err != nil || stored != ccgw.StateTalking {
		t.Fatalf("stored state %v (%v), want talking", stored, err)
	}
}
