// Package sharedtest is the behaviour suite every ccgw.SharedStore passes:
// internal/store/redis (on a real redis-server) and internal/store/mem run
// the same cases, each on a fresh, empty store reached through two handles,
// A and B, as two nodes of a cluster reach it. Times are explicit Unix
// milliseconds: a store keeps no clock (but the push claim's lease), so no
// case sleeps or asserts on timing; where a subscription is involved a case
// waits for its subscribed callback and then polls, up to 30 s.
//
// The contract the cases check, beyond the method docs of ccgw.SharedStore:
//
//   - A store reads four things of the records it is given, which it
//     otherwise compares byte for byte: a session record's "gen", "skills",
//     "mode" and GUID block ("guid" to "loginTime", as encoding/json writes
//     ccgw.Session), and a tombstone record's "gen" (a string, as the
//     cluster writes it).
//   - SignIn: a session whose gen is not w.Expect is refused
//     (RetAlreadySignedIn without Force, else ErrChanged) and nothing
//     changes. Replacing one ends it as w.Replaced says (cause "replaced"):
//     its record is returned, its tombstone and last events (the shutdown
//     event last) stay for its old gen, a new sign-in's events are numbered
//     from 1, and a later sign-in leaves the last tombstone as it is.
//   - Update compares the whole record: RetNotSignedIn if there is none,
//     ErrChanged if it differs. Its events continue the sign-in's seqs.
//   - Ending (End, Expire, a replacement): the record leaves Get, Live,
//     Clients, the skill index (the skills its record lists) and the
//     deadline index; the queued events are dropped for Ending.Drop (counted)
//     if it is set; with a Shutdown event (queued last, even over a full
//     queue: the bound is QueueMax+1) the queue becomes the tombstone's
//     queue, and the previous tombstone's uncollected events count as
//     dropped session_ended; without one nothing is kept. The tombstone
//     record is Read's until a Tick at or after TombEnd (with RestLimit >
//     0) ends it, counting its uncollected events as dropped
//     session_ended.
//   - Events take consecutive seqs per sign-in; one marked Dropped takes
//     its seq and reaches the feed, is not queued, and counts as queued and
//     as dropped for DropFault. A queue over QueueMax loses its oldest
//     (DropQueueFull). A simulated agent's (QueueMax < 0) only reach the
//     feed and are not counted. Ack removes the head up to seq and counts
//     it dropped for a reason, if one is given.
//   - Push work: an agent is pending once an event is queued for it in push
//     mode (Push, or for the shutdown event the record's mode), until an Ack
//     empties that queue or its session ends without a Shutdown.
//   - Tick, in order: catches up (if its Now is more than Grace after the
//     last tick's, every stored deadline moves on by the gap), writes the
//     renewals (never moving a deadline back, never bringing back a session
//     that ended or was claimed), records the rotations, claims up to Limit
//     sessions whose deadline is at or before Now-Claim (earliest first,
//     each by one tick only, with its deadline) then claims lapsed at or
//     before Now-Lease (with the time of the lapsed claim), claims up to
//     RestLimit rests due at or before Now (each once), ends the tombstones
//     due, and returns the push work with Pending. A simulated session is
//     never claimed.
//   - Rotate sets the GUID block of sign-in Gen's stored record if its GUID
//     is still Expect, does nothing if it is Next already, and reports a
//     conflict otherwise; it appends no change to the feed.
//   - The feed holds every change in commit order, whichever node made it:
//     's' for a sign-in or Update (after its events), 'o' for an end (before
//     its shutdown event), 'e' for each event, a simulated agent's and a
//     dropped one's too.
//   - WatchAuth hears 'd' changes for an Update with AuthChanged and every
//     end (the gen ended), and Rotated ones for each rotation recorded, none
//     for a plain sign-in or Update; WatchEvents wakes an agent for each
//     event queued and for its session's end. Both return nil when ctx ends.
//   - Live pages by work number, with a deadline of 0 for a simulated or
//     claimed session; a limit of 0 returns nothing and more false.
package sharedtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/wait"
)

// Pair is two handles on one shared store, as two nodes hold it: two
// clients of one Redis prefix, or the same in-memory store twice.
type Pair struct {
	A, B ccgw.SharedStore
}

// Opener returns a Pair on a fresh, empty store for test t, and registers
// its cleanup on t.
type Opener func(t *testing.T) Pair

// Run runs the suite: each case on a Pair open returns.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"SignInGetRead", testSignInGetRead},
		{"SignInRefused", testSignInRefused},
		{"SignInReplaces", testSignInReplaces},
		{"UpdateCompareAndSet", testUpdate},
		{"EndCompareAndSet", testEnd},
		{"EndingDrops", testEndingDrops},
		{"TombstoneReplaced", testTombstoneReplaced},
		{"SkillIndex", testSkillIndex},
		{"Records", testRecords},
		{"Counts", testCounts},
		{"QueueOrder", testQueueOrder},
		{"QueueBound", testQueueBound},
		{"PeekQueuedAck", testPeekQueuedAck},
		{"PendingPushWork", testPending},
		{"PushClaim", testPushClaim},
		{"Simulated", testSimulated},
		{"TickRenewals", testTickRenewals},
		{"TickClaimAfterDeadline", testTickClaim},
		{"TickLimit", testTickLimit},
		{"ExpireOnce", testExpireOnce},
		{"LapsedClaimTakenOver", testLapsedClaim},
		{"TickRests", testTickRests},
		{"TickEndsTombstones", testTickTombstones},
		{"TickCatchUp", testCatchUp},
		{"Rotate", testRotate},
		{"TickRotations", testTickRotations},
		{"FeedEmpty", testFeedEmpty},
		{"FeedOrder", testFeed},
		{"WatchAuth", testWatchAuth},
		{"WatchEvents", testWatchEvents},
		{"Live", testLive},
		{"Clients", testClients},
		{"GUIDKey", testGUIDKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := open(t)
			if p.A == nil || p.B == nil {
				t.Fatal("sharedtest: the Opener returned a Pair without A or B")
			}
			tc.fn(t, &env{t: t, a: p.A, b: p.B, ctx: context.Background()})
		})
	}
}

// env is one case's store, through its two handles.
type env struct {
	t    *testing.T
	a, b ccgw.SharedStore
	ctx  context.Context
}

// Suite defaults: what a sign-in's queue holds, and how long tombstones'
// keys outlive a node that sweeps nothing.
const (
	QueueMax = 100
	KeepFor  = time.Minute
)

// Record returns the record of sign-in gen of agent id in mode with skills,
// as a node encodes it (encoding/json of a ccgw.Session), with the GUID
// "guid-<id>-<gen>" issued at 1000.
func Record(t testing.TB, id ccgw.AgentID, gen uint64, mode ccgw.Mode, skills ...int) string {
	t.Helper()
	return encode(t, session(id, gen, mode, skills...))
}

// session returns the session Record encodes.
func session(id ccgw.AgentID, gen uint64, mode ccgw.Mode, skills ...int) ccgw.Session {
	return ccgw.Session{Agent: id, Gen: gen, GUID: guid(id, gen), GUIDIssued: 1000,
		LoginTime: 1000, Op: "login", Mode: mode, Skills: skills}
}

func guid(id ccgw.AgentID, gen uint64) string { return fmt.Sprintf("guid-%d-%d", id, gen) }

func encode(t testing.TB, s ccgw.Session) string {
	t.Helper()
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Events returns events of types for agent id, generated at 1000.
func Events(id ccgw.AgentID, types ...string) []ccgw.SharedEvent {
	out := make([]ccgw.SharedEvent, len(types))
	for i, typ := range types {
		out[i] = ccgw.SharedEvent{Event: ccgw.Event{Type: typ, GenTime: 1000, WorkNo: id.String(), Content: json.RawMessage(`{}`)}}
	}
	return out
}

// Ending returns the ending of sign-in gen of agent id that tells its client
// (AgentOther_ShutdownService queued last, the queue, bound QueueMax, kept
// with the tombstone until tombEnd), as the cluster decides it for a timeout
// or a supervisor.
func Ending(id ccgw.AgentID, gen uint64, tombEnd int64) ccgw.SharedEnding {
	sd := Events(id, ccgw.EvShutdownService)[0]
	return ccgw.SharedEnding{QueueMax: QueueMax, Shutdown: &sd, Tomb: tombOf(id, gen, false), TombEnd: tombEnd}
}

// loggedOut returns the ending of a client's own sign-out: its events
// dropped (session_ended), nothing told.
func loggedOut(id ccgw.AgentID, gen uint64, tombEnd int64) ccgw.SharedEnding {
	return ccgw.SharedEnding{QueueMax: QueueMax, Drop: ccgw.DropSessionEnded, Tomb: tombOf(id, gen, true), TombEnd: tombEnd}
}

// tombOf returns a tombstone record as the cluster writes it: the gen a string.
func tombOf(id ccgw.AgentID, gen uint64, loggedOut bool) string {
	if loggedOut {
		return fmt.Sprintf(`{"guid":"%s","gen":"%d","mode":0,"loggedOut":true}`, guid(id, gen), gen)
	}
	return fmt.Sprintf(`{"guid":"%s","gen":"%d","mode":0}`, guid(id, gen), gen)
}

// SignIn signs agent id in on st, in poll mode (sign-in gen, expiring at
// deadline, queue bound QueueMax) with events of types, and returns its
// record.
func SignIn(t testing.TB, st ccgw.SharedStore, id ccgw.AgentID, gen uint64, deadline int64, types ...string) string {
	t.Helper()
	rec := Record(t, id, gen, ccgw.ModePoll)
	_, err := st.SignIn(context.Background(), ccgw.SharedSignIn{ID: id, Record: rec, Deadline: deadline,
		KeepFor: KeepFor, QueueMax: QueueMax, Events: Events(id, types...)})
	wantOK(t, fmt.Sprintf("sign in %d", id), err)
	return rec
}

// SignInSimulated signs agent id in on st as the simulated call centre does
// (no deadline, QueueMax -1), and returns its record.
func SignInSimulated(t testing.TB, st ccgw.SharedStore, id ccgw.AgentID, gen uint64, types ...string) string {
	t.Helper()
	rec := Record(t, id, gen, ccgw.ModePoll)
	_, err := st.SignIn(context.Background(), ccgw.SharedSignIn{ID: id, Record: rec, KeepFor: KeepFor, QueueMax: -1,
		Simulated: true, Events: Events(id, types...)})
	wantOK(t, fmt.Sprintf("sign in simulated %d", id), err)
	return rec
}

// LiveIDs returns the work numbers of the pages st.Live returns, limit at a
// time, and fails t if a page is out of order or says more follow wrongly.
func LiveIDs(t testing.TB, st ccgw.SharedStore, limit int) []ccgw.AgentID {
	t.Helper()
	var out []ccgw.AgentID
	after := ccgw.AgentID(0)
	for {
		page, more, err := st.Live(context.Background(), after, limit)
		wantOK(t, "Live", err)
		if len(page) > limit {
			t.Fatalf("Live(%d, %d): %d sessions", after, limit, len(page))
		}
		for _, x := range page {
			id := agentOf(t, x.Record)
			if id <= after {
				t.Fatalf("Live: %d after %d", id, after)
			}
			out = append(out, id)
			after = id
		}
		if !more {
			return out
		}
		if len(page) == 0 {
			t.Fatal("Live: an empty page with more to follow")
		}
	}
}

func agentOf(t testing.TB, rec string) ccgw.AgentID {
	t.Helper()
	var s ccgw.Session
	if err := json.Unmarshal([]byte(rec), &s); err != nil {
		t.Fatalf("record %q: %v", rec, err)
	}
	return s.Agent
}

func wantOK(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t testing.TB, what string, err error, want ccgw.Retcode) {
	t.Helper()
	if got := ccgw.CodeOf(err); got != want {
		t.Fatalf("%s: retcode %s (%v), want %s", what, got, err, want)
	}
}

// get returns agent id's record on st, failing t on an error.
func (e *env) get(st ccgw.SharedStore, id ccgw.AgentID) string {
	e.t.Helper()
	rec, err := st.Get(e.ctx, id)
	wantOK(e.t, fmt.Sprintf("Get %d", id), err)
	return rec
}

// wantRead fails t unless Read of agent id on st returns rec and tomb.
func (e *env) wantRead(st ccgw.SharedStore, id ccgw.AgentID, rec, tomb string) {
	e.t.Helper()
	gotRec, gotTomb, err := st.Read(e.ctx, id)
	if err != nil || gotRec != rec || gotTomb != tomb {
		e.t.Fatalf("Read %d: %q, %q, %v; want %q, %q", id, gotRec, gotTomb, err, rec, tomb)
	}
}

// wantGone fails t unless agent id has no session on st.
func (e *env) wantGone(st ccgw.SharedStore, id ccgw.AgentID) {
	e.t.Helper()
	_, err := st.Get(e.ctx, id)
	wantCode(e.t, fmt.Sprintf("Get %d", id), err, ccgw.RetNotSignedIn)
}

// counts returns st's Counts.
func (e *env) counts(st ccgw.SharedStore) ccgw.SessionStats {
	e.t.Helper()
	c, err := st.Counts(e.ctx)
	wantOK(e.t, "Counts", err)
	return c
}

// end ends sign-in gen of agent id on st for cause with ending, and fails t
// unless it returns rec.
func (e *env) end(st ccgw.SharedStore, id ccgw.AgentID, gen uint64, cause ccgw.SignOutCause, ending ccgw.SharedEnding, rec string) {
	e.t.Helper()
	got, err := st.End(e.ctx, ccgw.SharedEnd{ID: id, Gen: gen, Cause: cause, KeepFor: KeepFor, Ending: ending})
	if err != nil || got != rec {
		e.t.Fatalf("End %d gen %d: %q, %v; want %q", id, gen, got, err, rec)
	}
}

// update stores rec for agent id on st over old, with events.
func (e *env) update(st ccgw.SharedStore, id ccgw.AgentID, old, rec string, evs ...ccgw.SharedEvent) {
	e.t.Helper()
	wantOK(e.t, fmt.Sprintf("Update %d", id), st.Update(e.ctx, ccgw.SharedUpdate{ID: id, Expect: old, Record: rec,
		QueueMax: QueueMax, Events: evs}))
}

// event is one event as popped: its type and seq.
type event struct {
	Type string
	Seq  uint64
}

func (ev event) String() string { return fmt.Sprintf("%d %s", ev.Seq, ev.Type) }

// drain takes events with pop until it returns none.
func (e *env) drain(what string, pop func() (*ccgw.Event, error)) []event {
	e.t.Helper()
	var out []event
	for range 1000 {
		ev, err := pop()
		wantOK(e.t, what, err)
		if ev == nil {
			return out
		}
		out = append(out, event{ev.Type, ev.Seq})
	}
	e.t.Fatalf("%s: more than 1000 events", what)
	return nil
}

// wantPop fails t unless Pop of sign-in gen of agent id on st takes want,
// then nothing.
func (e *env) wantPop(st ccgw.SharedStore, id ccgw.AgentID, gen uint64, want ...event) {
	e.t.Helper()
	got := e.drain(fmt.Sprintf("Pop %d gen %d", id, gen), func() (*ccgw.Event, error) { return st.Pop(e.ctx, id, gen) })
	if !slices.Equal(got, want) {
		e.t.Fatalf("Pop %d gen %d: %v, want %v", id, gen, got, want)
	}
}

// wantPopTomb fails t unless PopTomb of agent id's ended sign-in gen on st
// takes want, then nothing.
func (e *env) wantPopTomb(st ccgw.SharedStore, id ccgw.AgentID, gen uint64, want ...event) {
	e.t.Helper()
	got := e.drain(fmt.Sprintf("PopTomb %d gen %d", id, gen), func() (*ccgw.Event, error) { return st.PopTomb(e.ctx, id, gen) })
	if !slices.Equal(got, want) {
		e.t.Fatalf("PopTomb %d gen %d: %v, want %v", id, gen, got, want)
	}
}

// wantPeek fails t unless Peek of agent id's queue (tomb: its ended
// session's) on st, up to max, returns events of seqs.
func (e *env) wantPeek(st ccgw.SharedStore, id ccgw.AgentID, tomb bool, max int, seqs ...uint64) {
	e.t.Helper()
	evs, err := st.Peek(e.ctx, id, tomb, max)
	wantOK(e.t, "Peek", err)
	got := make([]uint64, len(evs))
	for i, ev := range evs {
		got[i] = ev.Seq
	}
	if !slices.Equal(got, seqs) {
		e.t.Fatalf("Peek %d (tomb %v, max %d): seqs %v, want %v", id, tomb, max, got, seqs)
	}
}

// wantQueued fails t unless agent id's queue (tomb: its ended session's)
// holds n events on st.
func (e *env) wantQueued(st ccgw.SharedStore, id ccgw.AgentID, tomb bool, n int) {
	e.t.Helper()
	if got, err := st.Queued(e.ctx, id, tomb); err != nil || got != n {
		e.t.Fatalf("Queued %d (tomb %v): %d, %v; want %d", id, tomb, got, err, n)
	}
}

// checkFor calls f every 10ms until it returns nil, and fails t with its last
// error after timeout.
func checkFor(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	wait.For(t, timeout, 10*time.Millisecond, f)
}

// sorted returns ids sorted, for sets a store returns in no order.
func sorted(ids []ccgw.AgentID) []ccgw.AgentID {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
