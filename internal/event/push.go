package event

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
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
	Queue PushQueue
}

// PushQueue is the part of an agent's event queue a Pusher uses; *Queue is one,
// the Redis store has another.
type PushQueue interface {
	// Peek returns up to max of the oldest events without removing them.
	Peek(max int) []ccgw.Event
	// Ack removes the events at the head with Seq <= seq.
	Ack(seq uint64)
	// DropHead removes them as dropped with reason, and returns how many.
	DropHead(seq uint64, reason ccgw.DropReason) int
}

// Source gives a Pusher its targets and learns what it delivered;
// session.Manager implements it.
type Source interface {
	// PushTarget returns agent id's push target, if it has one with a queue.
	PushTarget(id ccgw.AgentID) (Target, bool)
	// Delivered records that the sign-in's events up to seq are done with:
	// delivered, or dropped after the last attempt.
	Delivered(id ccgw.AgentID, gen, seq uint64)
}

// PushConfig configures a Pusher. Zero values mean the defaults given.
type PushConfig struct {
	Source         Source        // required
	Client         *http.Client  // one with AttemptTimeout and TLS 1.2+
	Insecure       bool          // with the default client: do not verify the receiver's certificate
	Workers        int           // pushes in flight at once, over all agents; 256
	MaxAttempts    int           // attempts per batch before it is dropped; 8
	BaseBackoff    time.Duration // first retry delay (before jitter); 500ms
	MaxBackoff     time.Duration // longest retry delay; 30s
	AttemptTimeout time.Duration // one attempt's time limit; 5s
	MaxBatch       int           // events per push at most; 100
	Secret         []byte        // if set, each push is signed (X-CCGW-Signature)
	Clock          ccgw.Clock    // clock.Real
	Log            *slog.Logger  // discards
	Seed           uint64        // jitter seed; 0 picks one
}

// Pusher POSTs each push-mode agent's events to its callback URL as
// {workNo, eventList}: in order per agent, one push in flight per agent, events
// that piled up meanwhile together in the next push, retried with exponential
// backoff and jitter, and dropped (counted) after MaxAttempts. A slow or dead
// receiver holds at most one worker per agent and never delays the others' queue
// handling, heartbeats or polls.
type Pusher struct {
	cfg PushConfig

	mu     sync.Mutex // guards agents, runq, closed, rnd
	cond   *sync.Cond
	agents map[ccgw.AgentID]*pushState
	runq   []ccgw.AgentID
	closed bool
	rnd    *rand.Rand

	wg sync.WaitGroup

	pushes    atomic.Uint64 // successful pushes
	delivered atomic.Uint64 // events in successful pushes
	failures  atomic.Uint64 // failed attempts
}

// pushState is an agent known to the pusher: queued, in flight or waiting to retry.
type pushState struct {
	busy    bool // queued to run, running, or waiting for a retry
	again   bool // more events arrived while busy
	attempt int  // failed attempts of the current head batch
	retry   ccgw.Timer
}

// NewPusher returns a Pusher; Start runs its workers.
func NewPusher(cfg PushConfig) *Pusher {
	if cfg.Workers <= 0 {
		cfg.Workers = 256
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 8
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
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			Timeout: cfg.AttemptTimeout,
			Transport: &http.Transport{
				Proxy:               nil,
				DialContext:         (&net.Dialer{Timeout: cfg.AttemptTimeout}).DialContext,
				TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure},
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
	p := &Pusher{cfg: cfg, agents: make(map[ccgw.AgentID]*pushState), rnd: rand.New(rand.NewPCG(seed, seed>>1|1))}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// Start runs the workers until Close.
func (p *Pusher) Start() {
	for i := 0; i < p.cfg.Workers; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				id, ok := p.next()
				if !ok {
					return
				}
				p.deliver(id)
			}
		}()
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
	p.cond.Signal()
}

func (p *Pusher) next() (ccgw.AgentID, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.runq) == 0 && !p.closed {
		p.cond.Wait()
	}
	if p.closed {
		return 0, false
	}
	id := p.runq[0]
	p.runq[0] = 0
	p.runq = p.runq[1:]
	return id, true
}

// requeue puts id back in the run queue at once.
func (p *Pusher) requeue(id ccgw.AgentID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.runq = append(p.runq, id)
	p.cond.Signal()
}

// idle marks id as having nothing to push, unless events arrived meanwhile.
func (p *Pusher) idle(id ccgw.AgentID) {
	p.mu.Lock()
	st := p.agents[id]
	if st == nil {
		p.mu.Unlock()
		return
	}
	if st.again && !p.closed {
		st.again = false
		p.runq = append(p.runq, id)
		p.cond.Signal()
		p.mu.Unlock()
		return
	}
	delete(p.agents, id)
	p.mu.Unlock()
	if r, ok := p.cfg.Source.(Releaser); ok {
		r.Release(id)
	}
}

// Releaser is a Source that hands out push work under a claim (several gateway
// nodes); Release gives up the claim on an agent with nothing left to push.
type Releaser interface {
	Release(id ccgw.AgentID)
}

// deliver pushes agent id's oldest events once.
func (p *Pusher) deliver(id ccgw.AgentID) {
	t, ok := p.cfg.Source.PushTarget(id)
	if !ok {
		p.forget(id)
		return
	}
	p.mu.Lock()
	if st := p.agents[id]; st != nil {
		st.again = false
	}
	p.mu.Unlock()
	batch := t.Queue.Peek(p.cfg.MaxBatch)
	if len(batch) == 0 {
		p.idle(id)
		return
	}
	last := batch[len(batch)-1].Seq
	err := p.post(t, batch)
	if err == nil {
		t.Queue.Ack(last)
		p.cfg.Source.Delivered(id, t.Gen, last)
		p.pushes.Add(1)
		p.delivered.Add(uint64(len(batch)))
		p.mu.Lock()
		if st := p.agents[id]; st != nil {
			st.attempt = 0
		}
		p.mu.Unlock()
		p.requeue(id)
		return
	}
	p.failures.Add(1)
	p.mu.Lock()
	st := p.agents[id]
	if st == nil {
		p.mu.Unlock()
		return
	}
	st.attempt++
	if st.attempt >= p.cfg.MaxAttempts {
		st.attempt = 0
		p.mu.Unlock()
		n := t.Queue.DropHead(last, ccgw.DropPushFailed)
		p.cfg.Source.Delivered(id, t.Gen, last)
		p.cfg.Log.Warn("push gave up", "agent", id.String(), "events", n, "attempts", p.cfg.MaxAttempts, "err", err)
		p.requeue(id)
		return
	}
	attempt := st.attempt
	d := Backoff(attempt, p.cfg.BaseBackoff, p.cfg.MaxBackoff, p.rnd.Float64())
	if p.closed {
		p.mu.Unlock()
		return
	}
	st.retry = p.cfg.Clock.AfterFunc(d, func() { p.requeue(id) })
	p.mu.Unlock()
	p.cfg.Log.Debug("push failed", "agent", id.String(), "attempt", attempt, "retry_in", d, "err", err)
}

func (p *Pusher) forget(id ccgw.AgentID) {
	p.mu.Lock()
	delete(p.agents, id)
	p.mu.Unlock()
}

// Backoff returns the delay before retry number attempt (from 1): the
// exponential step min(max, base·2^(attempt-1)), of which the upper half is
// jittered by r in [0,1).
func Backoff(attempt int, base, max time.Duration, r float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + time.Duration(r*float64(d/2))
}

// pushBody is the callback request body (interfaces.md §9).
type pushBody struct {
	WorkNo    string       `json:"workNo"`
	EventList []ccgw.Event `json:"eventList"`
}

// SeqHeader carries the sequence number of the first event of a push; the
// others follow it one by one, so a receiver can drop events it already has.
const SeqHeader = "X-CCGW-Seq"

// SignatureHeader carries the push signature when a secret is configured:
// "t=<unix ms>,v1=<hex HMAC-SHA256(secret, t + "." + body)>".
const SignatureHeader = "X-CCGW-Signature"

// Sign returns the SignatureHeader value for body at ms.
func Sign(secret, body []byte, ms int64) string {
	t := strconv.FormatInt(ms, 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t))
	mac.Write([]byte("."))
	mac.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// errPush is a push the receiver did not accept.
type errPush struct{ why string }

func (e errPush) Error() string { return e.why }

// post sends one push. It succeeds on an HTTP 2xx whose body, if it is JSON with
// a retcode, has retcode "0".
func (p *Pusher) post(t Target, batch []ccgw.Event) error {
	body, err := json.Marshal(pushBody{WorkNo: t.Agent.String(), EventList: batch})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header["Guid"] = []string{t.GUID}
	if t.Token != "" {
		req.Header["service_token"] = []string{t.Token}
	}
	req.Header.Set(SeqHeader, strconv.FormatUint(batch[0].Seq, 10))
	if len(p.cfg.Secret) > 0 {
		req.Header.Set(SignatureHeader, Sign(p.cfg.Secret, body, ccgw.Millis(p.cfg.Clock.Now())))
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errPush{"status " + strconv.Itoa(resp.StatusCode)}
	}
	var ans struct {
		Retcode *json.RawMessage `json:"retcode"`
	}
	if json.Unmarshal(rb, &ans) == nil && ans.Retcode != nil {
		var code string
		if json.Unmarshal(*ans.Retcode, &code) != nil {
			code = string(*ans.Retcode)
		}
		if code != "0" {
			return errPush{"retcode " + code}
		}
	}
	return nil
}

// PushStats are a Pusher's counters.
type PushStats struct {
	Pushes    uint64 // accepted pushes
	Delivered uint64 // events in accepted pushes
	Failures  uint64 // failed attempts
}

// Stats returns the counters.
func (p *Pusher) Stats() PushStats {
	return PushStats{Pushes: p.pushes.Load(), Delivered: p.delivered.Load(), Failures: p.failures.Load()}
}
