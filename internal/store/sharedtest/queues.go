package sharedtest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// testQueueOrder: events take consecutive seqs across a sign-in and its
// updates, whichever node queues them; a Dropped one takes its seq and is not
// queued; Pop takes them in order while the sign-in lives, PopTomb the ended
// sign-in's last ones, the shutdown event last.
func testQueueOrder(t *testing.T, e *env) {
	const id = 1001
	rec := SignIn(t, e.a, id, 5, 50_000, ccgw.EvInService, ccgw.EvReady)
	ev, err := e.b.Pop(e.ctx, id, 5)
	if err != nil || ev == nil || ev.Seq != 1 || ev.Type != ccgw.EvInService || ev.WorkNo != "1001" {
		t.Fatalf("Pop: %+v, %v; want seq 1 %s", ev, err, ccgw.EvInService)
	}
	_, err = e.b.Pop(e.ctx, id, 4)
	wantCode(t, "Pop of another sign-in", err, ccgw.RetNotSignedIn)
	_, err = e.b.Pop(e.ctx, 1002, 1)
	wantCode(t, "Pop of an agent never signed in", err, ccgw.RetNotSignedIn)

	evs := Events(id, ccgw.EvSetNotReadySuccess, ccgw.EvReady)
	evs[1].Dropped = true // takes seq 4, never queued
	e.update(e.a, id, rec, rec, evs...)
	e.wantPeek(e.b, id, false, 10, 2, 3)
	e.wantPeek(e.b, id, false, 1, 2)
	e.wantQueued(e.b, id, false, 2)
	e.wantPop(e.b, id, 5, event{ccgw.EvReady, 2}, event{ccgw.EvSetNotReadySuccess, 3})

	e.update(e.b, id, rec, rec, Events(id, ccgw.EvReady)...)
	e.end(e.a, id, 5, ccgw.CauseTimeout, Ending(id, 5, 60_000), rec)
	_, err = e.a.Pop(e.ctx, id, 5)
	wantCode(t, "Pop after End", err, ccgw.RetNotSignedIn)
	e.wantQueued(e.b, id, true, 2)
	e.wantPopTomb(e.b, id, 4)
	e.wantPopTomb(e.a, id, 5, event{ccgw.EvReady, 5}, event{ccgw.EvShutdownService, 6})
	c := e.counts(e.b)
	if c.Queued != 6 || c.Drops[ccgw.DropFault] != 1 || c.Drops[ccgw.DropQueueFull] != 0 {
		t.Errorf("Counts: queued %d, drops %v; want 6 queued, 1 fault", c.Queued, c.Drops)
	}
}

// testQueueBound: a queue over its QueueMax loses its oldest events, counted
// as queue_full; an ending's shutdown event is queued even over a full
// queue.
func testQueueBound(t *testing.T, e *env) {
	const id, max = 1001, 3
	rec := Record(t, id, 1, ccgw.ModePoll)
	_, err := e.a.SignIn(e.ctx, ccgw.SharedSignIn{ID: id, Record: rec, Deadline: 50_000, KeepFor: KeepFor, QueueMax: max,
		Events: Events(id, ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess, ccgw.EvReady, ccgw.EvRestTimeout)})
	wantOK(t, "sign-in with 5 events, bound 3", err)
	e.wantPeek(e.b, id, false, 10, 3, 4, 5)
	e.wantQueued(e.b, id, false, max)
	if c := e.counts(e.a); c.Queued != 5 || c.Drops[ccgw.DropQueueFull] != 2 {
		t.Fatalf("Counts: queued %d, drops %v; want 5 queued, 2 queue_full", c.Queued, c.Drops)
	}
	wantOK(t, "Update with an event, bound 3", e.b.Update(e.ctx, ccgw.SharedUpdate{ID: id, Expect: rec, Record: rec, QueueMax: max,
		Events: Events(id, ccgw.EvReady)}))
	e.wantPeek(e.a, id, false, 10, 4, 5, 6)
	ending := Ending(id, 1, 60_000)
	ending.QueueMax = max
	e.end(e.a, id, 1, ccgw.CauseSupervisor, ending, rec)
	e.wantPeek(e.b, id, true, 10, 4, 5, 6, 7)
	e.wantQueued(e.b, id, true, max+1)
	e.wantPopTomb(e.a, id, 1, event{ccgw.EvReady, 4}, event{ccgw.EvRestTimeout, 5}, event{ccgw.EvReady, 6},
		event{ccgw.EvShutdownService, 7})
	if c := e.counts(e.b); c.Queued != 7 || c.Drops[ccgw.DropQueueFull] != 3 {
		t.Errorf("Counts: queued %d, drops %v; want 7 queued, 3 queue_full", c.Queued, c.Drops)
	}
}

// testPeekQueuedAck: Peek and Queued see a queue without taking from it; Ack
// removes the head of a sign-in's queue up to a seq, counted as dropped for a
// reason if one is given: the live session's, or once it ended the
// tombstone's (events being pushed when it ended), never a later sign-in's.
func testPeekQueuedAck(t *testing.T, e *env) {
	const id = 1001
	rec := SignIn(t, e.a, id, 1, 50_000, ccgw.EvInService, ccgw.EvReady, ccgw.EvSetNotReadySuccess, ccgw.EvReady)
	e.wantPeek(e.a, id, false, 10, 1, 2, 3, 4)
	e.wantPeek(e.b, id, false, 2, 1, 2)
	e.wantQueued(e.b, id, false, 4)
	e.wantPeek(e.b, id, true, 10)
	e.wantQueued(e.b, id, true, 0)
	ack := func(st ccgw.SharedStore, gen, seq uint64, reason ccgw.DropReason, want int) {
		t.Helper()
		if n, err := st.Ack(e.ctx, id, gen, seq, reason); err != nil || n != want {
			t.Fatalf("Ack of sign-in %d up to %d for %q: %d, %v; want %d", gen, seq, reason, n, err, want)
		}
	}
	ack(e.b, 1, 2, "", 2)
	ack(e.a, 1, 2, "", 0)
	ack(e.a, 2, 3, "", 0) // not this sign-in's
	ack(e.a, 1, 3, ccgw.DropPushFailed, 1)
	e.wantPeek(e.b, id, false, 10, 4)
	e.wantQueued(e.a, id, false, 1)
	if n, err := e.a.Ack(e.ctx, 1002, 1, 10, ""); err != nil || n != 0 {
		t.Fatalf("Ack of an agent with no queue: %d, %v", n, err)
	}
	if c := e.counts(e.a); len(c.Drops) != 1 || c.Drops[ccgw.DropPushFailed] != 1 {
		t.Fatalf("Counts: drops %v; want 1 push_failed only", c.Drops)
	}

	// The session ends with event 4 unacknowledged (being pushed): its queue
	// goes with the tombstone, and the push's Ack of sign-in 1 finds it there.
	ending := Ending(id, 1, 60_000)
	e.end(e.b, id, 1, ccgw.CauseSupervisor, ending, rec)
	e.wantQueued(e.a, id, false, 0)
	e.wantPeek(e.a, id, true, 10, 4, 5)
	e.wantQueued(e.a, id, true, 2)
	ack(e.b, 1, 4, "", 1)
	e.wantPeek(e.a, id, true, 10, 5)
	ack(e.b, 1, 99, ccgw.DropSessionEnded, 1)
	e.wantQueued(e.a, id, true, 0)
	e.wantRead(e.a, id, "", ending.Tomb)
	e.wantPopTomb(e.a, id, 1)
	if c := e.counts(e.a); c.Drops[ccgw.DropSessionEnded] != 1 || c.Drops[ccgw.DropPushFailed] != 1 {
		t.Errorf("Counts: drops %v; want 1 session_ended, 1 push_failed", c.Drops)
	}

	// A later sign-in's queue is left alone by a late Ack of sign-in 1.
	SignIn(t, e.a, id, 2, 50_000, ccgw.EvInService, ccgw.EvReady)
	ack(e.b, 1, 99, "", 0)
	e.wantQueued(e.a, id, false, 2)
	ack(e.b, 2, 1, "", 1)
	e.wantPeek(e.a, id, false, 10, 2)
}

// pending returns the push work a Tick on st at now returns.
func (e *env) pending(st ccgw.SharedStore, now int64) []ccgw.AgentID {
	e.t.Helper()
	got, err := st.Tick(e.ctx, tickAt(now, nil))
	wantOK(e.t, "Tick", err)
	return sorted(got.Pending)
}

// testPending: an agent has push work once an event is queued for it in push
// mode, until an Ack empties its queue; a push-mode session's end leaves work
// for its shutdown event, unless it ends without one.
func testPending(t *testing.T, e *env) {
	wantPending := func(now int64, ids ...ccgw.AgentID) {
		t.Helper()
		if got := e.pending(e.b, now); !slices.Equal(got, ids) {
			t.Fatalf("Tick at %d: pending %v, want %v", now, got, ids)
		}
	}
	pushRec := Record(t, 1001, 1, ccgw.ModePush)
	_, err := e.a.SignIn(e.ctx, ccgw.SharedSignIn{ID: 1001, Record: pushRec, Deadline: 50_000, KeepFor: KeepFor, QueueMax: QueueMax,
		Push: true, Events: Events(1001, ccgw.EvInService)})
	wantOK(t, "push-mode sign-in", err)
	SignIn(t, e.a, 1002, 1, 50_000, ccgw.EvInService)
	wantPending(1_000, 1001)
	tick := tickAt(1_000, nil)
	tick.Pending = false
	if got, err := e.a.Tick(e.ctx, tick); err != nil || len(got.Pending) != 0 {
		t.Fatalf("Tick without Pending: %v, %v; want no push work", got.Pending, err)
	}

	if n, err := e.a.Ack(e.ctx, 1001, 1, 1, ""); err != nil || n != 1 {
		t.Fatalf("Ack: %d, %v", n, err)
	}
	wantPending(2_000)
	wantOK(t, "Update with an event", e.b.Update(e.ctx, ccgw.SharedUpdate{ID: 1001, Expect: pushRec, Record: pushRec,
		QueueMax: QueueMax, Push: true, Events: Events(1001, ccgw.EvReady)}))
	wantPending(3_000, 1001)
	e.end(e.a, 1001, 1, ccgw.CauseSupervisor, Ending(1001, 1, 60_000), pushRec)
	wantPending(4_000, 1001)
	e.wantQueued(e.b, 1001, true, 2)
	if n, err := e.b.Ack(e.ctx, 1001, 1, 3, ""); err != nil || n != 2 {
		t.Fatalf("Ack of the tombstone's queue: %d, %v; want 2", n, err)
	}
	wantPending(5_000)

	pushRec3 := Record(t, 1003, 1, ccgw.ModePush)
	_, err = e.b.SignIn(e.ctx, ccgw.SharedSignIn{ID: 1003, Record: pushRec3, Deadline: 50_000, KeepFor: KeepFor, QueueMax: QueueMax,
		Push: true, Events: Events(1003, ccgw.EvInService)})
	wantOK(t, "push-mode sign-in", err)
	wantPending(6_000, 1003)
	e.end(e.a, 1003, 1, ccgw.CauseLogout, loggedOut(1003, 1, 60_000), pushRec3)
	wantPending(7_000)
}

// testPushClaim: one node at a time holds an agent's push work, until it
// releases it; a release by another node changes nothing.
func testPushClaim(t *testing.T, e *env) {
	const nodeA, nodeB = "AgentGateway1", "AgentGateway2"
	claim := func(st ccgw.SharedStore, id ccgw.AgentID, node string, want bool) {
		t.Helper()
		if ok, err := st.ClaimPush(e.ctx, id, node, time.Minute); err != nil || ok != want {
			t.Fatalf("ClaimPush of %d by %s: %v, %v; want %v", id, node, ok, err, want)
		}
	}
	claim(e.a, 1001, nodeA, true)
	claim(e.a, 1001, nodeA, true) // kept
	claim(e.b, 1001, nodeB, false)
	claim(e.b, 1002, nodeB, true) // another agent's
	wantOK(t, "ReleasePush by B", e.b.ReleasePush(e.ctx, 1001, nodeB))
	claim(e.b, 1001, nodeB, false)
	wantOK(t, "ReleasePush by A", e.a.ReleasePush(e.ctx, 1001, nodeA))
	claim(e.b, 1001, nodeB, true)
	claim(e.a, 1001, nodeA, false)
	claim(e.a, 1002, nodeA, false)
}

// testSimulated: a simulated session (QueueMax -1) has no deadline and is
// never claimed; its events take seqs and reach the feed only. Replacing a
// client's session still leaves that client its last events.
func testSimulated(t *testing.T, e *env) {
	const id = 1004
	start, err := e.a.FeedEnd(e.ctx)
	wantOK(t, "FeedEnd", err)
	rec := SignInSimulated(t, e.a, id, 1, ccgw.EvInService)
	e.wantQueued(e.b, id, false, 0)
	e.wantPop(e.b, id, 1)
	changes, err := e.b.FeedRead(e.ctx, start, 10, 0)
	wantOK(t, "FeedRead", err)
	if got, want := feedLines(changes), []string{"e 1004 1 " + ccgw.EvInService, "s " + rec}; !slices.Equal(got, want) {
		t.Fatalf("feed %q, want %q", got, want)
	}
	tick := tickAt(1_000_000, map[ccgw.AgentID]int64{id: 5_000})
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if got, err := st.Tick(e.ctx, tick); err != nil || len(got.Claimed) != 0 {
			t.Fatalf("Tick long after: claimed %+v, %v; want none", got.Claimed, err)
		}
	}
	if page, _, err := e.b.Live(e.ctx, 0, 10); err != nil || len(page) != 1 || page[0] != (ccgw.SharedLive{Record: rec}) {
		t.Fatalf("Live: %+v, %v; want the record, no deadline, nothing queued", page, err)
	}
	if c := e.counts(e.b); c.Live != 1 || c.SignIns != 1 || c.Queued != 0 {
		t.Fatalf("Counts: %+v; want 1 live, 1 sign-in, none queued", c)
	}

	// A simulated sign-in takes client 1005's session over: the replaced
	// ending has the client's bound.
	const client = 1005
	crec := SignIn(t, e.a, client, 1, 2_000_000, ccgw.EvInService)
	srec := Record(t, client, 2, ccgw.ModePoll)
	ended, err := e.b.SignIn(e.ctx, ccgw.SharedSignIn{ID: client, Record: srec, Force: true, Expect: 1, KeepFor: KeepFor,
		QueueMax: -1, Simulated: true, Replaced: Ending(client, 1, 2_000_000)})
	if err != nil || ended != crec {
		t.Fatalf("simulated sign-in over a client: %q, %v", ended, err)
	}
	e.wantPopTomb(e.a, client, 1, event{ccgw.EvInService, 1}, event{ccgw.EvShutdownService, 2})
	ending := Ending(client, 2, 2_000_000)
	ending.QueueMax = -1
	e.end(e.a, client, 2, ccgw.CauseSupervisor, ending, srec)
	e.wantRead(e.b, client, "", ending.Tomb)
	e.wantQueued(e.b, client, true, 0)
	e.wantPopTomb(e.b, client, 2)
	if c := e.counts(e.a); c.Live != 1 || c.Queued != 2 {
		t.Errorf("Counts: %+v; want 1 live (1004), 2 queued (the client's)", c)
	}
}

// feedLines returns changes as "e <agent> <seq> <type>" or "<kind> <record>".
func feedLines(changes []ccgw.SharedChange) []string {
	out := make([]string, len(changes))
	for i, c := range changes {
		if c.Kind == ccgw.ChangeQueued {
			out[i] = fmt.Sprintf("e %s %d %s", c.Event.WorkNo, c.Event.Seq, c.Event.Type)
		} else {
			out[i] = string(rune(c.Kind)) + " " + c.Record
		}
	}
	return out
}
