package ccgw

import (
	"context"
	"errors"
	"time"
)

// SharedStore is the storage the gateway nodes of a cluster share, with the few
// atomic operations that make them one gateway: compare-and-set of a session
// record together with its events, a deadline index with batched renewals and
// an exactly-once claim of due sessions, an event log per agent with
// acknowledgement, and change notifications between nodes. It decides
// nothing: internal/session applies the session rules (SignIn, EndingOf,
// CheckSignOut, HasGUID, RestTimedOut) and hands this store their outcome.
// internal/store/redis implements it on Redis.
//
// A session is stored as its record: its encoding/json encoding, which a
// compare-and-set compares byte for byte. Times are Unix milliseconds. Every
// method fails with an *Error of RetInternal when the store cannot be
// reached, besides the errors listed.
type SharedStore interface {
	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	// GUIDKey returns the key every node derives rotated GUIDs with: the
	// stored one, or fresh, stored now, if there is none.
	GUIDKey(ctx context.Context, fresh []byte) ([]byte, error)

	// Get returns agent id's session record; RetNotSignedIn if it has none.
	Get(ctx context.Context, id AgentID) (string, error)
	// Read returns agent id's session record and the tombstone record of its
	// last ended session ("" for none), read at one instant.
	Read(ctx context.Context, id AgentID) (rec, tomb string, err error)
	// Records returns the session records of ids, in order ("" for an agent
	// with none).
	Records(ctx context.Context, ids []AgentID) ([]string, error)

	// SignIn stores a sign-in (see SharedSignIn). It returns the record of
	// the session it ended ("" for none). If the agent has a stored session
	// other than sign-in w.Expect (any, for 0), it fails with
	// RetAlreadySignedIn if w.Force is false, else with ErrChanged.
	SignIn(ctx context.Context, w SharedSignIn) (ended string, err error)
	// Update stores a changed session (see SharedUpdate). It fails with
	// RetNotSignedIn if the sign-in is gone and ErrChanged if the record is
	// no longer w.Expect. The change may outlive a crash only once Sync
	// returns.
	Update(ctx context.Context, w SharedUpdate) error
	// Sync returns once every change the store has answered is durable, with
	// the error that kept one from being so (for a store whose every answer
	// is as durable as it gets, at once).
	Sync(ctx context.Context) error
	// End ends a session (see SharedEnd) and returns its record as it was
	// stored. It fails with RetNotSignedIn if sign-in w.Gen is not stored and
	// ErrChanged if w.Expect is set and the record is no longer that.
	End(ctx context.Context, w SharedEnd) (ended string, err error)
	// Expire ends the sessions a Tick claimed for CauseTimeout, each if its
	// sign-in is still stored, and returns the records of those it ended.
	// Their Expect and Cause are ignored, and the first one's KeepFor holds
	// for all.
	Expire(ctx context.Context, ends []SharedEnd) ([]string, error)
	// Tick writes one node's batched renewals and rotations and claims due
	// sessions, rests and push work for it (see SharedTick).
	Tick(ctx context.Context, t SharedTick) (SharedTicked, error)
	// Rotate records rotated GUIDs now and returns the agents whose record
	// conflicted (the GUID it expected was no longer stored).
	Rotate(ctx context.Context, rots []SharedRotation) ([]AgentID, error)
	// FileRest files when rest restSeq of agent id runs out, for a Tick to
	// claim.
	FileRest(ctx context.Context, id AgentID, restSeq uint64, until int64) error

	// Pop takes the next event of sign-in gen's queue: nil if it is empty;
	// RetNotSignedIn if the sign-in is not live.
	Pop(ctx context.Context, id AgentID, gen uint64) (*Event, error)
	// PopTomb takes the next of the last events of agent id's ended sign-in
	// gen, if its tombstone is still that sign-in's; nil if none is left.
	PopTomb(ctx context.Context, id AgentID, gen uint64) (*Event, error)
	// Peek returns up to max events from the head of agent id's queue (the
	// ended session's, with tomb), without taking them.
	Peek(ctx context.Context, id AgentID, tomb bool, max int) ([]Event, error)
	// Queued returns how many events agent id's queue (with tomb, its ended
	// session's) holds.
	Queued(ctx context.Context, id AgentID, tomb bool) (int, error)
	// Ack removes the events up to seq from the head of the queue of agent
	// id's sign-in gen: delivered if reason is empty, else counted as dropped
	// for it. That is the live session's queue if the session is gen's, else
	// the ended session's if the tombstone is gen's (a session that ended
	// while its events were pushed: its queue went with its tombstone), else
	// none: a later sign-in's queue is never touched. It returns how many it
	// removed.
	Ack(ctx context.Context, id AgentID, gen uint64, seq uint64, reason DropReason) (int, error)
	// ClaimPush takes or keeps node's claim on agent id's push work for
	// lease; false while another node holds it.
	ClaimPush(ctx context.Context, id AgentID, node string, lease time.Duration) (bool, error)
	// ReleasePush gives node's claim on agent id's push work up.
	ReleasePush(ctx context.Context, id AgentID, node string) error

	// SkillMembers returns the agents signed in to skill, in no order.
	SkillMembers(ctx context.Context, skill int) ([]AgentID, error)
	// Live returns up to limit live sessions with work numbers above after,
	// in work-number order, and whether more follow (none for a limit below
	// 1).
	Live(ctx context.Context, after AgentID, limit int) ([]SharedLive, bool, error)
	// Clients returns the work numbers of the live sessions not marked
	// simulated, in work-number order.
	Clients(ctx context.Context) ([]AgentID, error)
	// Prepare brings the indexes of sessions an earlier version stored up to
	// date, once per store; until it is done such sessions may be missing
	// from Live and Clients, never shown twice.
	Prepare(ctx context.Context) error
	// Counts returns the cluster-wide figures of SessionStats: Live,
	// SignIns, Expiries, Queued, SignOuts and Drops.
	Counts(ctx context.Context) (SessionStats, error)

	// FeedEnd returns the ID of the last change recorded ("0-0" for none).
	FeedEnd(ctx context.Context) (string, error)
	// FeedRead returns up to max changes recorded after the one with ID
	// after, in the order they were committed, waiting up to block (if > 0)
	// for the first. A change it cannot read comes with Kind 0, so that the
	// reader moves past it.
	FeedRead(ctx context.Context, after string, max int, block time.Duration) ([]SharedChange, error)
	// FeedTrimmed returns the ID of the last change the feed has forgotten
	// ("" for none).
	FeedTrimmed(ctx context.Context) (string, error)
	// WatchEvents calls subscribed once the subscription to the agents that
	// had events queued (by any node) or their session ended is up, then wake
	// with each such agent, until ctx ends or the subscription is lost (one
	// may then have been missed); it then returns why.
	WatchEvents(ctx context.Context, subscribed func(), wake func(AgentID)) error
	// WatchAuth calls subscribed once the subscription to the changes of
	// sessions' auth facts is up, then changed with each change, until ctx
	// ends or the subscription is lost (a change may then have been missed);
	// it then returns why.
	WatchAuth(ctx context.Context, subscribed func(), changed func(SharedAuthChange)) error
}

// ErrChanged is a SharedStore's answer to a compare-and-set whose session
// changed since it was read: the caller reads it again and decides again.
var ErrChanged = errors.New("stored session changed meanwhile")

// SharedEvent is an event a SharedStore queues, with the next seq of its
// agent. Dropped marks one a drop-events fault drops: it takes its seq and
// reaches the feed, and is counted as DropFault instead of queued.
type SharedEvent struct {
	Event   Event
	Dropped bool
}

// SharedEnding is what ending a session stores, as EndingOf decided it.
type SharedEnding struct {
	// QueueMax bounds the queue; below 0 for a simulated agent, whose
	// events only go to the feed.
	QueueMax int
	Drop     DropReason   // the queued events are dropped for this ("": kept)
	Shutdown *SharedEvent // queued last, for the old GUID; nil: nothing told
	Tomb     string       // the tombstone record
	TombEnd  int64        // when the tombstone ends and its events count as dropped
}

// SharedSignIn is a sign-in to store. If w.Expect is not 0 it replaces
// sign-in Expect, ending it with Replaced.
type SharedSignIn struct {
	ID        AgentID
	Record    string
	Force     bool
	Expect    uint64 // the gen of the session the node decided to replace; 0: none
	Deadline  int64  // when the session expires unless renewed
	KeepFor   time.Duration
	QueueMax  int // below 0: a simulated agent (it never expires)
	Push      bool
	Skills    []int
	Simulated bool
	Replaced  SharedEnding
	Events    []SharedEvent
}

// SharedUpdate is a changed session to store if its record is still Expect.
type SharedUpdate struct {
	ID                  AgentID
	Expect, Record      string
	QueueMax            int
	Push                bool
	SkillsOff, SkillsOn []int
	AuthChanged         bool // the nodes' caches drop what they hold of it
	Events              []SharedEvent
}

// SharedEnd ends sign-in Gen of agent ID (if Expect is set, only while its
// record is exactly Expect), for Cause.
type SharedEnd struct {
	ID      AgentID
	Gen     uint64
	Expect  string
	Cause   SignOutCause
	KeepFor time.Duration // how long the tombstone's keys outlive a node that sweeps nothing
	Ending  SharedEnding
}

// SharedRotation moves sign-in Gen's GUID from Expect on to Next (rotation
// number N, issued at Issued, with Prev valid until PrevUntil).
type SharedRotation struct {
	ID                 AgentID
	Gen                uint64
	Expect, Next, Prev string
	N                  uint32
	Issued, PrevUntil  int64
}

// SharedTick is one node's work for a tick.
type SharedTick struct {
	Now       int64
	Claim     time.Duration // a session is claimed this long after its stored deadline
	Limit     int           // the most due sessions claimed
	KeepFor   time.Duration
	QueueMax  int
	Grace     time.Duration // nobody swept for longer than this: every deadline moves on by the gap
	RestLimit int           // the most due rests claimed and (up to 1000) tombstones ended; 0: neither
	Pending   bool          // return the agents with push work
	Lease     time.Duration // a claim not ended for this long is taken over
	Renewals  map[AgentID]int64
	Rotations []SharedRotation
}

// SharedTicked is what a Tick claimed for its node.
type SharedTicked struct {
	Claimed   []SharedClaim
	Rests     []SharedRest
	Conflicts []AgentID // rotations another change overtook
	Pending   []AgentID
}

// SharedClaim is a due session a Tick claimed: its record and its deadline
// (a claim taken over: when it was first claimed).
type SharedClaim struct {
	Record   string
	Deadline int64
}

// SharedRest is a rest that ran out.
type SharedRest struct {
	ID      AgentID
	RestSeq uint64
}

// SharedLive is a live session as the agents list reads it.
type SharedLive struct {
	Record   string
	Deadline int64 // 0: none (a simulated session, or one claimed for its expiry)
	Queued   int
}

// SharedChangeKind is what a SharedChange records.
type SharedChangeKind byte

// Kinds of SharedChange.
const (
	ChangeQueued SharedChangeKind = 'e' // an event queued (Event)
	ChangeStored SharedChangeKind = 's' // a sign-in or update stored (Record)
	ChangeEnded  SharedChangeKind = 'o' // a session ended (Record, as it was)
)

// SharedChange is one record of a SharedStore's feed of changes.
type SharedChange struct {
	ID     string
	Kind   SharedChangeKind
	Event  Event
	Record string
}

// SharedAuthChange tells the nodes that the auth facts of sign-in Gen of
// agent ID changed: with Rotated, its GUID moved to rotation N, issued at
// Issued, the one before valid until PrevUntil; else they must be read again.
type SharedAuthChange struct {
	ID                AgentID
	Gen               uint64
	Rotated           bool
	N                 uint32
	Issued, PrevUntil int64
}

// SharedLog keeps on disk what the SharedStore of a single node holds
// (internal/store/mem's Shared, opened on one), so that its sessions and
// their undelivered events outlive the process. internal/store/bolt
// implements it on bbolt. Implementations are safe for concurrent use.
type SharedLog interface {
	// Commit writes ops, in order, in one durable commit, and returns once
	// they are durable. After an error any of them may or may not be
	// written; committing them again is safe.
	Commit(ops []LogOp) error
	// CountSessions returns how many sessions are stored: a restore sizes
	// its tables with it.
	CountSessions() (int, error)
	// LoadSessions calls fn for every stored session (see SessionStore).
	LoadSessions(fn func(*Session) error) error
	// LoadEvents calls fn for every stored sign-in's undelivered events (see
	// EventStore).
	LoadEvents(fn func(id AgentID, gen, acked uint64, evs []Event) error) error
	// Key returns the random key of n bytes stored as name, made and stored
	// now if there is none.
	Key(name string, n int) ([]byte, error)
}

// LogOp is one change a SharedLog commits: Put, then Delete, then Events,
// then Acked, whichever are set.
type LogOp struct {
	Put    *Session   // stored unless a later sign-in of its agent is
	Ref    SessionRef // the sign-in Delete, Events and Acked are of
	Delete bool       // forget the sign-in and its events
	Events []Event    // undelivered events of Ref, appended
	Acked  uint64     // Ref's events up to this seq were delivered (0: none)
}
