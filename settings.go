package ccgw

import (
	"log/slog"
	"time"
)

// SessionSettings are what the session service (internal/session's
// Sessions, on one node or several) is configured with: the timeouts, the GUIDs, the queues and the hooks. Zero values mean
// the defaults given; Defaults fills them in, but for the clocks and the
// lockout counts, which their packages default.
type SessionSettings struct {
	Timeout time.Duration // no heartbeat or poll for this long signs out; 2m
	// PollTimeout and PushTimeout replace Timeout for sessions in that mode
	// (the vendor's MAXTIME and EVENT_PUSH_HANDSHAKE_MAXTIME); 0 means Timeout.
	PollTimeout, PushTimeout time.Duration
	// NoExpiry turns timeout detection off (TIMEOUT_FLAG=OFF): nobody is signed
	// out for silence.
	NoExpiry     bool
	Clock        Clock         // the real clock
	WaitClock    Clock         // times how long a poll is held; Clock
	Directory    Directory     // required
	Log          *slog.Logger  // discards
	NodeName     string        // GUID suffix (and, on a cluster, push-claim owner); "AgentGateway0"
	AuthMode     AuthMode      // AuthStatic
	GUIDInterval time.Duration // dynamic GUID refresh period; 60s
	GUIDTimeout  time.Duration // how long a superseded GUID is accepted; 120s
	QueueSize    int           // events kept per agent; 1000
	Tick         time.Duration // sweep granularity; TickFor(min(PollTimeout, PushTimeout))
	// MaxExpiries bounds the sign-outs of one sweep; 10000.
	MaxExpiries int
	// Notify, if set, is called (outside every lock) after events were queued
	// for a push-mode session.
	Notify func(id AgentID)
	// OnSignOut, if set, is told of every sign-out with its cause, once, after
	// it was committed (outside every lock; on a cluster, by the node that
	// committed it).
	OnSignOut func(id AgentID, cause SignOutCause)
	// OnChange, if set, is called (outside every lock) after a sign-in, a
	// state change and a sign-out (the session with State StateSignedOut).
	OnChange func(s Session)
	// Tap, if set, sees every event queued for any agent, in order per agent.
	// It must be quick and must not call the session service.
	Tap func(Event)
	// DropEvent, if set, is asked about every event made for a client's
	// session; one it reports true for is dropped and counted as DropFault (a
	// drop-events fault). It must be quick and must not call the session
	// service.
	DropEvent func(id AgentID, ev Event) bool
	// RestTimeoutIdle makes an agent whose rest time ran out idle; by default
	// it stays in rest and is only reminded (AgentState_Rest_Timeout).
	RestTimeoutIdle bool
	// Lockout locks an agent out of signing in after wrong passwords; the zero
	// policy never does. Lockouts keeps the counts.
	Lockout  LockoutPolicy
	Lockouts LockoutStore
}

// Defaults fills in the zero settings with their defaults, but for Clock,
// WaitClock and Lockouts.
func (s *SessionSettings) Defaults() {
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Minute
	}
	if s.PollTimeout <= 0 {
		s.PollTimeout = s.Timeout
	}
	if s.PushTimeout <= 0 {
		s.PushTimeout = s.Timeout
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.NodeName == "" {
		s.NodeName = "AgentGateway0"
	}
	if s.AuthMode == 0 {
		s.AuthMode = AuthStatic
	}
	if s.GUIDInterval <= 0 {
		s.GUIDInterval = 60 * time.Second
	}
	if s.GUIDTimeout <= 0 {
		s.GUIDTimeout = 120 * time.Second
	}
	if s.QueueSize <= 0 {
		s.QueueSize = 1000
	}
	if s.Tick <= 0 {
		s.Tick = TickFor(min(s.PollTimeout, s.PushTimeout))
	}
	if s.MaxExpiries <= 0 {
		s.MaxExpiries = 10000
	}
}

// TimeoutOf returns how long a session in mode may stay silent.
func (s *SessionSettings) TimeoutOf(mode Mode) time.Duration {
	if mode == ModePush {
		return s.PushTimeout
	}
	return s.PollTimeout
}

// Deadline returns when a session in mode last heard from at now is signed
// out unless heard from again (a century on with NoExpiry), in Unix
// milliseconds.
func (s *SessionSettings) Deadline(now time.Time, mode Mode) int64 {
	if s.NoExpiry {
		return Millis(now.AddDate(100, 0, 0))
	}
	return Millis(now.Add(s.TimeoutOf(mode)))
}
