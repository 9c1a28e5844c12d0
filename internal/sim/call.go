package sim

import (
	"time"

	"github.com/ccgw/ccgw"
)

// Direction says who placed a call.
type Direction int

// Call directions.
const (
	Inbound  Direction = iota // a customer called a skill queue
	Outbound                  // an agent called out
)

// CallState is where a call is.
type CallState int

// Call states.
const (
	Queued  CallState = iota // waiting in its skill queue
	Ringing                  // offered to an agent who has not answered
	Dialing                  // outbound: the customer's phone rings
	Talking                  // connected
	Held                     // on hold
	Ended                    // over
)

var stateNames = [...]string{"queued", "ringing", "dialing", "talking", "held", "ended"}

func (s CallState) String() string { return stateNames[s] }

// Call is one simulated call.
type Call struct {
	ID        string
	Dir       Direction
	Caller    string
	Called    string
	Skill     int
	State     CallState
	Agent     ccgw.AgentID // the agent offered or talking, 0 if none
	Created   time.Time
	Enqueued  time.Time
	Answered  time.Time
	Transfer  ccgw.AgentID // the agent who transferred the call here, 0 if none
	Requeued  int          // times it went back to its queue
	LastAgent ccgw.AgentID // the last agent who released it back, 0 if none
	// TalkFor is how long the caller talks before hanging up (0: until released).
	TalkFor time.Duration
	// AbandonAfter is how long the caller waits in queue before giving up (0: forever).
	AbandonAfter time.Duration
	CallData     string
	Feature      int // call type (spec-voicecall §1.1): 0 inbound, 7 outbound
	Ended        time.Time
	Conference   bool   // a third party (Third) is in the call
	Third        string // the external party of a talk or three-party transfer

	// parent is, for a success-mode transfer leg offered to a target agent,
	// the call that stays with the transferring agent until the target answers.
	parent *Call
	leg    *Call // the pending success-transfer leg of this call

	timer    ccgw.Timer // the pending ring, dial or talk timer
	abandonT ccgw.Timer // the caller giving up, running from arrival until answer
}

// legs are one agent's calls.
type legs struct {
	active *Call   // ringing, dialing, talking (or in conference)
	held   []*Call // held calls, oldest first
	last   *Call   // the last call that ended for the agent
}

func (e *Engine) legsOf(id ccgw.AgentID) *legs {
	l := e.legs[id]
	if l == nil {
		l = &legs{}
		e.legs[id] = l
	}
	return l
}

// busy reports whether agent id has any call, active or held.
func (e *Engine) busy(id ccgw.AgentID) bool {
	l := e.legs[id]
	return l != nil && (l.active != nil || len(l.held) > 0)
}

// unhold removes c from agent id's held list and reports whether it was there.
func (l *legs) unhold(c *Call) bool {
	for i, x := range l.held {
		if x == c {
			l.held = append(l.held[:i], l.held[i+1:]...)
			return true
		}
	}
	return false
}

// SimAgent is how a simulated agent behaves.
type SimAgent struct {
	AnswerAfter time.Duration // 0: auto-answer
	WrapUp      time.Duration // wrap-up time after a call; 0: idle at once
}

// QueueStats are one skill queue's figures.
type QueueStats struct {
	Skill       int     `json:"skillId"`
	Waiting     int     `json:"waiting"`
	LongestWait float64 `json:"longestWaitSeconds"`
	Offered     int     `json:"offered"`
	Answered    int     `json:"answered"`
	Abandoned   int     `json:"abandoned"`
	NoAnswer    int     `json:"noAnswer"`
	Transferred int     `json:"transferred"`
}

type queue struct {
	calls []*Call // FIFO, oldest first
}
