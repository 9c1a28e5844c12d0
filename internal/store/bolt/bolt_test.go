package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"sync"
	"testing"

	"github.com/ccgw/ccgw"
	bolt "go.etcd.io/bbolt"
)

// tSessOpen opens a store in a fresh temporary directory, closed at cleanup.
func tSessOpen(tb testing.TB) (*Store, string) {
	tb.Helper()
	dir := tb.TempDir()
	s, err := Open(dir)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, dir
}

// tSessLoad returns every stored session by agent.
func tSessLoad(tb testing.TB, s *Store) map[ccgw.AgentID]ccgw.Session {
	tb.Helper()
	out := map[ccgw.AgentID]ccgw.Session{}
	err := s.LoadSessions(func(sess *ccgw.Session) error {
		if _, dup := out[sess.Agent]; dup {
			tb.Fatalf("agent %d loaded twice", sess.Agent)
		}
		out[sess.Agent] = *sess
		return nil
	})
	if err != nil {
		tb.Fatalf("LoadSessions: %v", err)
	}
	return out
}

func tSessFull(id ccgw.AgentID, gen uint64) ccgw.Session {
	return ccgw.Session{
		Agent: id, Gen: gen,
		GUID: "0a1b2c3d-0000-1111-2222-333344445555.AgentGateway0", GUIDIssued: 1767225600000,
		PrevGUID: "ffffffff-0000-1111-2222-333344445555.AgentGateway0", PrevUntil: 1767225720000,
		LoginTime: 1767225600000, Op: "forceLogin", MediaType: "TTF",
		Phone: "70001", AutoAnswer: true, AutoEnterIdle: true, ReleasePhone: true, AgentType: 4,
		IP: "10.0.0.1", TalkRight: true,
		Mode: ccgw.ModePush, CallbackURI: "https://crm.example/cb", ServiceToken: "tok",
		State: ccgw.StateBusy, StateReason: 3, StateSince: 1767225601000,
		Skills: []int{1, 2},
	}
}

func TestSessionRoundTrip(t *testing.T) {
	s, _ := tSessOpen(t)
	want := []ccgw.Session{
		tSessFull(ccgw.MinAgentID, 1),
		tSessFull(1001, 7),
		tSessFull(ccgw.MaxAgentID, 1<<40),
		{Agent: 4242, Gen: 2}, // zero fields round-trip too
	}
	for i := range want {
		if err := s.PutSession(&want[i]); err != nil {
			t.Fatalf("PutSession(%d): %v", want[i].Agent, err)
		}
	}
	got := tSessLoad(t, s)
	if len(got) != len(want) {
		t.Fatalf("loaded %d sessions, want %d", len(got), len(want))
	}
	for _, w := range want {
		if g := got[w.Agent]; !reflect.DeepEqual(g, w) {
			t.Fatalf("agent %d:\n got %+v\nwant %+v", w.Agent, g, w)
		}
	}
}

func TestSessionGenOrdering(t *testing.T) {
	type op struct {
		del   bool
		gen   uint64
		phone string // marks which put is stored
	}
	put := func(gen uint64, phone string) op { return op{gen: gen, phone: phone} }
	del := func(gen uint64) op { return op{del: true, gen: gen} }
	tests := []struct {
		name      string
		ops       []op
		wantGen   uint64 // 0: nothing stored
		wantPhone string
	}{
		{name: "put", ops: []op{put(1, "a")}, wantGen: 1, wantPhone: "a"},
		{name: "newer replaces", ops: []op{put(1, "a"), put(2, "b")}, wantGen: 2, wantPhone: "b"},
		{name: "older does not overwrite", ops: []op{put(2, "b"), put(1, "a")}, wantGen: 2, wantPhone: "b"},
		{name: "same gen updates", ops: []op{put(2, "b"), put(2, "c")}, wantGen: 2, wantPhone: "c"},
		{name: "delete matching", ops: []op{put(2, "b"), del(2)}},
		{name: "delete older keeps", ops: []op{put(2, "b"), del(1)}, wantGen: 2, wantPhone: "b"},
		{name: "delete newer keeps", ops: []op{put(2, "b"), del(3)}, wantGen: 2, wantPhone: "b"},
		{name: "delete missing", ops: []op{del(1)}},
		{name: "delete twice", ops: []op{put(1, "a"), del(1), del(1)}},
		{name: "put after delete", ops: []op{put(1, "a"), del(1), put(1, "b")}, wantGen: 1, wantPhone: "b"},
		// A late write of an ended sign-in must not resurrect it over its successor.
		{name: "late put of replaced sign-in", ops: []op{put(1, "a"), put(2, "b"), del(1), put(1, "a2")}, wantGen: 2, wantPhone: "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := tSessOpen(t)
			for i, o := range tt.ops {
				var err error
				if o.del {
					err = s.DeleteSession(1001, o.gen)
				} else {
					err = s.PutSession(&ccgw.Session{Agent: 1001, Gen: o.gen, Phone: o.phone})
				}
				if err != nil {
					t.Fatalf("op %d %+v: %v", i, o, err)
				}
			}
			got, ok := tSessLoad(t, s)[1001]
			if tt.wantGen == 0 {
				if ok {
					t.Fatalf("stored %+v, want nothing", got)
				}
				return
			}
			if !ok || got.Gen != tt.wantGen || got.Phone != tt.wantPhone {
				t.Fatalf("stored %+v (present %v), want gen %d phone %q", got, ok, tt.wantGen, tt.wantPhone)
			}
		})
	}
}

func TestSessionOpsTouchOnlyTheirAgent(t *testing.T) {
	s, _ := tSessOpen(t)
	for _, id := range []ccgw.AgentID{101, 102, 356, 65536 + 101} { // 65637 shares 101's low bytes
		if err := s.PutSession(&ccgw.Session{Agent: id, Gen: 5}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSession(101, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSession(&ccgw.Session{Agent: 102, Gen: 9}); err != nil {
		t.Fatal(err)
	}
	got := tSessLoad(t, s)
	want := map[ccgw.AgentID]uint64{102: 9, 356: 5, 65637: 5}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want agents %v", got, want)
	}
	for id, gen := range want {
		if got[id].Gen != gen {
			t.Fatalf("agent %d gen = %d, want %d", id, got[id].Gen, gen)
		}
	}
}

func TestSessionSurvivesReopen(t *testing.T) {
	s, dir := tSessOpen(t)
	a, b := tSessFull(1001, 3), tSessFull(1002, 4)
	for _, x := range []*ccgw.Session{&a, &b} {
		if err := s.PutSession(x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteSession(1002, 4); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s2.Close()
	got := tSessLoad(t, s2)
	if len(got) != 1 || !reflect.DeepEqual(got[1001], a) {
		t.Fatalf("after reopen: %+v, want only %+v", got, a)
	}
	// The reopened store still orders by Gen.
	if err := s2.PutSession(&ccgw.Session{Agent: 1001, Gen: 2}); err != nil {
		t.Fatal(err)
	}
	if g := tSessLoad(t, s2)[1001].Gen; g != 3 {
		t.Fatalf("older put after reopen stored gen %d, want 3", g)
	}
}

func TestSessionClose(t *testing.T) {
	s, _ := tSessOpen(t)
	if !s.Ready() {
		t.Fatal("Ready = false on an open store")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s.Ready() {
		t.Fatal("Ready = true after Close")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.PutSession(&ccgw.Session{Agent: 1001, Gen: 1}); err == nil {
		t.Fatal("PutSession after Close succeeded")
	}
	if err := s.DeleteSession(1001, 1); err == nil {
		t.Fatal("DeleteSession after Close succeeded")
	}
	if err := s.LoadSessions(func(*ccgw.Session) error { return nil }); err == nil {
		t.Fatal("LoadSessions after Close succeeded")
	}
}

func TestSessionOpen(t *testing.T) {
	t.Run("creates missing directories", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b")
		s, err := Open(dir)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		fi, err := os.Stat(filepath.Join(dir, "ccgw.db"))
		if err != nil {
			t.Fatalf("no database file: %v", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Fatalf("database file mode %v is readable by others", perm)
		}
		if n := len(tSessLoad(t, s)); n != 0 {
			t.Fatalf("new store has %d sessions", n)
		}
	})
	t.Run("path is a file", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(f); err == nil {
			s.Close()
			t.Fatal("Open on a regular file succeeded")
		}
	})
	t.Run("not a database", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "ccgw.db"), []byte("this is not a bbolt file, not at all, no"), 0o600); err != nil {
			t.Fatal(err)
		}
		if s, err := Open(dir); err == nil {
			s.Close()
			t.Fatal("Open on garbage succeeded")
		}
	})
}

func TestSessionLoadStopsOnCallbackError(t *testing.T) {
	s, _ := tSessOpen(t)
	for id := ccgw.AgentID(101); id < 106; id++ {
		if err := s.PutSession(&ccgw.Session{Agent: id, Gen: 1}); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := s.LoadSessions(func(*ccgw.Session) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("LoadSessions = %v, want the callback's error", err)
	}
	if calls != 2 {
		t.Fatalf("callback called %d times after failing, want 2", calls)
	}
}

// TestSessionLoadSkipsUndecodable checks the documented contract of LoadSessions: a
// record that cannot be decoded is skipped (the others still load) and reported.
// (Open refuses a file that has one: TestOpenRefusesAnUndecodableRecord; this
// one is written after Open.)
func TestSessionLoadSkipsUndecodable(t *testing.T) {
	s, _ := tSessOpen(t)
	for _, id := range []ccgw.AgentID{101, 103} {
		if err := s.PutSession(&ccgw.Session{Agent: id, Gen: 1}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(sessionsBucket).Put(key(102), []byte("{not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	err = s.LoadSessions(func(sess *ccgw.Session) error {
		got = append(got, int(sess.Agent))
		return nil
	})
	if err == nil {
		t.Fatal("LoadSessions hid the undecodable record")
	}
	sort.Ints(got)
	if !reflect.DeepEqual(got, []int{101, 103}) {
		t.Fatalf("loaded %v, want [101 103]: the good records around a bad one", got)
	}
	// A put over an unreadable record replaces it.
	if err := s.PutSession(&ccgw.Session{Agent: 102, Gen: 1}); err != nil {
		t.Fatal(err)
	}
	if n := len(tSessLoad(t, s)); n != 3 {
		t.Fatalf("after overwriting the bad record: %d sessions, want 3", n)
	}
}

// TestSessionConcurrentPuts writes from many goroutines at once (bbolt batches
// them); under -race. Each agent must end with its highest Gen, whatever the order.
func TestSessionConcurrentPuts(t *testing.T) {
	s, dir := tSessOpen(t)
	const agents, gens = 20, 10
	var wg sync.WaitGroup
	errs := make(chan error, agents*gens)
	for a := 0; a < agents; a++ {
		for g := 1; g <= gens; g++ {
			wg.Add(1)
			go func(id ccgw.AgentID, gen uint64) {
				defer wg.Done()
				sess := &ccgw.Session{Agent: id, Gen: gen, Phone: fmt.Sprint(gen)}
				if err := s.PutSession(sess); err != nil {
					errs <- err
				}
				if gen%3 == 0 { // deletes of older gens race the puts and never win
					if err := s.DeleteSession(id, gen-1); err != nil {
						errs <- err
					}
				}
			}(ccgw.AgentID(1000+a), uint64(g))
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		got := tSessLoad(t, s)
		if len(got) != agents {
			t.Fatalf("%d agents stored, want %d", len(got), agents)
		}
		for id, sess := range got {
			if sess.Gen != gens || sess.Phone != fmt.Sprint(gens) {
				t.Fatalf("agent %d stored gen %d phone %q, want gen %d", id, sess.Gen, sess.Phone, gens)
			}
		}
	}
	check(s)
	s.Close()
	s2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	check(s2)
}

// TestKey checks that a key is made once, kept across a reopen, and that names
// and lengths give different keys.
func TestKey(t *testing.T) {
	dir := t.TempDir()
	st, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := st.Key("guid", 32)
	if err != nil || len(k1) != 32 {
		t.Fatalf("Key = %x, %v", k1, err)
	}
	again, _ := st.Key("guid", 32)
	other, _ := st.Key("other", 32)
	if !bytes.Equal(k1, again) || bytes.Equal(k1, other) || bytes.Equal(k1, make([]byte, 32)) {
		t.Fatalf("keys %x, again %x, other %x: want one stable random key per name", k1, again, other)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if k, _ := st2.Key("guid", 32); !bytes.Equal(k, k1) {
		t.Fatalf("key after reopen %x, want %x", k, k1)
	}
}

// TestPutSessionEvents checks that a session and its events go in together: the
// session as PutSession stores it (a later sign-in is not overwritten) and the
// events as AppendEvents does (acknowledged ones skipped).
func TestPutSessionEvents(t *testing.T) {
	s, _ := tSessOpen(t)
	sess := tSessFull(1001, 3)
	if err := s.AckEvents([]ccgw.EventAck{{Agent: 1001, Gen: 3, Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	evs := []ccgw.Event{
		{Type: ccgw.EvReady, GenTime: 1, WorkNo: "1001", Seq: 1},
		{Type: ccgw.EvWork, GenTime: 2, WorkNo: "1001", Seq: 2},
		{Type: ccgw.EvReady, GenTime: 3, WorkNo: "1001", Seq: 3},
	}
	if err := s.PutSessionEvents(&sess, evs); err != nil {
		t.Fatal(err)
	}
	if got := tSessLoad(t, s)[1001]; !reflect.DeepEqual(got, sess) {
		t.Fatalf("session stored as %+v, want %+v", got, sess)
	}
	var seqs []uint64
	err := s.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, es []ccgw.Event) error {
		for _, e := range es {
			if id != 1001 || gen != 3 {
				t.Errorf("event of %d/%d", id, gen)
			}
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if err != nil || !reflect.DeepEqual(seqs, []uint64{2, 3}) {
		t.Fatalf("events stored: %v, %v; want seqs 2 and 3", seqs, err)
	}

	newer := tSessFull(1001, 4)
	if err := s.PutSession(&newer); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSessionEvents(&sess, evs[2:]); err != nil {
		t.Fatal(err)
	}
	if got := tSessLoad(t, s)[1001]; got.Gen != 4 {
		t.Fatalf("an earlier sign-in's write replaced gen 4 with %d", got.Gen)
	}
}

// TestDropSignIns checks that the events and acknowledgements of the sign-ins
// named are dropped, and only those.
func TestDropSignIns(t *testing.T) {
	s, _ := tSessOpen(t)
	for _, k := range []ccgw.EventAck{{Agent: 1001, Gen: 1}, {Agent: 1001, Gen: 2}, {Agent: 1002, Gen: 3}} {
		evs := []ccgw.Event{{Type: ccgw.EvReady, WorkNo: k.Agent.String(), Seq: 1}, {Type: ccgw.EvWork, WorkNo: k.Agent.String(), Seq: 2}}
		if err := s.AppendEvents(k.Agent, k.Gen, evs); err != nil {
			t.Fatal(err)
		}
		if err := s.AckEvents([]ccgw.EventAck{{Agent: k.Agent, Gen: k.Gen, Seq: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropSignIns([]ccgw.SessionRef{{Agent: 1001, Gen: 1}, {Agent: 1002, Gen: 3}}); err != nil {
		t.Fatal(err)
	}
	var left []string
	err := s.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, es []ccgw.Event) error {
		left = append(left, fmt.Sprintf("%d/%d acked %d: %d events", id, gen, acked, len(es)))
		return nil
	})
	if err != nil || !reflect.DeepEqual(left, []string{"1001/2 acked 1: 1 events"}) {
		t.Fatalf("left after the drop: %v (%v)", left, err)
	}
}

// TestDeleteSessions: the sessions of the sign-ins listed are deleted, each
// only if its stored Gen is the listed one, in one commit; listing one not
// stored is no error.
func TestDeleteSessions(t *testing.T) {
	s, _ := tSessOpen(t)
	for _, x := range []ccgw.Session{tSessFull(1001, 1), tSessFull(1002, 3), tSessFull(1003, 5)} {
		if err := s.PutSession(&x); err != nil {
			t.Fatal(err)
		}
	}
	before := s.w.commits.Load()
	if err := s.DeleteSessions([]ccgw.SessionRef{{Agent: 1001, Gen: 1}, {Agent: 1002, Gen: 2}, {Agent: 1004, Gen: 1}}); err != nil {
		t.Fatal(err)
	}
	if n := s.w.commits.Load() - before; n != 1 {
		t.Fatalf("%d commits, want 1", n)
	}
	got := tSessLoad(t, s)
	if _, ok := got[1001]; ok || got[1002].Gen != 3 || got[1003].Gen != 5 || len(got) != 2 {
		t.Fatalf("left %v, want 1002 (gen 3, not listed) and 1003", got)
	}
	if err := s.DeleteSessions(nil); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteSessionsEvents: the sessions and the events of the sign-ins listed
// go in one commit; a later sign-in of the same agent keeps its session and
// its events.
func TestDeleteSessionsEvents(t *testing.T) {
	s, _ := tSessOpen(t)
	evs := []ccgw.Event{{Type: ccgw.EvInService, Seq: 1}, {Type: ccgw.EvReady, Seq: 2}}
	for _, x := range []ccgw.Session{tSessFull(1001, 1), tSessFull(1002, 2), tSessFull(1003, 3)} {
		if err := s.PutSessionEvents(&x, evs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendEvents(1002, 1, evs); err != nil { // an earlier sign-in's, never dropped
		t.Fatal(err)
	}
	before := s.w.commits.Load()
	refs := []ccgw.SessionRef{{Agent: 1001, Gen: 1}, {Agent: 1002, Gen: 1}, {Agent: 1003, Gen: 3}}
	if err := s.DeleteSessionsEvents(refs); err != nil {
		t.Fatal(err)
	}
	if n := s.w.commits.Load() - before; n != 1 {
		t.Fatalf("%d commits, want 1", n)
	}
	got := tSessLoad(t, s)
	if len(got) != 1 || got[1002].Gen != 2 {
		t.Fatalf("left %v, want only 1002 gen 2", got)
	}
	var left []string
	if err := s.LoadEvents(func(id ccgw.AgentID, gen, acked uint64, es []ccgw.Event) error {
		left = append(left, fmt.Sprintf("%d/%d: %d events", id, gen, len(es)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(left, []string{"1002/2: 2 events"}) {
		t.Fatalf("events left %v, want those of 1002's sign-in 2", left)
	}
}
