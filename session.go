package ccgw

import "time"

// Mode is how an agent session receives its events.
type Mode uint8

// Event delivery modes, chosen per sign-in (README §5).
const (
	ModePoll Mode = iota // the client polls getAgentEvent; the poll is the heartbeat
	ModePush             // the gateway POSTs events to CallbackURI; the client calls handShake
)

func (m Mode) String() string {
	if m == ModePush {
		return "push"
	}
	return "poll"
}

// Session is a signed-in agent's session as it is persisted. The live, in-memory
// form (deadline, event queue) belongs to internal/session.
//
// Its fields are ordered to pack: State and the small fields at the end share
// words, so that a Session takes 280 bytes (312 with the bools spread out) and
// a live session's entry fits a 320-byte allocation (docs/benchmarks.md, "RSS
// per session"). TestSessionSize holds it there.
type Session struct {
	Agent AgentID    `json:"agent"`
	State AgentState `json:"state"`
	Gen   uint64     `json:"gen"` // distinguishes this sign-in from earlier ones of the same agent

	GUID       string `json:"guid"`
	GUIDIssued int64  `json:"guidIssued"` // ms epoch when GUID was minted
	PrevGUID   string `json:"prevGuid,omitempty"`
	PrevUntil  int64  `json:"prevUntil,omitempty"` // ms epoch until which PrevGUID is accepted

	LoginTime int64  `json:"loginTime"` // ms epoch
	Op        string `json:"op"`        // login, forceLogin or loginEx
	MediaType string `json:"mediaType"` // "TTF" and the like

	Phone     string `json:"phone"`
	AgentType int    `json:"agentType"`
	IP        string `json:"ip"`

	CallbackURI  string `json:"callBackUri,omitempty"`
	ServiceToken string `json:"serviceToken,omitempty"`

	StateReason int   `json:"stateReason"`
	StateSince  int64 `json:"stateSince"` // ms epoch
	// AfterCallRest is the length (ms) of a rest requested during a call, and
	// AfterCallReason the busy reason or rest cause of the request.
	AfterCallRest   int64 `json:"afterCallRest,omitempty"`
	AfterCallReason int   `json:"afterCallReason,omitempty"`
	// CallID is the call the agent is in (ringing, talking or holding), if any.
	CallID string `json:"callId,omitempty"`
	// RestUntil is when the current rest's time runs out (ms epoch; 0: none, or
	// already reminded); RestSeq numbers rests so a stale timer is ignored.
	RestUntil int64  `json:"restUntil,omitempty"`
	RestSeq   uint64 `json:"restSeq,omitempty"`
	Skills    []int  `json:"skills,omitempty"`

	// AfterCall is the state a request made during a call takes effect in when the
	// call ends (0: none).
	AfterCall     AgentState `json:"afterCall,omitempty"`
	AutoAnswer    bool       `json:"autoAnswer"`
	AutoEnterIdle bool       `json:"autoEnterIdle"`
	ReleasePhone  bool       `json:"releasePhone"`
	TalkRight     bool       `json:"talkRight"`
	Mode          Mode       `json:"mode"`
	// LegacyPush marks a push-mode session signed in with the older pushUrl
	// field: each event is pushed alone, in a poll answer's envelope.
	LegacyPush bool `json:"legacyPush,omitempty"`
	// Simulated marks an agent the simulated call centre signed in itself: it
	// never expires and its events go to the tap only.
	Simulated bool `json:"simulated,omitempty"`
}

// SignOutCause says why a session ended.
type SignOutCause string

// Causes of a session's end.
const (
	CauseLogout      SignOutCause = "logout"       // the agent signed out
	CauseForceLogout SignOutCause = "force_logout" // forceLogout or forceLogoutWithReason
	CauseReplaced    SignOutCause = "replaced"     // a forced sign-in took the agent over
	CauseTimeout     SignOutCause = "timeout"      // no heartbeat or poll within the timeout
	CauseSupervisor  SignOutCause = "supervisor"   // signed out by an inspector
	CausePushFailed  SignOutCause = "push_failed"  // pushes to its callBackUri failed for EVENT_PUSH_FAIL_TOTALTIME
)

// ByAgent reports whether the agent ended its session itself (logout,
// forceLogout, forceLogoutWithReason). Such an agent receives no
// AgentOther_ShutdownService (the vendor's sign-out pages, 2025) and its
// undelivered events are dropped.
func (c SignOutCause) ByAgent() bool { return c == CauseLogout || c == CauseForceLogout }

// Millis returns t as milliseconds since the Unix epoch, the unit of the wire.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// SessionStore persists sessions so that they survive a restart. Implementations
// are safe for concurrent use. Writes are ordered by Gen: a put or delete for an
// older sign-in never overwrites a newer one.
type SessionStore interface {
	// PutSession inserts s, or replaces the stored session of s.Agent if its Gen is
	// not greater than s.Gen.
	PutSession(s *Session) error
	// DeleteSession deletes agent id's session if its Gen is gen.
	DeleteSession(id AgentID, gen uint64) error
	// DeleteSessions deletes each listed sign-in's session as DeleteSession
	// does (only if the stored Gen is the listed one, so a later sign-in of the
	// agent stays), in one commit where the store can: many sign-outs at once
	// (a sweep's) cost one durable write, not one each. Listing a sign-in
	// that is not stored is not an error. After an error any of them may or may
	// not be deleted; calling it again with the same list is safe.
	DeleteSessions(refs []SessionRef) error
	// LoadSessions calls fn for every stored session. fn must not keep the pointer:
	// the Session it points to may be reused for the next one (copy it).
	LoadSessions(fn func(*Session) error) error
	// Close flushes and closes the store.
	Close() error
}

// EventStore persists undelivered events so that they survive a restart. Events
// are kept per sign-in (agent and Gen) and numbered by Seq.
type EventStore interface {
	// AppendEvents stores evs; they are durable when it returns.
	AppendEvents(id AgentID, gen uint64, evs []Event) error
	// AckEvents records, for each sign-in listed, that its events up to Seq were
	// delivered.
	AckEvents(acks []EventAck) error
	// DropEvents forgets every event of the sign-in.
	DropEvents(id AgentID, gen uint64) error
	// DropSignIns forgets every event of each sign-in listed, as DropEvents
	// does, in one commit where the store can. Listing a sign-in with no
	// events is not an error; calling it again with the same list is safe.
	DropSignIns(refs []SessionRef) error
	// LoadEvents calls fn once per stored sign-in with the highest Seq acknowledged
	// and the undelivered events after it, oldest first. fn must not keep evs: its
	// array may be reused for the next sign-in (copy the events).
	LoadEvents(fn func(id AgentID, gen uint64, acked uint64, evs []Event) error) error
}

// SessionRef names one sign-in: agent Agent's sign-in number Gen.
type SessionRef struct {
	Agent AgentID
	Gen   uint64
}

// EventAck says that sign-in Gen of Agent had its events up to Seq delivered.
type EventAck struct {
	Agent AgentID
	Gen   uint64
	Seq   uint64
}
