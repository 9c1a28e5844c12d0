// Package push delivers agent events to the receivers of push-mode sessions
// (their callBackUri or pushUrl): batched per agent in order, signed, limited per
// receiver, retried by the vendor's rules or with backoff, and refused for
// callbacks the callback policy or the trustlist does not allow.
package push

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

// Target is where and how to push one agent's events, and the queue they are in.
type Target struct {
	Agent ccgw.AgentID
	Gen   uint64
	URL   string
	Token string // sent as the service_token header
	GUID  string // sent as the Guid header
	// Legacy pushes each event alone as {"message":"","retcode":"0","event":…}
	// (sign-ins with the older pushUrl field) instead of {workNo, eventList}.
	Legacy bool
	// Ended marks the last events of a session that ended (its
	// AgentOther_ShutdownService): they are attempted once.
	Ended bool
	Queue Queue
}

// Queue is the part of an agent's event queue a Pusher uses; *Queue is one,
// the Redis store has another.
type Queue interface {
	// Peek returns up to max of the oldest events without removing them.
	Peek(max int) []ccgw.Event
	// Ack removes the events at the head with Seq <= seq.
	Ack(seq uint64)
	// DropHead removes them as dropped with reason, and returns how many.
	DropHead(seq uint64, reason ccgw.DropReason) int
}

// Source gives a Pusher its targets and learns what it delivered;
// internal/session's Service implements it.
type Source interface {
	// PushTarget returns agent id's push target, if it has one with a queue.
	PushTarget(id ccgw.AgentID) (Target, bool)
	// Delivered records that the sign-in's events up to seq are done with:
	// delivered, or dropped after the last attempt.
	Delivered(id ccgw.AgentID, gen, seq uint64)
	// PushFailed signs sign-in gen of agent id out (ccgw.CausePushFailed)
	// because its pushes failed for Config.FailTotal, exactly once; a later
	// sign-in of the agent is left alone. It must not call the Pusher back
	// synchronously (Notify is fine: it never blocks).
	PushFailed(id ccgw.AgentID, gen uint64)
}

// Config configures a Pusher. Zero values mean the defaults given.
type Config struct {
	Source   Source         // required
	Client   *http.Client   // one with AttemptTimeout, TLS 1.2+, Policy's Control and no redirects followed
	Insecure bool           // with the default client: do not verify the receiver's certificate
	RootCAs  *x509.CertPool // with the default client: the CAs receivers' certificates are checked against; the system's
	Workers  int            // pushes in flight at once over all agents (one receiver: 3/4 of them); 256
	// Retry is how a failed push is retried: RetryVendor (the default) or
	// RetryExponential.
	Retry RetryPolicy
	// RetryInterval is RetryVendor's wait after a failed attempt; 10s
	// (EVENT_PUSH_FAIL_INTERVALTIME).
	RetryInterval time.Duration
	// FailTotal is how long RetryVendor lets an agent's pushes fail before it
	// signs the agent out (Source.PushFailed); 120s (EVENT_PUSH_FAIL_TOTALTIME).
	FailTotal time.Duration
	// Policy decides which callback URLs may be pushed to: its Check before
	// every push (events for a URL it refuses are dropped as push_failed, never
	// sent) and, with the default client, its Control on every connection
	// dialed. nil: the zero CallbackPolicy (any URL, public addresses only).
	Policy         *CallbackPolicy
	Resolver       *net.Resolver // with the default client: resolves receivers' names; the system's
	MaxAttempts    int           // RetryExponential: attempts per batch before it is dropped; 8
	BaseBackoff    time.Duration // RetryExponential: first retry delay (before jitter); 500ms
	MaxBackoff     time.Duration // RetryExponential: longest retry delay; 30s
	AttemptTimeout time.Duration // one attempt's time limit; 5s
	MaxBatch       int           // events per push at most; 100
	Secret         []byte        // if set, each push is signed (X-CCGW-Signature)
	Clock          ccgw.Clock    // clock.Real
	Log            *slog.Logger  // discards
	Seed           uint64        // jitter seed; 0 picks one
}

// Pusher POSTs each push-mode agent's events to its callback URL as
// {workNo, eventList} (one event at a time in a poll answer's envelope for a
// Legacy target): in order per agent, one push in flight per agent, events that
// piled up meanwhile together in the next push, retried as Config.Retry
// says. The last events of an ended session are attempted once.
//
// Pushes to one receiver (callback scheme and host) are limited to an adaptive
// number in flight (limiter: from limitInitial, between 1 and receiverMax): it grows
// while the receiver answers without queueing and shrinks when its latency rises
// or attempts fail. An agent whose receiver is at its limit waits in that
// receiver's line without holding a worker, so a slow or dead receiver holds at
// most its own limit of workers and never delays the other receivers' agents,
// heartbeats or polls. Workers are started as work arrives, up to Workers.
type Pusher struct {
	cfg Config

	mu        sync.Mutex // guards agents to rnd; never held across Source, Queue or HTTP calls
	cond      *sync.Cond // a worker has work, or the Pusher closed
	agents    map[ccgw.AgentID]*pushState
	ready     []pushJob            // agents given a slot of their receiver, in order
	runq      []ccgw.AgentID       // agents to look up and push, in order
	lastReady bool                 // the last job taken was from ready: the next is from runq if it has one
	receivers map[string]*receiver // by receiverKey
	workers   int                  // worker goroutines started
	asleep    int                  // workers waiting on cond, not yet signalled
	started   bool
	closed    bool
	rnd       *rand.Rand

	wg      sync.WaitGroup
	answers sync.Pool // *[]byte buffers for receivers' answers, which are mostly a few dozen bytes

	pushes    atomic.Uint64 // successful pushes
	delivered atomic.Uint64 // events in successful pushes
	failures  atomic.Uint64 // failed attempts
}

// pushState is an agent known to the pusher: in ready or runq, waiting for its
// receiver, in flight or waiting to retry; in exactly one of them.
type pushState struct {
	busy    bool // queued to run, running, or waiting for a retry
	again   bool // more events arrived while busy
	attempt int  // failed attempts of the current head batch
	retry   ccgw.Timer
	// failSince is when the first of the sign-in failGen's pushes failing
	// since the last success started (RetryVendor); zero while none fail.
	failSince time.Time
	failGen   uint64
}

// receiver is one callback scheme+host: its limit, the slots taken and the
// agents waiting for one.
type receiver struct {
	key      string
	inFlight int            // slots taken: pushes in flight, or given to an agent in ready
	waiting  []ccgw.AgentID // agents waiting for a slot, in order
	lim      limiter
}

// pushJob is an agent to deliver; r is set if it already holds a slot of r.
type pushJob struct {
	id ccgw.AgentID
	r  *receiver
}

// receiverMax returns the most pushes one receiver may have in flight with
// workers workers: three quarters of them (all when fewer than 4), so that a
// receiver that is slow but keeps answering, whose limit therefore grows, leaves
// workers to the others.
func receiverMax(workers int) int {
	return max(1, workers-workers/4)
}

// maxIdleReceivers bounds the receivers kept with nothing in flight or waiting
// (each keeps its learnt limit).
const maxIdleReceivers = 1024

// New returns a Pusher; Start runs its workers.
func New(cfg Config) *Pusher {
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 10 * time.Second
	}
	if cfg.FailTotal <= 0 {
		cfg.FailTotal = 120 * time.Second
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = 5 * time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 100
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Policy == nil {
		cfg.Policy = &CallbackPolicy{}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout: cfg.AttemptTimeout,
			// A redirect is not followed: it would carry the Guid, service_token
			// and signature to another host, or turn the push into a body-less
			// GET. A 3xx answer is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: cfg.AttemptTimeout, Resolver: cfg.Resolver, Control: cfg.Policy.Control}).DialContext,
				TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure, RootCAs: cfg.RootCAs},
				MaxIdleConns:        1024,
				MaxIdleConnsPerHost: cfg.Workers, // one receiver may serve all agents: no dial per push
				IdleConnTimeout:     90 * time.Second,
			},
		}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	p := &Pusher{
		cfg:       cfg,
		agents:    make(map[ccgw.AgentID]*pushState),
		receivers: make(map[string]*receiver),
		rnd:       rand.New(rand.NewPCG(seed, seed>>1|1)),
	}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Start lets the Pusher run workers, as work arrives, until Close.
func (p *Pusher) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed {
		return
	}
	p.started = true
	for range min(len(p.ready)+len(p.runq), p.cfg.Workers) {
		p.wakeLocked()
	}
}

// Close stops the workers after the pushes in flight; events not pushed stay in
// their queues (and stores). It is safe to call more than once.
func (p *Pusher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	for _, st := range p.agents {
		if st.retry != nil {
			st.retry.Stop()
		}
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// Notify tells the pusher that agent id has new events. It never blocks.
func (p *Pusher) Notify(id ccgw.AgentID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	st := p.agents[id]
	if st == nil {
		st = &pushState{}
		p.agents[id] = st
	}
	if st.busy {
		st.again = true
		return
	}
	st.busy = true
	p.runq = append(p.runq, id)
	p.wakeLocked()
}

// wakeLocked gets a worker to take one more job from ready or runq: a sleeping
// one, else a new one while there are fewer than Workers. Else a busy worker
// takes it when it is done. p.mu must be held.
func (p *Pusher) wakeLocked() {
	if !p.started || p.closed {
		return
	}
	if p.asleep > 0 {
		p.asleep--
		p.cond.Signal()
		return
	}
	if p.workers < p.cfg.Workers {
		p.workers++
		p.wg.Add(1)
		go p.work()
	}
}

// work is a worker: it delivers jobs until Close.
func (p *Pusher) work() {
	defer p.wg.Done()
	for {
		j, ok := p.next()
		if !ok {
			return
		}
		p.deliver(j)
	}
}

// next returns the next job, waiting for one; false once the Pusher is closed.
// Agents given a slot and agents to look up take turns, so that neither waits
// for the other: a slot is not left idle behind a burst of notifications, and
// receivers with agents in line cannot keep every worker from the others.
func (p *Pusher) next() (pushJob, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ready) == 0 && len(p.runq) == 0 && !p.closed {
		p.asleep++
		p.cond.Wait()
	}
	if p.closed {
		return pushJob{}, false
	}
	if len(p.ready) > 0 && (len(p.runq) == 0 || !p.lastReady) {
		p.lastReady = true
		j := p.ready[0]
		p.ready[0] = pushJob{}
		p.ready = p.ready[1:]
		return j, true
	}
	p.lastReady = false
	id := p.runq[0]
	p.runq[0] = 0
	p.runq = p.runq[1:]
	return pushJob{id: id}, true
}

// requeue puts id back in the run queue at once.
func (p *Pusher) requeue(id ccgw.AgentID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requeueLocked(id, true)
}

// requeueLocked appends id to the run queue, waking a worker for it if wake.
func (p *Pusher) requeueLocked(id ccgw.AgentID, wake bool) {
	if p.closed {
		return
	}
	p.runq = append(p.runq, id)
	if wake {
		p.wakeLocked()
	}
}

// receiverLocked returns the receiver for key, adding it if new.
func (p *Pusher) receiverLocked(key string) *receiver {
	r := p.receivers[key]
	if r != nil {
		return r
	}
	if len(p.receivers) >= maxIdleReceivers {
		for k, o := range p.receivers {
			if o.inFlight == 0 && len(o.waiting) == 0 {
				delete(p.receivers, k)
			}
		}
	}
	r = &receiver{key: key, lim: newLimiter(1, receiverMax(p.cfg.Workers))}
	p.receivers[key] = r
	return r
}

// releaseLocked gives back one slot of r and hands free slots to r's waiting
// agents (into ready). It returns how many it handed out.
func (p *Pusher) releaseLocked(r *receiver) int {
	r.inFlight--
	n := 0
	for len(r.waiting) > 0 && r.inFlight < r.lim.Limit() && !p.closed {
		id := r.waiting[0]
		r.waiting[0] = 0
		r.waiting = r.waiting[1:]
		r.inFlight++
		p.ready = append(p.ready, pushJob{id: id, r: r})
		n++
	}
	if len(r.waiting) == 0 {
		r.waiting = nil // let a long line's array go
	}
	return n
}

// idleLocked marks id as having nothing to push, unless events arrived
// meanwhile: then it puts id back in the run queue (without waking a worker) and
// reports requeued. done means the Pusher forgot id; the caller then calls
// release.
func (p *Pusher) idleLocked(id ccgw.AgentID) (done, requeued bool) {
	st := p.agents[id]
	if st == nil {
		return false, false
	}
	if st.again && !p.closed {
		st.again = false
		p.requeueLocked(id, false)
		return false, true
	}
	delete(p.agents, id)
	return true, false
}

// release tells a Releaser Source that the Pusher is done with id.
func (p *Pusher) release(id ccgw.AgentID) {
	if r, ok := p.cfg.Source.(Releaser); ok {
		r.Release(id)
	}
}

// Releaser is a Source that hands out push work under a claim (several gateway
// nodes); Release gives up the claim on an agent with nothing left to push.
type Releaser interface {
	Release(id ccgw.AgentID)
}

// deliver pushes agent j.id's oldest events once, if its receiver has a slot
// free; else the agent waits for one in the receiver's line.
func (p *Pusher) deliver(j pushJob) {
	id, r := j.id, j.r
	t, ok := p.cfg.Source.PushTarget(id)
	var key string
	if ok {
		key = receiverKey(t.URL)
	}
	p.mu.Lock()
	if r != nil && (!ok || r.key != key) { // the callback URL changed meanwhile
		for range p.releaseLocked(r) {
			p.wakeLocked()
		}
		r = nil
	}
	if !ok {
		delete(p.agents, id)
		p.mu.Unlock()
		return
	}
	if r == nil {
		r = p.receiverLocked(key)
		if r.inFlight >= r.lim.Limit() {
			r.waiting = append(r.waiting, id)
			p.mu.Unlock()
			return
		}
		r.inFlight++
	}
	inFlight := r.inFlight
	if st := p.agents[id]; st != nil {
		st.again = false
	}
	p.mu.Unlock()

	batch := t.Queue.Peek(p.batchOf(t))
	if len(batch) == 0 {
		p.mu.Lock()
		added := p.releaseLocked(r)
		done, requeued := p.idleLocked(id)
		if requeued {
			added++
		}
		for range added - 1 { // this worker takes one itself (next)
			p.wakeLocked()
		}
		p.mu.Unlock()
		if done {
			p.release(id)
		}
		return
	}
	// The target was read before the batch: a GUID rotation or a new service
	// token may have come in between, with events after it in the batch. Read
	// it again so that the push carries the session's credentials as they are
	// now, at least as new as its events.
	if t2, ok := p.cfg.Source.PushTarget(id); ok && t2.Gen == t.Gen && t2.URL == t.URL {
		t.GUID, t.Token = t2.GUID, t2.Token
	}
	last := batch[len(batch)-1].Seq
	start := p.cfg.Clock.Now()
	var err error
	refusal := p.cfg.Policy.Check(t.URL)
	untrusted := refusal != nil
	if untrusted {
		err = errUntrusted
	} else {
		err = p.post(t, batch)
	}
	end := p.cfg.Clock.Now()
	if err == nil {
		t.Queue.Ack(last)
		p.cfg.Source.Delivered(id, t.Gen, last)
		p.pushes.Add(1)
		p.delivered.Add(uint64(len(batch)))
	} else if !untrusted {
		p.failures.Add(1)
	}

	p.mu.Lock()
	if !untrusted {
		r.lim.Observe(start, end, inFlight, overload(err))
	}
	added := p.releaseLocked(r) // agents given r's free slots
	next := p.afterLocked(id, t, err, start, end)
	if next == pushNext && !p.closed {
		p.requeueLocked(id, false)
		added++
	}
	for range added - 1 { // this worker takes one itself (next)
		p.wakeLocked()
	}
	p.mu.Unlock()
	switch next {
	case pushGiveUp:
		n := t.Queue.DropHead(last, ccgw.DropPushFailed)
		p.cfg.Source.Delivered(id, t.Gen, last)
		p.cfg.Log.Warn("push gave up", "agent", id.String(), "events", n, "attempts", p.cfg.MaxAttempts, "err", err)
		p.requeue(id)
	case pushDropAll:
		n := p.dropAll(t, batch)
		if untrusted {
			p.cfg.Log.Warn("push refused: callback not allowed", "agent", id.String(), "events", n, "why", errors.Unwrap(refusal))
		} else {
			p.cfg.Log.Info("push of an ended session failed", "agent", id.String(), "events", n, "err", err)
		}
		p.requeue(id)
	case pushSignOut:
		p.cfg.Log.Warn("pushes failing too long: signing the agent out", "agent", id.String(),
			"fail_total", p.cfg.FailTotal, "err", err)
		p.cfg.Source.PushFailed(id, t.Gen)
		p.requeue(id) // its AgentOther_ShutdownService, attempted once
	case pushRetry:
		p.cfg.Log.Debug("push failed", "agent", id.String(), "err", err)
	}
}

// receiverKey returns the receiver of callback URL raw: its scheme and host
// (with port), as written. One that does not parse is its own receiver.
func receiverKey(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	host := raw[i+3:]
	if j := strings.IndexAny(host, "/?#"); j >= 0 {
		host = host[:j]
	}
	if j := strings.LastIndexByte(host, '@'); j >= 0 { // user info is not the receiver
		return raw[:i+3] + host[j+1:]
	}
	return raw[:i+3+len(host)]
}
