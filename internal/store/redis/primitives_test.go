package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/redistest"
)

// The SharedStore's primitives against a real redis-server. Times are
// arbitrary milliseconds: the store keeps no clock.

// TestSignInCompareAndSet: a sign-in is read back; a second one without
// Force is refused, one that names the wrong sign-in conflicts, and one that
// names the stored one replaces it, which leaves its tombstone and last
// events for its old GUID.
func TestSignInCompareAndSet(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	const id = 1001
	rec1 := signIn(t, st, id, 11, 50_000, ccgw.EvInService)
	got, err := st.Get(ctx, id)
	if err != nil || got != rec1 {
		t.Fatalf("Get: %q, %v; want %q", got, err, rec1)
	}
	rec, tomb, err := st.Read(ctx, id)
	if err != nil || rec != rec1 || tomb != "" {
		t.Fatalf("Read: %q, %q, %v; want the record and no tombstone", rec, tomb, err)
	}
	wantCodeT(t, "Get of an agent never signed in", func() error { _, err := st.Get(ctx, 1002); return err }(), ccgw.RetNotSignedIn)

	rec2 := record(t, id, 22, ccgw.ModePoll)
	w := ccgw.SharedSignIn{ID: id, Record: rec2, Deadline: 60_000, KeepFor: time.Minute, QueueMax: 100,
		Events: events(id, ccgw.EvReady)}
	_, err = st.SignIn(ctx, w)
	wantCodeT(t, "sign-in without Force over a session", err, ccgw.RetAlreadySignedIn)
	w.Force, w.Expect, w.Replaced = true, 99, ending(id, 11, 70_000)
	if _, err := st.SignIn(ctx, w); !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("forced sign-in expecting the wrong sign-in: %v, want ErrChanged", err)
	}
	if got, _ := st.Get(ctx, id); got != rec1 {
		t.Fatalf("after the refusals the record is %q, want the first", got)
	}
	w.Expect = 11
	ended, err := st.SignIn(ctx, w)
	if err != nil || ended != rec1 {
		t.Fatalf("forced sign-in replacing sign-in 11: ended %q, %v; want the first record", ended, err)
	}
	rec, tomb, err = st.Read(ctx, id)
	if err != nil || rec != rec2 || tomb != w.Replaced.Tomb {
		t.Fatalf("Read after the replacement: %q, %q, %v", rec, tomb, err)
	}
	wantEvents(t, "new sign-in", func() (*ccgw.Event, error) { return st.Pop(ctx, id, 22) }, ccgw.EvReady)
	wantEvents(t, "old GUID", func() (*ccgw.Event, error) { return st.PopTomb(ctx, id, 11) },
		ccgw.EvInService, ccgw.EvShutdownService)
}

// TestUpdateAndEnd: an Update compares the whole record; End ends the named
// sign-in only, leaves its tombstone, and with Expect compares the record too.
func TestUpdateAndEnd(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	const id = 1001
	rec1 := signIn(t, st, id, 7, 50_000)
	rec2 := record(t, id, 7, ccgw.ModePoll, 3)
	wantOK(t, "Update", st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec1, Record: rec2, QueueMax: 100, SkillsOn: []int{3}}))
	if got, _ := st.Get(ctx, id); got != rec2 {
		t.Fatalf("after Update: %q, want %q", got, rec2)
	}
	if ids, err := st.SkillMembers(ctx, 3); err != nil || !slices.Equal(ids, []ccgw.AgentID{id}) {
		t.Fatalf("SkillMembers(3): %v, %v", ids, err)
	}
	err := st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec1, Record: record(t, id, 7, ccgw.ModePush), QueueMax: 100})
	if !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("Update with a stale Expect: %v, want ErrChanged", err)
	}

	end := ccgw.SharedEnd{ID: id, Gen: 7, Expect: rec1, Cause: ccgw.CauseSupervisor, KeepFor: time.Minute, Ending: ending(id, 7, 60_000)}
	if _, err := st.End(ctx, end); !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("End expecting a stale record: %v, want ErrChanged", err)
	}
	end.Gen = 6
	_, err = st.End(ctx, end)
	wantCodeT(t, "End of another sign-in", err, ccgw.RetNotSignedIn)
	end.Gen, end.Expect = 7, rec2
	ended, err := st.End(ctx, end)
	if err != nil || ended != rec2 {
		t.Fatalf("End: %q, %v; want %q", ended, err, rec2)
	}
	_, err = st.Get(ctx, id)
	wantCodeT(t, "Get after End", err, ccgw.RetNotSignedIn)
	rec, tomb, err := st.Read(ctx, id)
	if err != nil || rec != "" || tomb != end.Ending.Tomb {
		t.Fatalf("Read after End: %q, %q, %v; want no record and the tombstone", rec, tomb, err)
	}
	if ids, err := st.SkillMembers(ctx, 3); err != nil || len(ids) != 0 {
		t.Fatalf("SkillMembers(3) after End: %v, %v", ids, err)
	}
	_, err = st.End(ctx, end)
	wantCodeT(t, "End again", err, ccgw.RetNotSignedIn)
	wantCodeT(t, "Update after End", st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec2, Record: rec2}), ccgw.RetNotSignedIn)

	c, err := st.Counts(ctx)
	wantOK(t, "Counts", err)
	if c.Live != 0 || c.SignIns != 1 || c.SignOuts[ccgw.CauseSupervisor] != 1 || c.Drops == nil {
		t.Errorf("Counts: %+v; want 0 live, 1 sign-in, 1 supervisor sign-out", c)
	}
}

// TestQueues: events take consecutive seqs across a sign-in and its updates;
// Pop takes them in order while the sign-in lives, PopTomb the ended
// sign-in's last ones, the shutdown event last; Peek, Queued and Ack see
// the same queue.
func TestQueues(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	const id = 1001
	rec := signIn(t, st, id, 5, 50_000, ccgw.EvInService, ccgw.EvReady)
	ev, err := st.Pop(ctx, id, 5)
	if err != nil || ev == nil || ev.Seq != 1 || ev.Type != ccgw.EvInService {
		t.Fatalf("Pop: %+v, %v; want seq 1 %s", ev, err, ccgw.EvInService)
	}
	_, err = st.Pop(ctx, id, 4)
	wantCodeT(t, "Pop of another sign-in", err, ccgw.RetNotSignedIn)
	evs := events(id, ccgw.EvSetNotReadySuccess, ccgw.EvReady)
	evs[1].Dropped = true // takes seq 4, never queued
	wantOK(t, "Update with events", st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec, Record: rec, QueueMax: 100, Events: evs}))
	peek, err := st.Peek(ctx, id, false, 10)
	wantOK(t, "Peek", err)
	if seqs := seqsOf(peek); !slices.Equal(seqs, []uint64{2, 3}) {
		t.Fatalf("Peek: seqs %v, want [2 3]", seqs)
	}
	if peek, err := st.Peek(ctx, id, false, 1); err != nil || len(peek) != 1 || peek[0].Seq != 2 {
		t.Fatalf("Peek of 1: %+v, %v; want seq 2", peek, err)
	}
	if n, err := st.Queued(ctx, id, false); err != nil || n != 2 {
		t.Fatalf("Queued: %d, %v; want 2", n, err)
	}
	if n, err := st.Ack(ctx, id, false, 4, ccgw.DropQueueFull); err != nil || n != 2 {
		t.Fatalf("Ack up to 4: %d, %v; want 2", n, err)
	}
	wantOK(t, "Update with one more event", st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec, Record: rec, QueueMax: 100,
		Events: events(id, ccgw.EvReady)}))
	_, err = st.End(ctx, ccgw.SharedEnd{ID: id, Gen: 5, Cause: ccgw.CauseTimeout, KeepFor: time.Minute, Ending: ending(id, 5, 60_000)})
	wantOK(t, "End", err)
	_, err = st.Pop(ctx, id, 5)
	wantCodeT(t, "Pop after End", err, ccgw.RetNotSignedIn)
	if n, err := st.Queued(ctx, id, true); err != nil || n != 2 {
		t.Fatalf("Queued of the tombstone: %d, %v; want 2", n, err)
	}
	if ev, err := st.PopTomb(ctx, id, 4); ev != nil || err != nil {
		t.Fatalf("PopTomb of another sign-in: %+v, %v; want none", ev, err)
	}
	var seqs []uint64
	for {
		ev, err := st.PopTomb(ctx, id, 5)
		wantOK(t, "PopTomb", err)
		if ev == nil {
			break
		}
		seqs = append(seqs, ev.Seq)
		if len(seqs) == 2 && ev.Type != ccgw.EvShutdownService {
			t.Fatalf("last event %s, want %s", ev.Type, ccgw.EvShutdownService)
		}
	}
	if !slices.Equal(seqs, []uint64{5, 6}) {
		t.Fatalf("PopTomb: seqs %v, want [5 6]", seqs)
	}
	c, err := st.Counts(ctx)
	wantOK(t, "Counts", err)
	if c.Queued != 6 || c.Drops[ccgw.DropQueueFull] != 2 || c.Drops[ccgw.DropFault] != 1 {
		t.Errorf("Counts: queued %d, drops %v; want 6, 2 queue_full and 1 fault", c.Queued, c.Drops)
	}
}

// TestPushClaim: one node at a time holds an agent's push work.
func TestPushClaim(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	for _, c := range []struct {
		node string
		want bool
	}{{"A", true}, {"A", true}, {"B", false}} {
		if ok, err := st.ClaimPush(ctx, 1001, c.node, time.Minute); err != nil || ok != c.want {
			t.Fatalf("ClaimPush by %s: %v, %v; want %v", c.node, ok, err, c.want)
		}
	}
	wantOK(t, "ReleasePush by B", st.ReleasePush(ctx, 1001, "B"))
	if ok, _ := st.ClaimPush(ctx, 1001, "B", time.Minute); ok {
		t.Fatal("B claimed after releasing a claim it did not hold")
	}
	wantOK(t, "ReleasePush by A", st.ReleasePush(ctx, 1001, "A"))
	if ok, err := st.ClaimPush(ctx, 1001, "B", time.Minute); err != nil || !ok {
		t.Fatalf("ClaimPush by B after A released: %v, %v", ok, err)
	}
}

// TestTick: a tick writes renewals (never moving a deadline back), claims the
// sessions due a Claim before Now, once, with their deadlines, and the rests
// due; Expire ends a claimed session once.
func TestTick(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	recX := signIn(t, st, 1001, 1, 10_000)
	signIn(t, st, 1002, 1, 10_000)
	_, err := st.SignIn(ctx, ccgw.SharedSignIn{ID: 1003, Record: record(t, 1003, 1, ccgw.ModePush), Deadline: 90_000,
		KeepFor: time.Minute, QueueMax: 100, Push: true, Events: events(1003, ccgw.EvInService)})
	wantOK(t, "push-mode sign-in", err)
	wantOK(t, "FileRest", st.FileRest(ctx, 1002, 7, 15_000))
	tick := ccgw.SharedTick{Now: 20_000, Claim: time.Second, Limit: 10, KeepFor: time.Minute, QueueMax: 100, Grace: time.Hour,
		RestLimit: 10, Pending: true, Lease: 5 * time.Second, Renewals: map[ccgw.AgentID]int64{1002: 30_000}}
	got, err := st.Tick(ctx, tick)
	wantOK(t, "Tick", err)
	if len(got.Claimed) != 1 || got.Claimed[0].Record != recX || got.Claimed[0].Deadline != 10_000 {
		t.Fatalf("claimed %+v; want 1001 due at 10000", got.Claimed)
	}
	if !slices.Equal(got.Rests, []ccgw.SharedRest{{ID: 1002, RestSeq: 7}}) {
		t.Errorf("rests %+v; want 1002's rest 7", got.Rests)
	}
	if !slices.Equal(got.Pending, []ccgw.AgentID{1003}) || len(got.Conflicts) != 0 {
		t.Errorf("pending %v, conflicts %v; want [1003], none", got.Pending, got.Conflicts)
	}
	tick.Renewals = map[ccgw.AgentID]int64{1002: 25_000} // older: ignored
	got, err = st.Tick(ctx, tick)
	wantOK(t, "Tick again", err)
	if len(got.Claimed) != 0 || len(got.Rests) != 0 {
		t.Fatalf("the same tick again claimed %+v, rests %+v", got.Claimed, got.Rests)
	}

	end := ccgw.SharedEnd{ID: 1001, Gen: 1, Cause: ccgw.CauseTimeout, KeepFor: time.Minute, Ending: ending(1001, 1, 80_000)}
	ended, err := st.Expire(ctx, []ccgw.SharedEnd{end})
	if err != nil || !slices.Equal(ended, []string{recX}) {
		t.Fatalf("Expire: %q, %v; want 1001's record", ended, err)
	}
	if ended, err := st.Expire(ctx, []ccgw.SharedEnd{end}); err != nil || len(ended) != 0 {
		t.Fatalf("Expire again: %q, %v; want none", ended, err)
	}
	_, err = st.Get(ctx, 1001)
	wantCodeT(t, "Get of the expired", err, ccgw.RetNotSignedIn)

	tick.Now, tick.Renewals = 29_500, nil // 1002 is due at 30000: not yet claimed
	if got, err = st.Tick(ctx, tick); err != nil || len(got.Claimed) != 0 {
		t.Fatalf("Tick before 1002's renewed deadline: %+v, %v", got.Claimed, err)
	}
	tick.Now = 31_000
	if got, err = st.Tick(ctx, tick); err != nil || len(got.Claimed) != 1 || got.Claimed[0].Deadline != 30_000 {
		t.Fatalf("Tick after 1002's renewed deadline: %+v, %v; want 1002 due at 30000", got.Claimed, err)
	}
	c, err := st.Counts(ctx)
	wantOK(t, "Counts", err)
	if c.Live != 2 || c.Expiries != 1 || c.SignOuts[ccgw.CauseTimeout] != 1 {
		t.Errorf("Counts: %+v; want 2 live (1002 claimed, 1003), 1 expiry", c)
	}
}

// TestRotate: a rotation moves the GUID on if it is still the one expected;
// one recorded already is done; another conflicts.
func TestRotate(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	const id = 1001
	signIn(t, st, id, 3, 50_000)
	// "<" and ">" are escaped in JSON: the record is compared as encoded.
	rot := ccgw.SharedRotation{ID: id, Gen: 3, Expect: "guid-1001-3", Next: "g<2>", Prev: "guid-1001-3", N: 1,
		Issued: 2000, PrevUntil: 3000}
	for i := range 2 {
		conflicts, err := st.Rotate(ctx, []ccgw.SharedRotation{rot})
		if err != nil || len(conflicts) != 0 {
			t.Fatalf("Rotate %d: %v, %v; want no conflict", i+1, conflicts, err)
		}
	}
	raw, _ := st.Get(ctx, id)
	if !strings.Contains(raw, `"guid":"g\u003c2\u003e","guidIssued":2000,"prevGuid":"guid-1001-3","prevUntil":3000,"loginTime":1000`) {
		t.Fatalf("record after Rotate: %s", raw)
	}
	rot.Expect, rot.Next = "stale", "g3"
	if conflicts, err := st.Rotate(ctx, []ccgw.SharedRotation{rot}); err != nil || !slices.Equal(conflicts, []ccgw.AgentID{id}) {
		t.Fatalf("Rotate from a stale GUID: %v, %v; want a conflict", conflicts, err)
	}
}

// TestFeed: FeedRead returns the changes in the order they were committed,
// max at a time, from the end FeedEnd returned.
func TestFeed(t *testing.T) {
	st := open(t, redistest.Start(t), newPrefix(), "")
	ctx := context.Background()
	start, err := st.FeedEnd(ctx)
	if err != nil || start != "0-0" {
		t.Fatalf("FeedEnd of an empty feed: %q, %v", start, err)
	}
	if trimmed, err := st.FeedTrimmed(ctx); err != nil || trimmed != "" {
		t.Fatalf("FeedTrimmed of no feed: %q, %v", trimmed, err)
	}
	const id = 1001
	rec1 := signIn(t, st, id, 1, 50_000, ccgw.EvInService)
	rec2 := record(t, id, 1, ccgw.ModePoll, 4)
	wantOK(t, "Update", st.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec1, Record: rec2, QueueMax: 100, Events: events(id, ccgw.EvReady)}))
	_, err = st.End(ctx, ccgw.SharedEnd{ID: id, Gen: 1, Cause: ccgw.CauseSupervisor, KeepFor: time.Minute, Ending: ending(id, 1, 60_000)})
	wantOK(t, "End", err)

	want := []string{"e " + ccgw.EvInService, "s " + rec1, "e " + ccgw.EvReady, "s " + rec2, "o " + rec2, "e " + ccgw.EvShutdownService}
	var got []string
	var seqs []uint64
	after := start
	for range 10 {
		changes, err := st.FeedRead(ctx, after, 2, 0)
		wantOK(t, "FeedRead", err)
		if len(changes) > 2 {
			t.Fatalf("FeedRead of 2 returned %d", len(changes))
		}
		if len(changes) == 0 {
			break
		}
		for _, c := range changes {
			if c.Kind == ccgw.ChangeQueued {
				got, seqs = append(got, "e "+c.Event.Type), append(seqs, c.Event.Seq)
			} else {
				got = append(got, string(rune(c.Kind))+" "+c.Record)
			}
			after = c.ID
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("feed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3}) {
		t.Errorf("events' seqs %v, want [1 2 3]", seqs)
	}
	if end, err := st.FeedEnd(ctx); err != nil || end != after {
		t.Errorf("FeedEnd: %q, %v; want the last change read, %q", end, err, after)
	}
	if changes, err := st.FeedRead(ctx, after, 10, 50*time.Millisecond); err != nil || len(changes) != 0 {
		t.Errorf("FeedRead at the end: %v, %v; want none", changes, err)
	}
	if trimmed, err := st.FeedTrimmed(ctx); err != nil || trimmed != "" {
		t.Errorf("FeedTrimmed of a short feed: %q, %v", trimmed, err)
	}
}

// TestWatch: WatchAuth reports that it is subscribed, then an Update that
// changed auth facts ('d') and a rotation ('r'); WatchEvents wakes for an
// event queued; both return nil when their ctx ends.
func TestWatch(t *testing.T) {
	p := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var changes []ccgw.SharedAuthChange
	woken := map[ccgw.AgentID]bool{}
	subscribed := make(chan struct{}, 1)
	evSubscribed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		err := p.b.WatchAuth(ctx, func() { subscribed <- struct{}{} }, func(c ccgw.SharedAuthChange) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
		})
		if err != nil {
			t.Errorf("WatchAuth: %v, want nil when ctx ends", err)
		}
	})
	wg.Go(func() {
		err := p.b.WatchEvents(ctx, func() { evSubscribed <- struct{}{} }, func(id ccgw.AgentID) {
			mu.Lock()
			woken[id] = true
			mu.Unlock()
		})
		if err != nil {
			t.Errorf("WatchEvents: %v, want nil when ctx ends", err)
		}
	})
	for _, c := range []chan struct{}{subscribed, evSubscribed} {
		select {
		case <-c:
		case <-time.After(30 * time.Second):
			t.Fatal("WatchAuth or WatchEvents never subscribed")
		}
	}

	const id = 1001
	rec := signIn(t, p.a, id, 9, 50_000)
	wantOK(t, "Update with AuthChanged", p.a.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: rec, Record: rec, QueueMax: 100, AuthChanged: true}))
	_, err := p.a.Rotate(ctx, []ccgw.SharedRotation{{ID: id, Gen: 9, Expect: "guid-1001-9", Next: "g2", Prev: "guid-1001-9",
		N: 2, Issued: 2000, PrevUntil: 3000}})
	wantOK(t, "Rotate", err)
	want := []ccgw.SharedAuthChange{{ID: id, Gen: 9}, {ID: id, Gen: 9, Rotated: true, N: 2, Issued: 2000, PrevUntil: 3000}}
	checkFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(changes, want) {
			return fmt.Errorf("auth changes %+v, want %+v", changes, want)
		}
		return nil
	})
	// Subscribed: one event queued wakes it.
	cur, err := p.a.Get(ctx, id)
	wantOK(t, "Get", err)
	wantOK(t, "Update with an event", p.a.Update(ctx, ccgw.SharedUpdate{ID: id, Expect: cur, Record: cur, QueueMax: 100, Events: events(id, ccgw.EvReady)}))
	checkFor(t, 30*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if !woken[id] {
			return fmt.Errorf("WatchEvents did not wake %d", id)
		}
		return nil
	})
	cancel()
	wg.Wait()
}

// TestParseAuth: the auth channel's messages, malformed items left out.
func TestParseAuth(t *testing.T) {
	for _, c := range []struct {
		payload string
		want    []ccgw.SharedAuthChange
	}{
		{"d 1001:5", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"d 1001:5,x:1,1002,1003:6", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}, {ID: 1003, Gen: 6}}},
		{"r 1001:5:2:100:200", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5, Rotated: true, N: 2, Issued: 100, PrevUntil: 200}}},
		{"r 1001:5:2:100", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"r 1001:5:x:100:200", []ccgw.SharedAuthChange{{ID: 1001, Gen: 5}}},
		{"x 1001:5", nil},
		{"d", nil},
	} {
		if got := parseAuth(c.payload); !slices.Equal(got, c.want) {
			t.Errorf("parseAuth(%q) = %+v, want %+v", c.payload, got, c.want)
		}
	}
}

// TestGUIDKey: the first key offered is kept and returned to every caller.
func TestGUIDKey(t *testing.T) {
	p := newPair(t)
	k1 := []byte("0123456789abcdef0123456789abcdef")
	k2 := []byte("fedcba9876543210fedcba9876543210")
	for _, c := range []struct {
		st    *Store
		fresh []byte
	}{{p.a, k1}, {p.b, k2}, {p.a, k2}} {
		got, err := c.st.GUIDKey(context.Background(), c.fresh)
		if err != nil || string(got) != string(k1) {
			t.Fatalf("GUIDKey: %q, %v; want the first key", got, err)
		}
	}
}

// TestRedisDown: every method fails with RetInternal while Redis is down, and
// works again once it is back.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, newPrefix(), "")
	ctx := context.Background()
	srv.Stop()
	wantCodeT(t, "Ping", st.Ping(ctx), ccgw.RetInternal)
	_, err := st.Get(ctx, 1001)
	wantCodeT(t, "Get", err, ccgw.RetInternal)
	_, err = st.SignIn(ctx, ccgw.SharedSignIn{ID: 1001, Record: record(t, 1001, 1, ccgw.ModePoll), KeepFor: time.Minute})
	wantCodeT(t, "SignIn", err, ccgw.RetInternal)
	_, err = st.Tick(ctx, ccgw.SharedTick{Now: 1, KeepFor: time.Minute})
	wantCodeT(t, "Tick", err, ccgw.RetInternal)
	_, err = st.FeedRead(ctx, "0-0", 10, 0)
	wantCodeT(t, "FeedRead", err, ccgw.RetInternal)
	wantCodeT(t, "WatchAuth", st.WatchAuth(ctx, func() {}, func(ccgw.SharedAuthChange) {}), ccgw.RetInternal)
	srv.Restart()
	checkFor(t, 10*time.Second, func() error { return st.Ping(ctx) })
}

func seqsOf(evs []ccgw.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

// wantEvents takes events with pop until it returns none and fails t unless
// they are of types, in order, with increasing seqs.
func wantEvents(t *testing.T, what string, pop func() (*ccgw.Event, error), types ...string) {
	t.Helper()
	var got []string
	last := uint64(0)
	for {
		ev, err := pop()
		wantOK(t, what, err)
		if ev == nil {
			break
		}
		if ev.Seq <= last {
			t.Fatalf("%s: seq %d after %d", what, ev.Seq, last)
		}
		last = ev.Seq
		got = append(got, ev.Type)
	}
	if !slices.Equal(got, types) {
		t.Fatalf("%s: events %v, want %v", what, got, types)
	}
}
