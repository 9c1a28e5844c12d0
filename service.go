package ccgw

import (
	"context"
	"time"
)

// SessionService is what the HTTP API and the call simulator need of agent
// sessions. internal/session's Service implements it, once, on a
// SharedStore: on one node a mem.Shared kept in a bbolt file (or in memory),
// on several nodes Redis. internal/session/sessiontest holds the behaviour
// suite it passes on every store.
//
// Every method takes the caller's context: a store or network call made on the
// caller's behalf is abandoned when it is done, and the method then fails with
// RetInternal. Errors are *Error values carrying the retcodes listed.
type SessionService interface {
	// SignIn signs an agent in and returns its new session. It fails with
	// RetBadPassword for a wrong password or an unknown agent,
	// RetAccountLocked if wrong passwords locked the agent out,
	// RetAlreadySignedIn if the agent is signed in and req.Force is false (or
	// another sign-in of the agent came first), and RetInternal if the store
	// fails. A forced sign-in ends the earlier session (its client is told
	// AgentOther_ShutdownService).
	SignIn(ctx context.Context, req SignIn) (Session, error)
	// SignOut ends agent id's session at its own request: cause CauseLogout
	// (refused with RetLogoutStateError while the agent talks) or
	// CauseForceLogout. It fails with RetNotSignedIn, RetNoPermission (guid
	// is not the session's), RetAlreadySignedOut (the session this GUID
	// named was already ended by its agent) or RetInternal.
	SignOut(ctx context.Context, id AgentID, guid string, cause SignOutCause) error
	// Kick ends agent id's session whatever its GUID (a supervisor's forced
	// sign-out, a push failure). It fails with RetNotSignedIn if the agent has
	// no session, or RetInternal.
	Kick(ctx context.Context, id AgentID, cause SignOutCause) error
	// Heartbeat renews agent id's session if guid is its GUID (or the previous
	// one, within its grace time); a non-empty token replaces the session's
	// service token. It returns the GUID the client should switch to, or ""
	// if it already has it. It fails with RetNotSignedIn if the agent has no
	// session (or guid is that of a sign-in that was replaced),
	// RetNoPermission if guid is not the session's, and RetInternal.
	Heartbeat(ctx context.Context, id AgentID, guid, token string) (string, error)
	// Poll takes agent id's next event, waiting up to wait for one
	// (getAgentEvent); the poll is a heartbeat. A client whose session ended
	// can still collect its last events with its old GUID. It returns the
	// event (nil after wait with none, or when ctx ends the wait) and the GUID
	// the client should switch to ("" if none). It fails with
	// RetNotSignedIn, RetNoPermission, RetWrongEventMethod for a push-mode
	// session, and RetInternal.
	Poll(ctx context.Context, id AgentID, guid string, wait time.Duration) (*Event, string, error)
	// UpdateGUID gives agent id's session a fresh GUID at once (updateGuid);
	// the old one stays valid for the GUID timeout. It fails as Heartbeat.
	UpdateGUID(ctx context.Context, id AgentID, guid string) (string, error)
	// Session returns a copy of agent id's session if guid authenticates it.
	// It fails with RetNotSignedIn, RetNoPermission and RetInternal.
	Session(ctx context.Context, id AgentID, guid string) (Session, error)
	// Lookup returns a copy of agent id's session whatever its GUID, for
	// queries about other agents; false if it has none or the store cannot
	// be read.
	Lookup(ctx context.Context, id AgentID) (Session, bool)
	// BySkill returns copies of the live sessions signed in to skill, in
	// work-number order; none if the store cannot be read.
	BySkill(ctx context.Context, skill int) []Session
	// EachInSkill calls fn with each live session signed in to skill whose
	// work number is above after, in work-number order, until fn returns
	// false; the session's Skills are valid only until fn returns. A caller
	// that needs a page of a skill's agents stops early and pays for that
	// page, not for all.
	EachInSkill(ctx context.Context, skill int, after AgentID, fn func(Session) bool)
	// Update runs fn on agent id's session, authenticated by guid: fn changes
	// the session and returns the events to queue, or an error to refuse (the
	// change is then not made). fn must not block or do I/O; it may run more
	// than once on a cluster (each run on the latest session). It fails with
	// RetNotSignedIn, RetNoPermission, fn's error, and RetInternal.
	Update(ctx context.Context, id AgentID, guid string, fn func(s *Session, now time.Time) ([]Emit, error)) (Session, error)
	// UpdateAny is Update without the GUID check, for the gateway's own
	// changes (the simulated call centre, a supervisor's interfaces); a
	// client's request always goes through Update. It fails with
	// RetNotSignedIn, fn's error, and RetInternal.
	UpdateAny(ctx context.Context, id AgentID, fn func(s *Session, now time.Time) ([]Emit, error)) (Session, error)
	// Stats returns a snapshot of the counters; SessionStats.Partial is set
	// if the store-wide figures could not be read.
	Stats(ctx context.Context) SessionStats
}

// SignIn is a validated sign-in request.
type SignIn struct {
	Op       string // login, forceLogin or loginEx (for logs and errors)
	Force    bool   // replace a session the agent already has
	Password string
	// SkipPassword signs in without a password check: the simulated call
	// centre's own agents. Never set for a sign-in over HTTP.
	SkipPassword bool
	Status       AgentState // StateIdle, StateBusy or StateWork
	// Session carries the agent ID and the client's options; the service fills in
	// Gen, GUID, LoginTime, State and Skills.
	Session Session
}

// signInBusy is the content of a sign-in in StateBusy's
// AgentState_SetNotReady_Success (busy reason 0).
var signInBusy = Content(map[string]string{"reason": "0"})

// Start returns the session that req starts for agent a: the client's
// options of req.Session, with sign-in number gen, GUID guid, req.Op, the
// state req.Status since now, the talk right, and a's skills.
func (req *SignIn) Start(a Agent, gen uint64, guid string, now time.Time) Session {
	s := req.Session
	s.Gen = gen
	s.GUID = guid
	s.GUIDIssued, s.LoginTime, s.StateSince = Millis(now), Millis(now), Millis(now)
	s.Op, s.State, s.TalkRight = req.Op, req.Status, true
	s.Skills = nil
	for _, sk := range a.Skills {
		s.Skills = append(s.Skills, sk.ID)
	}
	return s
}

// Events returns the events a sign-in queues, in order: AgentOther_InService,
// AgentState_Ready, and for a sign-in in StateBusy or StateWork the move
// there (AgentState_SetNotReady_Success with reason 0, AgentState_Work).
func (req *SignIn) Events() []Emit {
	evs := []Emit{{Type: EvInService}, {Type: EvReady}}
	switch req.Status {
	case StateBusy:
		evs = append(evs, Emit{Type: EvSetNotReadySuccess, Content: signInBusy})
	case StateWork:
		evs = append(evs, Emit{Type: EvWork})
	}
	return evs
}

// AuthMode is the GUID authentication mode (README §3).
type AuthMode int

// Authentication modes, numbered as the vendor's AUTHMODE setting.
const (
	AuthStatic  AuthMode = 1 // the GUID of sign-in lasts for the session
	AuthDynamic AuthMode = 2 // the GUID rotates every GUIDInterval
)

// TickFor returns the granularity of the expiry sweep for a session timeout:
// a 120th of it, from 10 ms to 1 s. A silent agent is signed out within a tick
// of its deadline.
func TickFor(timeout time.Duration) time.Duration {
	return min(max(timeout/120, 10*time.Millisecond), time.Second)
}

// LiveSession is a live session as the admin API's agents list shows it.
type LiveSession struct {
	// Session is a copy of the session (its Skills too). It holds the GUIDs:
	// whoever shows it must leave them out.
	Session Session
	// LastSeen is the session's last heartbeat, poll or other authenticated
	// request (its sign-in or restore before any), on the sessions' clock.
	LastSeen time.Time
	// Queued is how many of its events wait for delivery.
	Queued int
}
