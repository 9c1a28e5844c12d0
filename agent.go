package ccgw

import (
	"context"
	"errors"
	"strconv"
)

// AgentID is an agent's work number (工号), MinAgentID to MaxAgentID.
type AgentID uint32

// The range of valid work numbers (spec: 101–999999).
const (
	MinAgentID AgentID = 101
	MaxAgentID AgentID = 999999
)

// ParseAgentID parses a work number as it appears in a path. It accepts decimal
// digits only, within MinAgentID..MaxAgentID; anything else is RetBadParam.
func ParseAgentID(s string) (AgentID, error) {
	if len(s) == 0 || len(s) > 6 {
		return 0, Fail(RetBadParam)
	}
	var n uint32
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, Fail(RetBadParam)
		}
		n = n*10 + uint32(c-'0')
	}
	id := AgentID(n)
	if id < MinAgentID || id > MaxAgentID {
		return 0, Fail(RetBadParam)
	}
	return id, nil
}

func (id AgentID) String() string { return strconv.FormatUint(uint64(id), 10) }

// AgentState is the CC-Gateway agent state code (events.md §4.1). It is 32 bits
// wide, so that it packs with the work number in a Session.
type AgentState int32

// Agent states.
const (
	StateUnknown   AgentState = 0
	StateSignedIn  AgentState = 1
	StateSignedOut AgentState = 2
	StateBusy      AgentState = 3
	StateIdle      AgentState = 4
	StateWork      AgentState = 5
	StateTalking   AgentState = 7
	StateRest      AgentState = 8
	StatePreRest   AgentState = 9
)

// CTI returns the CTI platform state (events.md §4.2) that corresponds to s.
func (s AgentState) CTI() int {
	switch s {
	case StateSignedOut:
		return 0
	case StateIdle:
		return 1
	case StateTalking:
		return 5
	case StateWork:
		return 6
	case StateBusy:
		return 7
	case StateRest:
		return 8
	default:
		return 9
	}
}

// Skill is a skill queue an agent can serve.
type Skill struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	MediaType int    `json:"mediatype"`
}

// Agent is an entry of the agent directory: who may sign in, with which password,
// and what they are configured for.
type Agent struct {
	ID       AgentID
	Name     string
	Password string // empty: none configured (the built-in directory): any password is accepted until changed
	Phone    string
	GroupID  int
	Skills   []Skill
	// Inspector may use the quality-control interfaces on other agents.
	Inspector bool
}

// Directory answers who the agents are.
type Directory interface {
	// Agent returns the agent with work number id, and whether it exists.
	Agent(id AgentID) (Agent, bool)
	// CheckPassword reports whether password signs agent id in.
	CheckPassword(id AgentID, password string) bool
	// SetPassword changes agent id's password.
	SetPassword(id AgentID, password string) error
}

// PasswordStore keeps the records of agents whose password was changed
// (modifyAccountPwdEx, SetPassword), so that a change outlives the process and,
// in a shared store, holds on every node at once. A record is opaque to the
// store: the directory (internal/agent) encodes it, salted hashes only. Its
// methods are safe for concurrent use.
type PasswordStore interface {
	// Password returns agent id's record, nil if there is none (its password was
	// never changed). An error means the store could not be read.
	Password(ctx context.Context, id AgentID) ([]byte, error)
	// SwapPassword stores rec as agent id's record if the stored one is still old
	// (nil: none), and reports whether it did. A true result is as durable as the
	// store's sessions: on disk, or acknowledged by Redis.
	SwapPassword(ctx context.Context, id AgentID, old, rec []byte) (bool, error)
}

// PasswordVerifier is implemented by a Directory that can fail to tell whether a
// password is right: one whose changed passwords live in a store that may be
// unreachable. Its CheckPassword reports false then; VerifyPassword tells the two apart.
type PasswordVerifier interface {
	// VerifyPassword returns nil if password signs agent id in, an *Error with
	// RetBadPassword if it does not (or there is no such agent), and an *Error with
	// RetInternal if that cannot be told.
	VerifyPassword(ctx context.Context, id AgentID, password string) error
}

// VerifyPassword checks password, given to operation op (a sign-in), for agent id
// against d: by d's VerifyPassword if d is a PasswordVerifier, else by
// CheckPassword. It returns nil if the password signs in, else an *Error with Op
// op and RetBadPassword (wrong password or unknown agent) or RetInternal (the
// directory could not tell).
func VerifyPassword(ctx context.Context, d Directory, op string, id AgentID, password string) error {
	v, ok := d.(PasswordVerifier)
	if !ok {
		if d.CheckPassword(id, password) {
			return nil
		}
		return &Error{Code: RetBadPassword, Op: op}
	}
	err := v.VerifyPassword(ctx, id, password)
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Code: RetInternal, Op: op, Err: err}
	}
	out := *e
	out.Op = op
	if out.Code != RetInternal {
		out.Code = RetBadPassword
	}
	return &out
}
