// Package sim owns the simulated call centre behind the gateway: skill queues of
// waiting calls, the ACD that offers each call to the longest-idle agent with the
// skill, ringing, answer, talk, hold, transfer, release and wrap-up, outbound
// calls, callers who abandon, and simulated agents. Everything runs on the
// injected clock and a seeded random source, so that under a virtual clock the
// same scenario and seed give the same event stream.
package sim

import (
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/agent"
	"github.com/ccgw/ccgw/internal/clock"
	"github.com/ccgw/ccgw/internal/session"
)

// Config configures an Engine. Zero values mean the defaults given.
type Config struct {
	Sessions    session.Service  // required
	Directory   *agent.Directory // required
	Clock       ccgw.Clock       // clock.Real
	Log         *slog.Logger     // discards
	Seed        uint64           // random seed; 1
	RingTimeout time.Duration    // an unanswered call returns to its queue after this; 20s
	// TransferTimeout bounds a success-mode transfer's wait for its target; 20s.
	TransferTimeout time.Duration
	// IVRReturn is how long a hang-up transfer to IVR takes to come back; 5s.
	IVRReturn time.Duration
	// CalleeAnswer is how long a called customer rings before answering; 3s.
	CalleeAnswer time.Duration
	// AccessCode is the number inbound callers dial ("called"); "10086".
	AccessCode string
	// MaxCalls bounds the live calls: an injection beyond it fails with
	// ErrTooManyCalls and a random arrival is dropped (counted, logged once per
	// time the limit is reached); DefaultMaxCalls.
	MaxCalls int
}

// Engine is the simulated call centre. It is safe for concurrent use: HTTP
// handlers, timers and the session hook all enter it through one lock, and the
// work each does runs to completion before the next starts.
type Engine struct {
	cfg Config

	mu       sync.Mutex // guards everything below; never held across network or store I/O
	rnd      *rand.Rand
	calls    map[string]*Call
	queues   map[int]*queue
	legs     map[ccgw.AgentID]*legs // the calls of each agent who has or had one
	simAgent map[ccgw.AgentID]SimAgent
	wrapUp   map[ccgw.AgentID]ccgw.Timer
	n        uint64 // calls made so far
	refused  uint64 // calls not made because MaxCalls were live
	full     bool   // the last call attempted found MaxCalls live
	stats    map[int]*QueueStats
	rates    map[int]*arrival
	idle     *idleIndex // idle agents by skill (idle.go)
	scanOnly bool       // tests: never use idle, always scan Sessions.BySkill
	finish   []func()   // sessions' store writes left for after the lock (updateSession)

	pendMu   sync.Mutex     // guards pending, applied and reported
	pending  []ccgw.Session // changes reported and not yet drained, in order
	applied  int            // how many of pending idle has seen
	reported bool           // Sessions has reported a change (idle.go)
}

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

// New returns an Engine; wire Sessions' OnChange to its AgentChanged.
func New(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.RingTimeout <= 0 {
		cfg.RingTimeout = 20 * time.Second
	}
	if cfg.TransferTimeout <= 0 {
		cfg.TransferTimeout = 20 * time.Second
	}
	if cfg.IVRReturn <= 0 {
		cfg.IVRReturn = 5 * time.Second
	}
	if cfg.CalleeAnswer <= 0 {
		cfg.CalleeAnswer = 3 * time.Second
	}
	if cfg.AccessCode == "" {
		cfg.AccessCode = "10086"
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	return &Engine{
		cfg:      cfg,
		rnd:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		calls:    make(map[string]*Call),
		queues:   make(map[int]*queue),
		legs:     make(map[ccgw.AgentID]*legs),
		simAgent: make(map[ccgw.AgentID]SimAgent),
		wrapUp:   make(map[ccgw.AgentID]ccgw.Timer),
		stats:    make(map[int]*QueueStats),
		rates:    make(map[int]*arrival),
		idle:     newIdleIndex(),
	}
}

// lock enters the engine.
func (e *Engine) lock() { e.mu.Lock() }

// unlock handles the agent changes reported meanwhile, then leaves the engine.
func (e *Engine) unlock() {
	for {
		e.drain()
		finish := e.finish
		e.finish = nil
		e.mu.Unlock()
		for _, f := range finish {
			f() // store writes and the OnChange reports: may add to pending
		}
		e.pendMu.Lock()
		more := len(e.pending) > 0
		e.pendMu.Unlock()
		if !more || !e.mu.TryLock() {
			return
		}
	}
}

// AgentChanged is the session.Manager OnChange hook: an agent signed in,
// changed state or signed out. An agent that became idle may take a waiting call.
func (e *Engine) AgentChanged(s ccgw.Session) {
	e.pendMu.Lock()
	e.pending = append(e.pending, s)
	e.reported = true
	e.pendMu.Unlock()
	if e.mu.TryLock() {
		e.unlock()
	}
}

// drain handles reported agent changes; e.mu must be held.
func (e *Engine) drain() {
	for {
		e.pendMu.Lock()
		batch, seen := e.pending, e.applied
		e.pending, e.applied = nil, 0
		e.pendMu.Unlock()
		if len(batch) == 0 {
			return
		}
		for i := range batch[seen:] {
			e.idle.set(&batch[seen+i])
		}
		route := false
		for _, s := range batch {
			switch s.State {
			case ccgw.StateSignedOut:
				e.agentGone(s.Agent)
			case ccgw.StateWork:
				if s.Simulated {
					e.scheduleWrapUp(s.Agent)
				}
			case ccgw.StateIdle:
				route = true
			}
		}
		if route {
			e.dispatch()
		}
	}
}

// agentGone ends the calls of an agent who signed out; a call still ringing
// goes back to its queue.
func (e *Engine) agentGone(id ccgw.AgentID) {
	if t := e.wrapUp[id]; t != nil {
		t.Stop()
		delete(e.wrapUp, id)
	}
	l := e.legs[id]
	if l == nil {
		return
	}
	delete(e.legs, id)
	if c := l.active; c != nil {
		e.stopTimer(c)
		switch {
		case c.parent != nil:
			e.transferFailed(c)
		case c.State == Ringing:
			e.requeue(c, id)
		default:
			e.end(c)
		}
	}
	for _, c := range l.held {
		e.end(c)
	}
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

func (e *Engine) statsOf(skill int) *QueueStats {
	st := e.stats[skill]
	if st == nil {
		st = &QueueStats{Skill: skill}
		e.stats[skill] = st
	}
	return st
}

// newCallID returns the next call ID: "<unix seconds of now>-<n>".
func (e *Engine) newCallID() string {
	e.n++
	return strconv.FormatInt(e.now().Unix(), 10) + "-" + strconv.FormatUint(e.n, 10)
}

// enqueue puts c at the back of its skill queue (front when requeued).
func (e *Engine) enqueue(c *Call, front bool) {
	q := e.queues[c.Skill]
	if q == nil {
		q = &queue{}
		e.queues[c.Skill] = q
	}
	c.State, c.Agent = Queued, 0
	if front {
		q.calls = append([]*Call{c}, q.calls...)
	} else {
		c.Enqueued = e.now()
		q.calls = append(q.calls, c)
	}
	if c.AbandonAfter > 0 && c.abandonT == nil && c.Answered.IsZero() {
		left := c.AbandonAfter - e.now().Sub(c.Enqueued)
		c.abandonT = e.after(left, func() {
			c.abandonT = nil
			e.abandon(c)
		})
	}
}

// after runs f in the engine after d. A d of zero or less waits 1ns: a
// clock.Fake then fires f in order on its next Advance instead of at once in a
// goroutine of its own, which would make the run depend on scheduling.
func (e *Engine) after(d time.Duration, f func()) ccgw.Timer {
	if d <= 0 {
		d = time.Nanosecond
	}
	return e.cfg.Clock.AfterFunc(d, func() {
		e.lock()
		defer e.unlock()
		f()
	})
}

// At runs f once the engine's clock has moved on by d, or at once, before At
// returns, if d <= 0. f runs outside the engine's lock, so it may call the
// Engine's methods. Under a clock.Fake it runs inside Advance, in deadline order
// with the engine's own timers, ties in the order they were set.
func (e *Engine) At(d time.Duration, f func()) {
	if d <= 0 {
		f()
		return
	}
	e.cfg.Clock.AfterFunc(d, f)
}

func (e *Engine) stopTimer(c *Call) {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// dequeue removes c from its queue.
func (e *Engine) dequeue(c *Call) {
	q := e.queues[c.Skill]
	if q == nil {
		return
	}
	for i, x := range q.calls {
		if x == c {
			q.calls = append(q.calls[:i], q.calls[i+1:]...)
			return
		}
	}
}

// dispatch offers waiting calls, skill by skill in ID order and oldest first,
// to the longest-idle agents with the skill.
func (e *Engine) dispatch() {
	skills := make([]int, 0, len(e.queues))
	for sk, q := range e.queues {
		if len(q.calls) > 0 {
			skills = append(skills, sk)
		}
	}
	sort.Ints(skills)
	for _, sk := range skills {
		q := e.queues[sk]
		for len(q.calls) > 0 {
			c := q.calls[0]
			id, ok := e.longestIdle(sk, c.Transfer)
			if !ok {
				break
			}
			q.calls = q.calls[1:]
			e.offer(c, id)
		}
	}
}

// longestIdle returns the agent signed in to skill who has been idle longest,
// takes inbound calls and has no call, other than exclude (the agent who
// transferred the call, 0 for none); ties go to the lower work number.
func (e *Engine) longestIdle(skill int, exclude ccgw.AgentID) (ccgw.AgentID, bool) {
	if e.syncIdle() {
		return e.longestIdleIndexed(skill, exclude)
	}
	var best ccgw.Session
	found := false
	for _, s := range e.cfg.Sessions.BySkill(skill) {
		if s.State != ccgw.StateIdle || !s.TalkRight || e.busy(s.Agent) || s.Agent == exclude {
			continue
		}
		if !found || s.StateSince < best.StateSince || (s.StateSince == best.StateSince && s.Agent < best.Agent) {
			best, found = s, true
		}
	}
	return best.Agent, found
}

// update changes agent id's session in the engine's name and queues events.
func (e *Engine) update(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) []session.Emit) error {
	_, err := e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
		return fn(s, now), nil
	})
	return err
}

// laterUpdater is a session.Service whose Update can leave its store write to
// later (session.Manager).
type laterUpdater interface {
	UpdateLater(id ccgw.AgentID, guid string, fn func(s *ccgw.Session, now time.Time) ([]session.Emit, error)) (ccgw.Session, func(), error)
}

// updateSession runs Sessions.Update on any session of agent id; e.mu must be
// held. Where the service allows it, the store write waits for unlock, so that
// the engine's lock is never held across it.
func (e *Engine) updateSession(id ccgw.AgentID, fn func(s *ccgw.Session, now time.Time) ([]session.Emit, error)) (ccgw.Session, error) {
	u, ok := e.cfg.Sessions.(laterUpdater)
	if !ok {
		return e.cfg.Sessions.Update(id, "*", fn)
	}
	s, finish, err := u.UpdateLater(id, "*", fn)
	if err == nil {
		e.finish = append(e.finish, finish)
	}
	return s, err
}

func content(v any) json.RawMessage { return ccgw.Content(v) }

func (c *Call) feature() string { return strconv.Itoa(c.Feature) }

// callContent is the content of AgentEvent_Ringing and AgentEvent_Auto_Answer.
func callContent(c *Call) json.RawMessage {
	transfer, from := "no", ""
	if c.Transfer != 0 {
		transfer, from = "yes", c.Transfer.String()
	}
	return content(map[string]any{
		"caller": c.Caller, "transfer": transfer, "called": c.Called, "transfrom": from,
		"callid": c.ID, "type": "main", "feature": c.feature(), "mediaAbility": "1", "mediaType": 5,
	})
}

// talkingContent is the content of AgentEvent_Talking.
func talkingContent(c *Call) json.RawMessage {
	return content(map[string]string{
		"caller": c.Caller, "called": c.Called, "callid": c.ID, "type": "main",
		"feature": c.feature(), "mediaAbility": "1",
	})
}

// customer returns the customer's number in c.
func (c *Call) customer() string {
	if c.Dir == Outbound {
		return c.Called
	}
	return c.Caller
}

func phoneRelease(state int) session.Emit {
	return session.Emit{Type: ccgw.EvPhoneRelease, Content: content(map[string]int{"phoneState": state})}
}

// phoneUp returns the phone events at the start of a call for a session whose
// phone is released between calls (releasephone, the default; spec-voicecall §1.3).
func phoneUp(s *ccgw.Session) []session.Emit {
	if !s.ReleasePhone {
		return nil
	}
	return []session.Emit{
		{Type: ccgw.EvPhoneAlerting},
		{Type: ccgw.EvPhoneOffhook, Content: content(map[string]string{"type": "main"})},
	}
}

// phoneDown returns AgentOther_PhoneRelease for such a session.
func phoneDown(s *ccgw.Session, state int) []session.Emit {
	if !s.ReleasePhone {
		return nil
	}
	return []session.Emit{phoneRelease(state)}
}

// offer rings agent id with call c (inbound, transferred, or a success-transfer
// leg), or connects it at once if the agent auto-answers.
func (e *Engine) offer(c *Call, id ccgw.AgentID) {
	sk, _ := e.cfg.Directory.Skill(c.Skill)
	last := int64(65535)
	if c.LastAgent != 0 {
		last = int64(c.LastAgent)
	}
	requeued := 0
	if c.Requeued > 0 {
		requeued = 1
	}
	auto, simulated := false, false
	err := e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		auto, simulated = s.AutoAnswer, s.Simulated
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateTalking, ccgw.Millis(now), 0, c.ID
		evs := []session.Emit{
			{Type: ccgw.EvIncomingCallInfo, Content: content(map[string]any{
				"callId": c.ID, "skillName": sk.Name, "skillId": c.Skill, "caller": c.Caller, "called": c.Called,
				"lastReleaseAgentId": last, "mediaType": 5, "releaseAndReQueueCount": c.Requeued,
				"releaseAndReQueueCallFlag": requeued,
			})},
			{Type: ccgw.EvBusy},
		}
		evs = append(evs, phoneUp(s)...)
		if auto {
			return append(evs,
				session.Emit{Type: ccgw.EvAutoAnswer, Content: callContent(c)},
				session.Emit{Type: ccgw.EvTalking, Content: talkingContent(c)})
		}
		return append(evs,
			session.Emit{Type: ccgw.EvRinging, Content: callContent(c)},
			session.Emit{Type: ccgw.EvCustomerAlerting, Content: content(map[string]string{
				"callid": c.ID, "otherPhoneWorkno": "", "otherPhone": c.customer(), "type": "main"})})
	})
	if err != nil { // the agent left meanwhile
		if c.parent != nil {
			e.transferFailed(c)
		} else {
			e.enqueue(c, true)
		}
		return
	}
	e.stopTimer(c)
	c.Agent = id
	e.legsOf(id).active = c
	if c.parent == nil {
		e.statsOf(c.Skill).Offered++
	}
	if auto {
		e.connected(c)
		return
	}
	c.State = Ringing
	// Only a session the simulator signed in answers by itself: a client may hold
	// the work number of a simulated agent that left.
	if sa, ok := e.simAgent[id]; ok && simulated && sa.AnswerAfter > 0 && sa.AnswerAfter < e.cfg.RingTimeout {
		c.timer = e.after(sa.AnswerAfter, func() { e.answerLocked(id, "") })
		return
	}
	c.timer = e.after(e.cfg.RingTimeout, func() { e.noAnswer(c, id) })
}

// connected starts the talk of an answered call; a success-transfer leg takes
// the call over from the transferring agent.
func (e *Engine) connected(c *Call) {
	e.stopTimer(c)
	if p := c.parent; p != nil {
		e.transferSucceeded(c)
		return
	}
	if c.abandonT != nil {
		c.abandonT.Stop()
		c.abandonT = nil
	}
	c.State, c.Answered = Talking, e.now()
	if c.Dir == Inbound && c.Transfer == 0 {
		e.statsOf(c.Skill).Answered++
	}
	if c.TalkFor > 0 {
		c.timer = e.after(c.TalkFor, func() { e.customerHangup(c) })
	}
}

// noAnswer handles a call the agent let ring out: AgentEvent_No_Answer, the
// agent set busy (reason 2, no answer too long), the call back at the head of
// its queue.
func (e *Engine) noAnswer(c *Call, id ccgw.AgentID) {
	if c.State != Ringing || c.Agent != id {
		return
	}
	c.timer = nil
	e.legsOf(id).active = nil
	if c.parent == nil {
		e.statsOf(c.Skill).NoAnswer++
	}
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		s.State, s.StateSince, s.StateReason, s.CallID = ccgw.StateBusy, ccgw.Millis(now), 2, ""
		s.AfterCall, s.AfterCallRest = 0, 0
		return append(append([]session.Emit{{Type: ccgw.EvNoAnswer, Content: content(c.ID)}}, phoneDown(s, 3)...),
			session.Emit{Type: ccgw.EvSetNotReadySuccess, Content: content(map[string]string{"reason": "2"})})
	})
	if c.parent != nil {
		e.transferFailed(c)
		return
	}
	e.requeue(c, id)
}

// requeue puts a call that left agent id back at the head of its queue.
func (e *Engine) requeue(c *Call, id ccgw.AgentID) {
	if c.Dir == Outbound {
		e.end(c)
		return
	}
	c.Requeued++
	c.LastAgent = id
	e.enqueue(c, true)
	e.dispatch()
}

// abandon ends a call whose caller gave up while it waited or rang.
func (e *Engine) abandon(c *Call) {
	switch c.State {
	case Queued:
		e.dequeue(c)
		e.statsOf(c.Skill).Abandoned++
		e.end(c)
	case Ringing:
		e.stopTimer(c) // the ring timeout
		id := c.Agent
		e.legsOf(id).active = nil
		e.statsOf(c.Skill).Abandoned++
		e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
			evs := []session.Emit{{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": c.ID, "number": c.Caller})}}
			evs = append(evs, phoneDown(s, 3)...)
			return append(evs, e.afterCall(id, s, now)...)
		})
		e.end(c)
	}
}

// afterCall moves agent id to its after-call state if it has no call left.
func (e *Engine) afterCall(id ccgw.AgentID, s *ccgw.Session, now time.Time) []session.Emit {
	if e.busy(id) {
		return nil
	}
	return agent.EndCall(s, now)
}

// customerHangup ends a connected call from the customer's side.
func (e *Engine) customerHangup(c *Call) {
	c.timer = nil
	if c.State != Talking && c.State != Held {
		return
	}
	e.leave(c, 3, []session.Emit{
		{Type: ccgw.EvCustomerRelease, Content: content(map[string]string{"callid": c.ID, "number": c.customer()})},
		{Type: ccgw.EvCallRelease, Content: content(c.ID)},
	})
	e.end(c)
}

// leave takes c's agent out of c with evs, the phone release (phoneState) and
// its after-call state. It does not end c.
func (e *Engine) leave(c *Call, phoneState int, evs []session.Emit) {
	id := c.Agent
	l := e.legsOf(id)
	if l.active == c {
		l.active = nil
	}
	l.unhold(c)
	l.last = c
	e.stopTimer(c)
	if c.leg != nil { // a pending success transfer dies with the call
		leg := c.leg
		c.leg = nil
		e.dropLeg(leg)
	}
	e.update(id, func(s *ccgw.Session, now time.Time) []session.Emit {
		out := append(evs, phoneDown(s, phoneState)...)
		if !e.busy(id) {
			out = append(out, agent.EndCall(s, now)...)
		} else {
			s.CallID = ""
		}
		return out
	})
	c.Agent = 0
}

// end forgets a call.
func (e *Engine) end(c *Call) {
	e.stopTimer(c)
	if c.abandonT != nil {
		c.abandonT.Stop()
		c.abandonT = nil
	}
	c.State, c.Ended = Ended, e.now()
	delete(e.calls, c.ID)
}

// scheduleWrapUp ends a simulated agent's wrap-up after its wrap-up time; the
// caller checks that the session is simulated.
func (e *Engine) scheduleWrapUp(id ccgw.AgentID) {
	sa, ok := e.simAgent[id]
	if !ok {
		return
	}
	if t := e.wrapUp[id]; t != nil {
		t.Stop()
	}
	e.wrapUp[id] = e.after(sa.WrapUp, func() {
		delete(e.wrapUp, id)
		e.updateSession(id, func(s *ccgw.Session, now time.Time) ([]session.Emit, error) {
			if s.State != ccgw.StateWork || !s.Simulated {
				return nil, nil
			}
			s.State, s.StateSince = ccgw.StateIdle, ccgw.Millis(now)
			return []session.Emit{{Type: ccgw.EvReady}}, nil
		})
	})
}
