package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Service is what the HTTP API and the call simulator need of agent sessions.
// Manager implements it on one node (memory, persisted in bbolt); the Redis store
// implements it for several nodes sharing state. sessiontest holds the one
// behaviour suite both pass.
type Service interface {
	SignIn(req SignIn) (ccgw.Session, error)
	SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error
	Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error
	Heartbeat(id ccgw.AgentID, guid, token string) (string, error)
	Poll(ctx context.Context, id ccgw.AgentID, guid string, wait time.Duration) (*ccgw.Event, string, error)
	UpdateGUID(id ccgw.AgentID, guid string) (string, error)
	Session(id ccgw.AgentID, guid string) (ccgw.Session, error)
	Lookup(id ccgw.AgentID) (ccgw.Session, bool)
	BySkill(skill int) []ccgw.Session
	// EachInSkill calls fn with each live session signed in to skill whose work
	// number is above after, in work-number order, until fn returns false; the
	// session's Skills are valid only until fn returns. A caller that needs a
	// page of a skill's agents stops early and pays for that page, not for all.
	EachInSkill(skill int, after ccgw.AgentID, fn func(ccgw.Session) bool)
	Update(id ccgw.AgentID, guid string, fn func(s *ccgw.Session, now time.Time) ([]Emit, error)) (ccgw.Session, error)
	// UpdateAny is Update without the GUID check, for the gateway's own
	// changes (the simulated call centre, a supervisor's interfaces); a
	// client's request always goes through Update.
	UpdateAny(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]Emit, error)) (ccgw.Session, error)
	Stats() Stats
}

var _ Service = (*Manager)(nil)
