package sharedtest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
)

// tickAt returns the suite's tick at now, with renewals: a session is claimed
// a second after its deadline, up to 10 at a time, a claim lapses after 5 s,
// deadlines catch up after an hour with no tick, up to 10 rests, with the
// push work.
func tickAt(now int64, renewals map[ccgw.AgentID]int64) ccgw.SharedTick {
	return ccgw.SharedTick{Now: now, Claim: time.Second, Limit: 10, KeepFor: KeepFor, QueueMax: QueueMax, Grace: time.Hour,
		RestLimit: 10, Pending: true, Lease: 5 * time.Second, Renewals: renewals}
}

// tick runs tk on st and fails t unless it claims want (in order).
func (e *env) tick(st ccgw.SharedStore, tk ccgw.SharedTick, want ...ccgw.SharedClaim) ccgw.SharedTicked {
	e.t.Helper()
	got, err := st.Tick(e.ctx, tk)
	wantOK(e.t, fmt.Sprintf("Tick at %d", tk.Now), err)
	if !slices.Equal(got.Claimed, want) {
		e.t.Fatalf("Tick at %d claimed %+v, want %+v", tk.Now, got.Claimed, want)
	}
	return got
}

// liveOf returns agent id's entry in Live on st.
func (e *env) liveOf(st ccgw.SharedStore, id ccgw.AgentID) ccgw.SharedLive {
	e.t.Helper()
	page, _, err := st.Live(e.ctx, id-1, 1)
	wantOK(e.t, "Live", err)
	if len(page) != 1 || agentOf(e.t, page[0].Record) != id {
		e.t.Fatalf("Live after %d: %+v; want agent %d", id-1, page, id)
	}
	return page[0]
}

// wantDeadline fails t unless Live on st shows agent id with deadline.
func (e *env) wantDeadline(st ccgw.SharedStore, id ccgw.AgentID, deadline int64) {
	e.t.Helper()
	if got := e.liveOf(st, id).Deadline; got != deadline {
		e.t.Fatalf("agent %d's deadline %d, want %d", id, got, deadline)
	}
}

// testTickRenewals: a tick writes renewals, which never move a deadline back
// and never bring back a session that ended.
func testTickRenewals(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 10_000)
	rec2 := SignIn(t, e.a, 1002, 1, 10_000)
	e.tick(e.a, tickAt(5_000, map[ccgw.AgentID]int64{1001: 30_000, 1002: 20_000}))
	e.wantDeadline(e.b, 1001, 30_000)
	e.wantDeadline(e.b, 1002, 20_000)
	e.tick(e.b, tickAt(6_000, map[ccgw.AgentID]int64{1001: 25_000, 1002: 20_000}))
	e.wantDeadline(e.a, 1001, 30_000)
	e.wantDeadline(e.a, 1002, 20_000)

	e.end(e.b, 1002, 1, ccgw.CauseLogout, loggedOut(1002, 1, 60_000), rec2)
	e.tick(e.a, tickAt(7_000, map[ccgw.AgentID]int64{1002: 40_000, 1003: 40_000}))
	e.wantGone(e.b, 1002)
	e.wantGone(e.b, 1003)
	if got := LiveIDs(t, e.b, 10); !slices.Equal(got, []ccgw.AgentID{1001}) {
		t.Fatalf("live %v, want [1001]", got)
	}
	if c := e.counts(e.b); c.Live != 1 {
		t.Fatalf("Counts: %d live, want 1", c.Live)
	}
	e.tick(e.b, tickAt(30_999, nil))
	e.tick(e.a, tickAt(41_000, nil), ccgw.SharedClaim{Record: rec1, Deadline: 30_000})
}

// testTickClaim: a session is claimed Claim after its deadline, not before,
// by one tick only, with its deadline; a claim ends nothing, and Live shows
// the claimed session with no deadline.
func testTickClaim(t *testing.T, e *env) {
	rec := SignIn(t, e.a, 1001, 1, 10_000, ccgw.EvInService)
	SignIn(t, e.a, 1002, 1, 20_000)
	e.tick(e.a, tickAt(10_999, nil))
	e.tick(e.b, tickAt(11_000, nil), ccgw.SharedClaim{Record: rec, Deadline: 10_000})
	e.tick(e.a, tickAt(11_000, nil))
	e.tick(e.a, tickAt(12_000, nil))
	if got := e.get(e.a, 1001); got != rec {
		t.Fatalf("claimed session's record %q, want %q", got, rec)
	}
	if got := e.liveOf(e.b, 1001); got != (ccgw.SharedLive{Record: rec, Queued: 1}) {
		t.Fatalf("Live: claimed 1001 %+v; want no deadline, 1 queued", got)
	}
	e.wantDeadline(e.b, 1002, 20_000)
	if c := e.counts(e.b); c.Live != 2 || c.Expiries != 0 {
		t.Fatalf("Counts: %+v; want 2 live, no expiry", c)
	}
}

// testTickLimit: a tick claims up to Limit due sessions, the earliest first;
// the next tick claims the rest.
func testTickLimit(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 10_002)
	rec2 := SignIn(t, e.b, 1002, 1, 10_000)
	rec3 := SignIn(t, e.a, 1003, 1, 10_001)
	tk := tickAt(20_000, nil)
	tk.Limit = 2
	e.tick(e.a, tk, ccgw.SharedClaim{Record: rec2, Deadline: 10_000}, ccgw.SharedClaim{Record: rec3, Deadline: 10_001})
	e.tick(e.b, tk, ccgw.SharedClaim{Record: rec1, Deadline: 10_002})
	e.tick(e.a, tk)
}

// testExpireOnce: Expire ends a claimed session if its sign-in is still
// stored, ignoring Expect; racing nodes end each exactly once.
func testExpireOnce(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 10_000)
	rec2 := SignIn(t, e.a, 1002, 1, 10_000, ccgw.EvInService)
	e.tick(e.a, tickAt(11_000, nil), ccgw.SharedClaim{Record: rec1, Deadline: 10_000}, ccgw.SharedClaim{Record: rec2, Deadline: 10_000})
	if ended, err := e.b.Expire(e.ctx, []ccgw.SharedEnd{{ID: 1001, Gen: 9, Cause: ccgw.CauseTimeout, KeepFor: KeepFor,
		Ending: Ending(1001, 9, 80_000)}}); err != nil || len(ended) != 0 {
		t.Fatalf("Expire of another sign-in: %q, %v; want none", ended, err)
	}
	ends := []ccgw.SharedEnd{
		{ID: 1001, Gen: 1, Expect: "stale", Cause: ccgw.CauseTimeout, KeepFor: KeepFor, Ending: Ending(1001, 1, 80_000)},
		{ID: 1002, Gen: 1, Expect: "stale", Cause: ccgw.CauseTimeout, KeepFor: KeepFor, Ending: Ending(1002, 1, 80_000)},
	}
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for _, st := range []ccgw.SharedStore{e.a, e.b, e.a, e.b} {
		wg.Go(func() {
			ended, err := st.Expire(e.ctx, ends)
			if err != nil {
				t.Errorf("Expire: %v", err)
			}
			mu.Lock()
			all = append(all, ended...)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(all)
	if want := []string{rec1, rec2}; !slices.Equal(all, want) {
		t.Fatalf("racing Expires ended %q, want each of %q once", all, want)
	}
	if ended, err := e.a.Expire(e.ctx, ends); err != nil || len(ended) != 0 {
		t.Fatalf("Expire again: %q, %v; want none", ended, err)
	}
	e.wantGone(e.b, 1001)
	e.wantRead(e.b, 1002, "", ends[1].Ending.Tomb)
	e.wantPopTomb(e.b, 1002, 1, event{ccgw.EvInService, 1}, event{ccgw.EvShutdownService, 2})
	if c := e.counts(e.a); c.Live != 0 || c.Expiries != 2 || c.SignOuts[ccgw.CauseTimeout] != 2 {
		t.Errorf("Counts: %+v; want none live, 2 expiries, 2 timeouts", c)
	}
}

// testLapsedClaim: a claim not ended for Lease is taken over by the next
// tick, with the time of that claim; renewals do not bring a claimed session
// back, and a claimed session that ended otherwise is not claimed again.
func testLapsedClaim(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 10_000)
	rec2 := SignIn(t, e.a, 1002, 1, 10_000)
	e.tick(e.a, tickAt(11_000, nil), ccgw.SharedClaim{Record: rec1, Deadline: 10_000}, ccgw.SharedClaim{Record: rec2, Deadline: 10_000})
	e.end(e.b, 1002, 1, ccgw.CauseLogout, loggedOut(1002, 1, 60_000), rec2)
	e.tick(e.a, tickAt(11_500, map[ccgw.AgentID]int64{1001: 60_000}))
	if got := e.liveOf(e.b, 1001); got.Deadline != 0 {
		t.Fatalf("claimed 1001 renewed: deadline %d, want 0 (still claimed)", got.Deadline)
	}
	e.tick(e.b, tickAt(15_999, nil))
	e.tick(e.b, tickAt(16_000, nil), ccgw.SharedClaim{Record: rec1, Deadline: 11_000})
	e.tick(e.a, tickAt(16_000, nil))
	end := ccgw.SharedEnd{ID: 1001, Gen: 1, Cause: ccgw.CauseTimeout, KeepFor: KeepFor, Ending: Ending(1001, 1, 80_000)}
	if ended, err := e.b.Expire(e.ctx, []ccgw.SharedEnd{end}); err != nil || !slices.Equal(ended, []string{rec1}) {
		t.Fatalf("Expire by B: %q, %v; want 1001's record", ended, err)
	}
	if ended, err := e.a.Expire(e.ctx, []ccgw.SharedEnd{end}); err != nil || len(ended) != 0 {
		t.Fatalf("Expire by A after B: %q, %v; want none", ended, err)
	}
	e.tick(e.a, tickAt(30_000, nil))
}

// testTickRests: a tick claims up to RestLimit rests due at or before Now,
// the earliest first, each once, whichever node filed it.
func testTickRests(t *testing.T, e *env) {
	wantOK(t, "FileRest", e.a.FileRest(e.ctx, 1001, 7, 15_000))
	wantOK(t, "FileRest", e.b.FileRest(e.ctx, 1002, 3, 14_000))
	wantOK(t, "FileRest", e.a.FileRest(e.ctx, 1003, 1, 16_000))
	wantOK(t, "FileRest", e.b.FileRest(e.ctx, 1001, 8, 30_000))
	rests := func(st ccgw.SharedStore, now int64, limit int, want ...ccgw.SharedRest) {
		t.Helper()
		tk := tickAt(now, nil)
		tk.RestLimit = limit
		if got := e.tick(st, tk); !slices.Equal(got.Rests, want) {
			t.Fatalf("Tick at %d: rests %+v, want %+v", now, got.Rests, want)
		}
	}
	rests(e.a, 13_999, 10)
	rests(e.b, 15_000, 1, ccgw.SharedRest{ID: 1002, RestSeq: 3})
	rests(e.a, 15_000, 10, ccgw.SharedRest{ID: 1001, RestSeq: 7})
	rests(e.b, 16_000, 10, ccgw.SharedRest{ID: 1003, RestSeq: 1})
	rests(e.a, 20_000, 10)
	rests(e.b, 30_000, 10, ccgw.SharedRest{ID: 1001, RestSeq: 8})
	rests(e.a, 40_000, 10)
}

// testTickTombstones: a tick at or after a tombstone's TombEnd ends it: Read
// and PopTomb no longer see it, and its uncollected events count as
// dropped (session_ended), once; the agent's new session stays.
func testTickTombstones(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 100_000, ccgw.EvInService, ccgw.EvReady)
	end1 := Ending(1001, 1, 60_000)
	e.end(e.a, 1001, 1, ccgw.CauseSupervisor, end1, rec1)
	if ev, err := e.b.PopTomb(e.ctx, 1001, 1); err != nil || ev == nil || ev.Seq != 1 {
		t.Fatalf("PopTomb: %+v, %v; want seq 1", ev, err)
	}
	rec2 := SignIn(t, e.b, 1002, 1, 100_000)
	out2 := loggedOut(1002, 1, 60_000)
	e.end(e.b, 1002, 1, ccgw.CauseLogout, out2, rec2)
	rec1b := SignIn(t, e.b, 1001, 2, 100_000)

	e.tick(e.a, tickAt(59_999, nil))
	e.wantRead(e.b, 1001, rec1b, end1.Tomb)
	e.wantQueued(e.b, 1001, true, 2)
	e.wantRead(e.b, 1002, "", out2.Tomb)

	e.tick(e.b, tickAt(60_000, nil))
	e.wantRead(e.a, 1001, rec1b, "")
	e.wantQueued(e.a, 1001, true, 0)
	e.wantPopTomb(e.a, 1001, 1)
	e.wantRead(e.a, 1002, "", "")
	if c := e.counts(e.a); c.Drops[ccgw.DropSessionEnded] != 2 {
		t.Fatalf("Counts: drops %v; want 2 session_ended", c.Drops)
	}
	e.tick(e.a, tickAt(61_000, nil))
	if c := e.counts(e.b); c.Drops[ccgw.DropSessionEnded] != 2 || c.Live != 1 {
		t.Fatalf("Counts after another tick: %+v; want 2 session_ended drops, 1 live", c)
	}
}

// testCatchUp: a tick more than Grace after the last one (whichever node
// made it) moves every stored deadline on by the gap before it claims; a
// gap of exactly Grace does not, and deadlines given after are as given.
func testCatchUp(t *testing.T, e *env) {
	recX := SignIn(t, e.a, 1001, 1, 10_000)
	recY := SignIn(t, e.a, 1002, 1, 12_000)
	at := func(now int64, renewals map[ccgw.AgentID]int64) ccgw.SharedTick {
		tk := tickAt(now, renewals)
		tk.Grace = 30 * time.Second
		return tk
	}
	e.tick(e.a, at(5_000, nil))
	e.tick(e.b, at(65_000, nil)) // 60 s since: everything moves on by 60 s
	e.wantDeadline(e.a, 1001, 70_000)
	e.wantDeadline(e.a, 1002, 72_000)
	recZ := SignIn(t, e.b, 1003, 1, 80_000)
	e.wantDeadline(e.a, 1003, 80_000)
	e.tick(e.a, at(66_000, map[ccgw.AgentID]int64{1001: 75_000}))
	e.wantDeadline(e.b, 1001, 75_000)
	e.tick(e.b, at(73_000, nil), ccgw.SharedClaim{Record: recY, Deadline: 72_000})
	ended, err := e.b.Expire(e.ctx, []ccgw.SharedEnd{{ID: 1002, Gen: 1, Cause: ccgw.CauseTimeout, KeepFor: KeepFor,
		Ending: Ending(1002, 1, 200_000)}})
	if err != nil || !slices.Equal(ended, []string{recY}) {
		t.Fatalf("Expire 1002: %q, %v", ended, err)
	}
	e.tick(e.a, at(103_000, nil), ccgw.SharedClaim{Record: recX, Deadline: 75_000}, ccgw.SharedClaim{Record: recZ, Deadline: 80_000})
}

// rotation returns the rotation of sign-in gen of agent id from its first
// GUID on to next.
func rotation(id ccgw.AgentID, gen uint64, next string) ccgw.SharedRotation {
	return ccgw.SharedRotation{ID: id, Gen: gen, Expect: guid(id, gen), Next: next, Prev: guid(id, gen), N: 1,
		Issued: 2000, PrevUntil: 3000}
}

// rotated returns Record(id, gen) after rotation r.
func rotated(t testing.TB, id ccgw.AgentID, gen uint64, r ccgw.SharedRotation) string {
	t.Helper()
	s := session(id, gen, ccgw.ModePoll)
	s.GUID, s.GUIDIssued, s.PrevGUID, s.PrevUntil = r.Next, r.Issued, r.Prev, r.PrevUntil
	return encode(t, s)
}

// testRotate: a rotation moves the GUID on (the record as encoding/json
// writes the rotated session) if it is still the one expected; one recorded
// already is done; another conflicts and changes nothing.
func testRotate(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 3, 50_000)
	rec2 := SignIn(t, e.a, 1002, 1, 50_000)
	rot := rotation(1001, 3, "g<2>&") // escaped in JSON: the record is compared as encoded
	want := rotated(t, 1001, 3, rot)
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if conflicts, err := st.Rotate(e.ctx, []ccgw.SharedRotation{rot}); err != nil || len(conflicts) != 0 {
			t.Fatalf("Rotate: %v, %v; want no conflict", conflicts, err)
		}
		if got := e.get(e.b, 1001); got != want {
			t.Fatalf("record after Rotate:\n%s\nwant\n%s", got, want)
		}
	}
	err := e.b.Update(e.ctx, ccgw.SharedUpdate{ID: 1001, Expect: rec1, Record: rec1, QueueMax: QueueMax})
	if !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("Update expecting the record before Rotate: %v, want ErrChanged", err)
	}
	stale := rot
	stale.Expect, stale.Next = "stale", "g3"
	rot2 := rotation(1002, 1, "h2")
	conflicts, err := e.b.Rotate(e.ctx, []ccgw.SharedRotation{stale, rot2})
	if err != nil || !slices.Equal(conflicts, []ccgw.AgentID{1001}) {
		t.Fatalf("Rotate from a stale GUID: %v, %v; want a conflict of 1001", conflicts, err)
	}
	if got := e.get(e.a, 1001); got != want {
		t.Fatalf("record after a conflict: %s, want %s", got, want)
	}
	if got, want2 := e.get(e.a, 1002), rotated(t, 1002, 1, rot2); got != want2 || got == rec2 {
		t.Fatalf("1002 after Rotate: %s, want %s", got, want2)
	}
}

// testTickRotations: a tick records rotations as Rotate does and returns the
// conflicts.
func testTickRotations(t *testing.T, e *env) {
	SignIn(t, e.a, 1001, 1, 50_000)
	rec2 := SignIn(t, e.a, 1002, 1, 50_000)
	rot1 := rotation(1001, 1, "g2")
	stale := rotation(1002, 1, "h2")
	stale.Expect = "stale"
	tk := tickAt(1_000, nil)
	tk.Rotations = []ccgw.SharedRotation{rot1, stale}
	if got := e.tick(e.b, tk); !slices.Equal(got.Conflicts, []ccgw.AgentID{1002}) {
		t.Fatalf("Tick with rotations: conflicts %v, want [1002]", got.Conflicts)
	}
	if got, want := e.get(e.a, 1001), rotated(t, 1001, 1, rot1); got != want {
		t.Fatalf("1001 after the tick: %s, want %s", got, want)
	}
	if got := e.get(e.a, 1002); got != rec2 {
		t.Fatalf("1002 after a conflict: %s, want %s", got, rec2)
	}
	tk.Now, tk.Rotations = 2_000, []ccgw.SharedRotation{rot1}
	if got := e.tick(e.a, tk); len(got.Conflicts) != 0 {
		t.Fatalf("Tick recording a rotation again: conflicts %v, want none", got.Conflicts)
	}
}
