package sharedtest

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ccgw/ccgw"
)

// testSignInGetRead: a sign-in is read back, on either node; an agent never
// signed in has no record and no tombstone.
func testSignInGetRead(t *testing.T, e *env) {
	const id = 1001
	rec := SignIn(t, e.a, id, 11, 50_000, ccgw.EvInService)
	for _, st := range []ccgw.SharedStore{e.a, e.b} {
		if got := e.get(st, id); got != rec {
			t.Fatalf("Get: %q, want %q", got, rec)
		}
		e.wantRead(st, id, rec, "")
	}
	e.wantGone(e.b, 1002)
	e.wantRead(e.b, 1002, "", "")
}

// testSignInRefused: a sign-in over a session it does not name is refused,
// RetAlreadySignedIn without Force, ErrChanged with it, and changes nothing.
func testSignInRefused(t *testing.T, e *env) {
	const id = 1001
	rec1 := SignIn(t, e.a, id, 11, 50_000, ccgw.EvInService)
	for _, c := range []struct {
		force  bool
		expect uint64
	}{{false, 0}, {false, 99}, {true, 0}, {true, 99}} {
		w := ccgw.SharedSignIn{ID: id, Record: Record(t, id, 22, ccgw.ModePoll), Force: c.force, Expect: c.expect,
			Deadline: 60_000, KeepFor: KeepFor, QueueMax: QueueMax, Events: Events(id, ccgw.EvReady)}
		if c.expect != 0 {
			w.Replaced = Ending(id, c.expect, 70_000)
		}
		ended, err := e.b.SignIn(e.ctx, w)
		what := fmt.Sprintf("sign-in with Force %v, Expect %d over sign-in 11", c.force, c.expect)
		if c.force {
			if !errors.Is(err, ccgw.ErrChanged) {
				t.Fatalf("%s: %v, want ErrChanged", what, err)
			}
		} else {
			wantCode(t, what, err, ccgw.RetAlreadySignedIn)
		}
		if ended != "" {
			t.Fatalf("%s: ended %q", what, ended)
		}
	}
	e.wantRead(e.a, id, rec1, "")
	e.wantPop(e.a, id, 11, event{ccgw.EvInService, 1})
	if c := e.counts(e.b); c.SignIns != 1 || c.Live != 1 || c.SignOuts[ccgw.CauseReplaced] != 0 {
		t.Errorf("Counts: %+v; want 1 sign-in, 1 live, none replaced", c)
	}
}

// testSignInReplaces: a sign-in that names the stored one replaces it: the
// old record is returned, and its tombstone and last events (the shutdown
// event last) stay for the old gen; the new sign-in's events start at seq 1.
func testSignInReplaces(t *testing.T, e *env) {
	const id = 1001
	rec1 := SignIn(t, e.a, id, 11, 50_000, ccgw.EvInService)
	rec2 := Record(t, id, 22, ccgw.ModePoll)
	w := ccgw.SharedSignIn{ID: id, Record: rec2, Force: true, Expect: 11, Deadline: 60_000, KeepFor: KeepFor,
		QueueMax: QueueMax, Replaced: Ending(id, 11, 70_000), Events: Events(id, ccgw.EvReady)}
	ended, err := e.b.SignIn(e.ctx, w)
	if err != nil || ended != rec1 {
		t.Fatalf("forced sign-in replacing sign-in 11: ended %q, %v; want the first record", ended, err)
	}
	e.wantRead(e.a, id, rec2, w.Replaced.Tomb)
	_, err = e.a.Pop(e.ctx, id, 11)
	wantCode(t, "Pop of the replaced sign-in", err, ccgw.RetNotSignedIn)
	e.wantPopTomb(e.a, id, 22) // the tombstone is 11's
	e.wantPop(e.a, id, 22, event{ccgw.EvReady, 1})
	e.wantPopTomb(e.b, id, 11, event{ccgw.EvInService, 1}, event{ccgw.EvShutdownService, 2})
	c := e.counts(e.a)
	if c.Live != 1 || c.SignIns != 2 || c.SignOuts[ccgw.CauseReplaced] != 1 || c.Queued != 3 {
		t.Errorf("Counts: %+v; want 1 live, 2 sign-ins, 1 replaced, 3 queued", c)
	}
}

// testUpdate: an Update compares the whole record: it fails with ErrChanged
// if the record is not Expect, RetNotSignedIn if there is none.
func testUpdate(t *testing.T, e *env) {
	const id = 1001
	rec1 := SignIn(t, e.a, id, 7, 50_000)
	rec2 := Record(t, id, 7, ccgw.ModePoll, 3)
	e.update(e.b, id, rec1, rec2)
	if got := e.get(e.a, id); got != rec2 {
		t.Fatalf("after Update: %q, want %q", got, rec2)
	}
	err := e.a.Update(e.ctx, ccgw.SharedUpdate{ID: id, Expect: rec1, Record: Record(t, id, 7, ccgw.ModePush), QueueMax: QueueMax,
		Events: Events(id, ccgw.EvReady)})
	if !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("Update with a stale Expect: %v, want ErrChanged", err)
	}
	if got := e.get(e.b, id); got != rec2 {
		t.Fatalf("after a refused Update: %q, want %q", got, rec2)
	}
	e.wantQueued(e.a, id, false, 0)
	err = e.a.Update(e.ctx, ccgw.SharedUpdate{ID: 1002, Expect: rec1, Record: rec1, QueueMax: QueueMax})
	wantCode(t, "Update of an agent never signed in", err, ccgw.RetNotSignedIn)
	e.end(e.a, id, 7, ccgw.CauseSupervisor, Ending(id, 7, 60_000), rec2)
	err = e.b.Update(e.ctx, ccgw.SharedUpdate{ID: id, Expect: rec2, Record: rec2, QueueMax: QueueMax})
	wantCode(t, "Update after End", err, ccgw.RetNotSignedIn)
}

// testEnd: End ends the named sign-in only, and with Expect only while its
// record is exactly that; it returns the record and leaves the tombstone,
// which a later sign-in leaves as it is.
func testEnd(t *testing.T, e *env) {
	const id = 1001
	rec1 := SignIn(t, e.a, id, 7, 50_000, ccgw.EvInService)
	rec2 := Record(t, id, 7, ccgw.ModePoll, 3)
	e.update(e.a, id, rec1, rec2)

	end := ccgw.SharedEnd{ID: id, Gen: 7, Expect: rec1, Cause: ccgw.CauseSupervisor, KeepFor: KeepFor, Ending: Ending(id, 7, 60_000)}
	if _, err := e.b.End(e.ctx, end); !errors.Is(err, ccgw.ErrChanged) {
		t.Fatalf("End expecting a stale record: %v, want ErrChanged", err)
	}
	end.Gen = 6
	_, err := e.b.End(e.ctx, end)
	wantCode(t, "End of another sign-in", err, ccgw.RetNotSignedIn)
	e.wantRead(e.a, id, rec2, "")
	end.Gen, end.Expect = 7, rec2
	ended, err := e.b.End(e.ctx, end)
	if err != nil || ended != rec2 {
		t.Fatalf("End: %q, %v; want %q", ended, err, rec2)
	}
	e.wantGone(e.a, id)
	e.wantRead(e.a, id, "", end.Ending.Tomb)
	_, err = e.a.Pop(e.ctx, id, 7)
	wantCode(t, "Pop after End", err, ccgw.RetNotSignedIn)
	_, err = e.a.End(e.ctx, end)
	wantCode(t, "End again", err, ccgw.RetNotSignedIn)
	end.Expect = ""
	_, err = e.a.End(e.ctx, end)
	wantCode(t, "End again without Expect", err, ccgw.RetNotSignedIn)
	_, err = e.a.End(e.ctx, ccgw.SharedEnd{ID: 1002, Gen: 1, Cause: ccgw.CauseSupervisor, KeepFor: KeepFor, Ending: Ending(1002, 1, 60_000)})
	wantCode(t, "End of an agent never signed in", err, ccgw.RetNotSignedIn)

	rec8 := SignIn(t, e.b, id, 8, 90_000, ccgw.EvReady)
	e.wantRead(e.a, id, rec8, end.Ending.Tomb)
	e.wantPop(e.a, id, 8, event{ccgw.EvReady, 1})
	e.wantPopTomb(e.a, id, 7, event{ccgw.EvInService, 1}, event{ccgw.EvShutdownService, 2})
	c := e.counts(e.b)
	if c.Live != 1 || c.SignIns != 2 || c.SignOuts[ccgw.CauseSupervisor] != 1 {
		t.Errorf("Counts: %+v; want 1 live, 2 sign-ins, 1 supervisor sign-out", c)
	}
}

// testEndingDrops: an ending drops the queued events for its Drop (counted);
// without a shutdown event nothing is kept for the old GUID but the
// tombstone record, with one only that event.
func testEndingDrops(t *testing.T, e *env) {
	SignIn(t, e.a, 1001, 1, 50_000, ccgw.EvInService, ccgw.EvReady)
	rec2 := SignIn(t, e.a, 1002, 1, 50_000, ccgw.EvInService, ccgw.EvReady)
	rec1 := e.get(e.a, 1001)
	logout := loggedOut(1001, 1, 60_000)
	e.end(e.b, 1001, 1, ccgw.CauseLogout, logout, rec1)
	e.wantRead(e.a, 1001, "", logout.Tomb)
	e.wantQueued(e.a, 1001, false, 0)
	e.wantQueued(e.a, 1001, true, 0)
	e.wantPopTomb(e.a, 1001, 1)

	pushFailed := Ending(1002, 1, 60_000)
	pushFailed.Drop = ccgw.DropPushFailed
	e.end(e.b, 1002, 1, ccgw.CausePushFailed, pushFailed, rec2)
	e.wantRead(e.a, 1002, "", pushFailed.Tomb)
	e.wantQueued(e.a, 1002, true, 1)
	e.wantPopTomb(e.a, 1002, 1, event{ccgw.EvShutdownService, 3})

	c := e.counts(e.a)
	if c.Drops[ccgw.DropSessionEnded] != 2 || c.Drops[ccgw.DropPushFailed] != 2 || c.Queued != 5 ||
		c.SignOuts[ccgw.CauseLogout] != 1 || c.SignOuts[ccgw.CausePushFailed] != 1 || c.Live != 0 {
		t.Errorf("Counts: %+v; want 2 session_ended and 2 push_failed drops, 5 queued, a logout, a push failure", c)
	}
}

// testTombstoneReplaced: a session ending with a shutdown event replaces the
// agent's last tombstone; what that one's client did not collect counts as
// dropped (session_ended).
func testTombstoneReplaced(t *testing.T, e *env) {
	const id = 1001
	rec1 := SignIn(t, e.a, id, 1, 50_000, ccgw.EvInService)
	e.end(e.a, id, 1, ccgw.CauseSupervisor, Ending(id, 1, 60_000), rec1)
	if ev, err := e.b.PopTomb(e.ctx, id, 1); err != nil || ev == nil || ev.Type != ccgw.EvInService {
		t.Fatalf("PopTomb: %+v, %v; want %s", ev, err, ccgw.EvInService)
	}
	rec2 := SignIn(t, e.b, id, 2, 50_000, ccgw.EvReady)
	end2 := Ending(id, 2, 70_000)
	e.end(e.b, id, 2, ccgw.CauseTimeout, end2, rec2)
	e.wantRead(e.a, id, "", end2.Tomb)
	e.wantPopTomb(e.a, id, 1)
	e.wantPopTomb(e.a, id, 2, event{ccgw.EvReady, 1}, event{ccgw.EvShutdownService, 2})
	if c := e.counts(e.a); c.Drops[ccgw.DropSessionEnded] != 1 {
		t.Errorf("Counts: drops %v; want 1 session_ended (sign-in 1's shutdown event)", c.Drops)
	}
}

// skillMembers returns SkillMembers(skill) on st, sorted.
func (e *env) skillMembers(st ccgw.SharedStore, skill int) []ccgw.AgentID {
	e.t.Helper()
	ids, err := st.SkillMembers(e.ctx, skill)
	wantOK(e.t, fmt.Sprintf("SkillMembers(%d)", skill), err)
	return sorted(ids)
}

// testSkillIndex: the agents signed in to a skill, kept by sign-ins,
// Updates (SkillsOff, SkillsOn), replacements and every end (the skills the
// ended record lists).
func testSkillIndex(t *testing.T, e *env) {
	want := func(skill int, ids ...ccgw.AgentID) {
		t.Helper()
		for _, st := range []ccgw.SharedStore{e.a, e.b} {
			if got := e.skillMembers(st, skill); !slices.Equal(got, ids) {
				t.Fatalf("SkillMembers(%d): %v, want %v", skill, got, ids)
			}
		}
	}
	signIn := func(st ccgw.SharedStore, id ccgw.AgentID, gen, expect uint64, skills ...int) string {
		t.Helper()
		w := ccgw.SharedSignIn{ID: id, Record: Record(t, id, gen, ccgw.ModePoll, skills...), Deadline: 10_000, KeepFor: KeepFor,
			QueueMax: QueueMax, Skills: skills}
		if expect != 0 {
			w.Force, w.Expect, w.Replaced = true, expect, Ending(id, expect, 60_000)
		}
		_, err := st.SignIn(e.ctx, w)
		wantOK(t, fmt.Sprintf("sign in %d gen %d", id, gen), err)
		return w.Record
	}
	rec1 := signIn(e.a, 1001, 1, 0, 1, 2)
	signIn(e.b, 1002, 1, 0, 2)
	want(1, 1001)
	want(2, 1001, 1002)
	want(3)

	rec1b := Record(t, 1001, 1, ccgw.ModePoll, 1, 3)
	wantOK(t, "Update", e.b.Update(e.ctx, ccgw.SharedUpdate{ID: 1001, Expect: rec1, Record: rec1b, QueueMax: QueueMax,
		SkillsOff: []int{2}, SkillsOn: []int{3}}))
	want(1, 1001)
	want(2, 1002)
	want(3, 1001)

	rec2 := signIn(e.a, 1002, 2, 1, 4)
	want(2)
	want(4, 1002)

	e.end(e.a, 1001, 1, ccgw.CauseLogout, loggedOut(1001, 1, 60_000), rec1b)
	want(1)
	want(3)

	if _, err := e.a.Tick(e.ctx, tickAt(20_000, nil)); err != nil {
		t.Fatalf("Tick: %v", err)
	}
	ended, err := e.b.Expire(e.ctx, []ccgw.SharedEnd{{ID: 1002, Gen: 2, Cause: ccgw.CauseTimeout, KeepFor: KeepFor, Ending: Ending(1002, 2, 80_000)}})
	if err != nil || !slices.Equal(ended, []string{rec2}) {
		t.Fatalf("Expire 1002: %q, %v", ended, err)
	}
	want(4)
}

// testRecords: Records reads the records of many agents in order, "" for
// those with none.
func testRecords(t *testing.T, e *env) {
	rec1 := SignIn(t, e.a, 1001, 1, 50_000)
	rec3 := SignIn(t, e.b, 1003, 1, 50_000)
	got, err := e.b.Records(e.ctx, []ccgw.AgentID{1003, 1002, 1001, 1003})
	if err != nil || !slices.Equal(got, []string{rec3, "", rec1, rec3}) {
		t.Fatalf("Records: %q, %v", got, err)
	}
	if got, err := e.a.Records(e.ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Records of none: %q, %v", got, err)
	}
}

// testCounts: the cluster-wide figures, whichever node made the changes:
// live sessions (claimed and simulated ones too), sign-ins, expiries,
// events queued, sign-outs by cause; the maps never nil.
func testCounts(t *testing.T, e *env) {
	c := e.counts(e.a)
	if c.Live != 0 || c.SignIns != 0 || c.Expiries != 0 || c.Queued != 0 || len(c.SignOuts) != 0 || len(c.Drops) != 0 || c.Partial {
		t.Fatalf("Counts of an empty store: %+v", c)
	}
	if c.SignOuts == nil || c.Drops == nil {
		t.Errorf("Counts: SignOuts %v, Drops %v; want empty maps, not nil", c.SignOuts, c.Drops)
	}
	rec1 := SignIn(t, e.a, 1001, 1, 10_000, ccgw.EvInService, ccgw.EvReady)
	rec2 := SignIn(t, e.b, 1002, 1, 50_000)
	SignInSimulated(t, e.a, 1003, 1, ccgw.EvInService)
	if c := e.counts(e.b); c.Live != 3 || c.SignIns != 3 || c.Queued != 2 {
		t.Fatalf("Counts after 3 sign-ins: %+v; want 3 live, 3 sign-ins, 2 queued", c)
	}
	e.end(e.b, 1002, 1, ccgw.CauseSupervisor, Ending(1002, 1, 60_000), rec2)
	if c := e.counts(e.a); c.Live != 2 || c.Queued != 3 || c.SignOuts[ccgw.CauseSupervisor] != 1 {
		t.Fatalf("Counts after End: %+v; want 2 live, 3 queued, 1 supervisor sign-out", c)
	}
	got, err := e.a.Tick(e.ctx, tickAt(20_000, nil))
	if err != nil || len(got.Claimed) != 1 {
		t.Fatalf("Tick: %+v, %v; want 1001 claimed", got, err)
	}
	if c := e.counts(e.b); c.Live != 2 {
		t.Fatalf("Counts after a claim: %+v; want 2 live (1001 claimed)", c)
	}
	ended, err := e.a.Expire(e.ctx, []ccgw.SharedEnd{{ID: 1001, Gen: 1, Cause: ccgw.CauseTimeout, KeepFor: KeepFor, Ending: Ending(1001, 1, 80_000)}})
	if err != nil || !slices.Equal(ended, []string{rec1}) {
		t.Fatalf("Expire: %q, %v", ended, err)
	}
	c = e.counts(e.b)
	if c.Live != 1 || c.SignIns != 3 || c.Expiries != 1 || c.Queued != 4 || c.SignOuts[ccgw.CauseTimeout] != 1 ||
		c.SignOuts[ccgw.CauseSupervisor] != 1 {
		t.Errorf("Counts at the end: %+v; want 1 live, 3 sign-ins, 1 expiry, 4 queued, a timeout and a supervisor sign-out", c)
	}
	for reason, n := range c.Drops {
		if n != 0 {
			t.Errorf("Counts: %d dropped for %s, want none", n, reason)
		}
	}
}

// testGUIDKey: the first key offered is kept and returned to every node.
func testGUIDKey(t *testing.T, e *env) {
	k1 := []byte("0123456789abcdef0123456789abcdef")
	k2 := []byte("fedcba9876543210fedcba9876543210")
	for _, c := range []struct {
		st    ccgw.SharedStore
		fresh []byte
	}{{e.a, k1}, {e.b, k2}, {e.a, k2}, {e.b, k1}} {
		got, err := c.st.GUIDKey(e.ctx, c.fresh)
		if err != nil || string(got) != string(k1) {
			t.Fatalf("GUIDKey: %q, %v; want the first key", got, err)
		}
	}
}
