package ccgw

import (
	"encoding/json"
	"strconv"
	"time"
)

// The rules of a session's changes that every backend applies alike: what a
// sign-out does with the session's events, when a client may sign out, what
// the end of a rest does, and which GUIDs authenticate a session. Each
// backend decides with these and only stores what they decided.

// Ending is what a sign-out does with a session's undelivered events.
type Ending struct {
	// Drop, if set, drops the undelivered events for that reason first.
	Drop DropReason
	// Shutdown is queued last (AgentOther_ShutdownService), and the queue
	// kept for the client's old GUID to collect until the tombstone
	// expires; with no Type (the agent signed out itself) the queue is
	// discarded. A value, not a pointer: a storm makes one per sign-out.
	Shutdown Emit
	// LoggedOut is set when the client signed out itself: a second sign-out
	// with its GUID is answered RetAlreadySignedOut.
	LoggedOut bool
}

// Tells reports whether the ending tells the client (AgentOther_ShutdownService).
func (e Ending) Tells() bool { return e.Shutdown.Type != "" }

// EndingOf returns what signing s out for cause does with its events. An
// agent that signs out itself (CauseLogout, CauseForceLogout) loses them and
// is told nothing (the vendor's sign-out pages); any other end queues
// AgentOther_ShutdownService after them, and after a push failure gives up
// what its receiver never took first, so that the one attempt left goes to
// AgentOther_ShutdownService.
func EndingOf(s *Session, cause SignOutCause) Ending {
	if cause.ByAgent() {
		return Ending{Drop: DropSessionEnded, LoggedOut: true}
	}
	e := Ending{Shutdown: Emit{Type: EvShutdownService, Content: ShutdownContent(s.LoginTime)}}
	if cause == CausePushFailed {
		e.Drop = DropPushFailed
	}
	return e
}

// ShutdownContent returns AgentOther_ShutdownService's content,
// {"loginTime":"<ms>"}, as Content would marshal it, without the marshalling:
// a storm makes one for each of thousands of sessions.
func ShutdownContent(loginTime int64) json.RawMessage {
	b := make([]byte, 0, 40)
	b = append(b, `{"loginTime":"`...)
	b = strconv.AppendInt(b, loginTime, 10)
	return append(b, `"}`...)
}

// CheckSignOut returns the error a client's own sign-out of s for cause is
// refused with, before anything changes: RetLogoutStateError for a logout
// while the agent talks (forceLogout is never refused). nil allows it.
func CheckSignOut(s *Session, cause SignOutCause) error {
	if cause == CauseLogout && s.State == StateTalking {
		return Fail(RetLogoutStateError)
	}
	return nil
}

// RestTimedOut applies the end of s's rest number seq at now, if s is still
// in that rest and its time ran out: AgentState_Rest_Timeout, and with idle
// (the gateway's RestTimeoutIdle) the move to idle with AgentState_Ready. It
// returns the events to queue and whether s changed; a stale timer (a later
// rest, a rest already ended or reminded) changes nothing.
func (s *Session) RestTimedOut(seq uint64, now time.Time, idle bool) ([]Emit, bool) {
	if s.State != StateRest || s.RestSeq != seq || s.RestUntil == 0 || time.UnixMilli(s.RestUntil).After(now) {
		return nil, false
	}
	s.RestUntil = 0
	evs := []Emit{{Type: EvRestTimeout}}
	if idle {
		s.State, s.StateReason, s.StateSince = StateIdle, 0, Millis(now)
		evs = append(evs, Emit{Type: EvReady})
	}
	return evs, true
}

// HasGUID reports whether guid authenticates s at now: its current GUID, or
// the one before it until PrevUntil (a rotation's grace, GUIDTimeout). A
// backend may accept more (a rotated GUID it has not recorded yet) and says
// what a refusal is (RetNoPermission, or RetNotSignedIn for the GUID of a
// sign-in that a forced one replaced).
func (s *Session) HasGUID(guid string, now time.Time) bool {
	return guid != "" && (guid == s.GUID || (guid == s.PrevGUID && Millis(now) < s.PrevUntil))
}
