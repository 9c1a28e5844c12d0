// Package loadtest owns load generation against a gateway: it signs agents in
// over the CC-Gateway HTTP API, keeps them alive with heartbeats (and optionally
// polls) spread evenly over the heartbeat interval on a bounded pool of
// keep-alive connections, and reports throughput, latency percentiles, retcodes,
// false sign-outs and the gateway's memory. `ccgw bench` is its command line.
// Every API call goes through the public client package: its Agents follow
// Set-GUID, and its observer measures each request.
package loadtest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/client"
)

// Prefix is the vendor path prefix every API call is under.
const Prefix = "/agentgateway/resource/"

// Password is the password every agent signs in with; the gateway's built-in
// directory accepts any non-empty one.
const Password = "bench"

// Config describes one load run; zero values mean the defaults given.
type Config struct {
	URL string // gateway, scheme://host:port (the vendor prefix is added); required
	// MetricsURL is where the gateway serves /metrics, scheme://host:port: its
	// admin listener. Empty: URL (a gateway that serves both on one port).
	MetricsURL string
	// MetricsToken, if set, is sent as "Authorization: Bearer <MetricsToken>"
	// with the metrics requests (the gateway's --admin-token-env).
	MetricsToken string
	Agents       int           // agents to sign in and keep alive; 10000
	FirstAgent   int           // work number of the first agent, the rest follow; 101
	Interval     time.Duration // heartbeat interval per agent; 30s
	Duration     time.Duration // measured time after every agent has signed in; 2×Interval
	Conns        int           // keep-alive connections to the gateway at most; 64
	Poll         bool          // also poll each agent's events (getAgentEvent) once per Interval
	SignInRate   int           // sign-ins per second at most; 0: as fast as Conns allow
	Insecure     bool          // do not verify the gateway's TLS certificate
	Out          string        // if set, write an HTML page with a latency plot to this file
	Baseline     bool          // also run the same load against a bare net/http server, for ratios
	Progress     io.Writer     // if set, a one-line progress bar is redrawn here about once a second

	// StartBaseline starts the bare server of the Baseline run, over TLS if tls
	// (cfg.URL is https://), and returns once it accepts connections; ctx bounds
	// the start only. nil: a BareServer in this process, sharing its Go scheduler
	// with the load generator ("in the bench process").
	StartBaseline func(ctx context.Context, tls bool) (BaselineServer, error)
}

func (c *Config) setDefaults() error {
	if c.URL == "" {
		return errors.New("loadtest: Config.URL is required")
	}
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		return fmt.Errorf("loadtest: URL %q: want http://host:port or https://host:port", c.URL)
	}
	c.URL = strings.TrimRight(c.URL, "/")
	if c.MetricsURL == "" {
		c.MetricsURL = c.URL
	}
	if !strings.HasPrefix(c.MetricsURL, "http://") && !strings.HasPrefix(c.MetricsURL, "https://") {
		return fmt.Errorf("loadtest: MetricsURL %q: want http://host:port or https://host:port", c.MetricsURL)
	}
	c.MetricsURL = strings.TrimRight(c.MetricsURL, "/")
	if c.Agents <= 0 {
		c.Agents = 10000
	}
	if c.FirstAgent <= 0 {
		c.FirstAgent = 101
	}
	if c.Interval <= 0 {
		c.Interval = 30 * time.Second
	}
	if c.Duration <= 0 {
		c.Duration = 2 * c.Interval
	}
	if c.Conns <= 0 {
		c.Conns = 64
	}
	if c.SignInRate < 0 {
		c.SignInRate = 0
	}
	return nil
}

// Spec method names, under which requests are counted: the client's
// Observation.Op.
const (
	opLogin      = "login"
	opForceLogin = "forceLogin"
	opHandShake  = "handShake"
	opPoll       = "getAgentEvent"
	opLogout     = "logout"
)

const (
	requestTimeout   = time.Minute
	signOutTimeLimit = 30 * time.Second
)

// Agent states.
const (
	stateNew   int32 = iota // not signed in yet
	stateAlive              // signed in and kept alive by the tool
	stateLost               // sign-in failed, or the gateway signed it out
)

// simAgent is one simulated agent: its session (the client's Agent, which
// holds and rotates its GUID), its state, read by anyone, and whether the
// scheduler has handed it to a beat worker. Only one goroutine calls the
// gateway for it at a time: its sign-in worker until it stores stateAlive,
// then the beat worker the scheduler handed it to by setting busy, then (after
// every worker has stopped) the sign-out.
type simAgent struct {
	*client.Agent
	state atomic.Int32
	busy  atomic.Bool // a beat is queued or in flight
}

// Run runs the load described by cfg: against cfg.URL and, if cfg.Baseline, then
// against the bare net/http server cfg.StartBaseline starts, which it stops
// afterwards. It returns the report (with Baseline set in that case) and writes
// cfg.Out. If ctx ends early it stops the load, signs the agents out and returns
// what it measured with ctx's error. It returns an error without a report when
// no agent could sign in.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return Report{}, err
	}
	rep, err := runOnce(ctx, cfg, "ccgw")
	if err != nil {
		return rep, err
	}
	if cfg.Baseline && ctx.Err() == nil {
		brep, err := runBaseline(ctx, cfg)
		if err != nil {
			return rep, fmt.Errorf("baseline: %w", err)
		}
		rep.Baseline = &brep
	}
	if cfg.Out != "" {
		if err := writePlotFile(cfg.Out, &rep); err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

// runBaseline starts the bare server, runs cfg's load against it and stops it.
func runBaseline(ctx context.Context, cfg Config) (Report, error) {
	start := cfg.StartBaseline
	if start == nil {
		start = inBenchProcess
	}
	b, err := start(ctx, strings.HasPrefix(cfg.URL, "https://"))
	if err != nil {
		return Report{}, err
	}
	bcfg := cfg
	bcfg.URL, bcfg.Insecure = strings.TrimRight(b.URL, "/"), true // a throw-away self-signed certificate
	bcfg.MetricsURL, bcfg.MetricsToken = bcfg.URL, ""             // the bare server serves its RSS beside the API
	var rep Report
	if !strings.HasPrefix(bcfg.URL, "http://") && !strings.HasPrefix(bcfg.URL, "https://") {
		err = fmt.Errorf("server URL %q: want http://host:port or https://host:port", b.URL)
	} else {
		rep, err = runOnce(ctx, bcfg, "baseline")
		rep.Where = b.Where
	}
	if serr := b.Stop(); serr != nil && err == nil {
		err = fmt.Errorf("stop: %w", serr)
	}
	return rep, err
}

// runner is one load run against one target.
type runner struct {
	cfg    Config
	label  string
	hc     *http.Client // the client's Agents', and /metrics'
	agents []simAgent
	rec    *recorder
}

func runOnce(ctx context.Context, cfg Config, label string) (Report, error) {
	r, err := newRunner(cfg, label)
	if err != nil {
		return Report{}, err
	}
	defer r.close()
	return r.run(ctx)
}

// newRunner returns a runner of cfg (with its defaults set) whose agents are
// not signed in yet; close closes its idle connections.
func newRunner(cfg Config, label string) (*runner, error) {
	tr := &http.Transport{
		MaxConnsPerHost:     cfg.Conns,
		MaxIdleConnsPerHost: cfg.Conns,
		MaxIdleConns:        cfg.Conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: cfg.Insecure}, // also keeps it on HTTP/1.1
	}
	r := &runner{
		cfg:    cfg,
		label:  label,
		hc:     &http.Client{Transport: tr, Timeout: requestTimeout},
		agents: make([]simAgent, cfg.Agents),
		rec:    newRecorder(cfg.Poll),
	}
	c, err := client.New(cfg.URL+strings.TrimSuffix(Prefix, "/"), client.WithHTTPClient(r.hc), client.WithObserver(r.observe))
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	for i := range r.agents {
		r.agents[i].Agent = c.Agent(strconv.Itoa(cfg.FirstAgent + i))
	}
	return r, nil
}

func (r *runner) close() { r.hc.CloseIdleConnections() }

func (r *runner) run(ctx context.Context) (Report, error) {
	before := scrape(ctx, r.hc, r.cfg.MetricsURL, r.cfg.MetricsToken)
	prog := newProgress(r.cfg.Progress, r.label, r.rec, r.cfg)
	prog.start()

	// Heartbeats follow one schedule from the start of sign-in on, so an agent is
	// kept alive from its sign-in even if signing everyone in takes longer than the
	// gateway's timeout; a slot of an agent not yet signed in is skipped.
	t0 := time.Now()
	loadCtx, stopLoad := context.WithCancel(ctx)
	beats := make(chan *simAgent, r.cfg.Conns)
	var wg sync.WaitGroup
	for range r.cfg.Conns {
		wg.Go(func() {
			for a := range beats {
				r.beat(loadCtx, a)
				a.busy.Store(false)
			}
		})
	}
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		defer close(beats)
		r.schedule(loadCtx, t0, beats)
	}()

	r.signIn(loadCtx)
	signInTime := time.Since(t0)
	signedIn := r.count(stateAlive)
	if signedIn == 0 {
		stopLoad()
		<-schedDone
		wg.Wait()
		prog.stop()
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		return Report{}, fmt.Errorf("no agent signed in to %s: %s", r.cfg.URL, r.rec.describeFailure())
	}
	steadyStart := time.Now()
	end := r.rec.startWindow(steadyStart, r.cfg.Duration)
	prog.steady(steadyStart)

	select {
	case <-time.After(time.Until(end)):
	case <-ctx.Done():
	}
	stopLoad()
	<-schedDone
	wg.Wait()
	window := min(time.Since(steadyStart), r.cfg.Duration)
	prog.stop()
	r.rec.endWindow(time.Now())

	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	after := scrape(mctx, r.hc, r.cfg.MetricsURL, r.cfg.MetricsToken)
	cancel()
	r.signOut(ctx)

	rep := r.rec.report(window)
	rep.Label, rep.URL, rep.Agents, rep.SignedIn, rep.SignInTime = r.label, r.cfg.URL, r.cfg.Agents, signedIn, signInTime
	rep.Interval, rep.Conns, rep.Polled = r.cfg.Interval, r.cfg.Conns, r.cfg.Poll
	rep.RSS = after.value(metricRSS)
	rep.SessionsLive = after.value(metricLive)
	rep.TimeoutSignOuts = -1
	if b, a := before.value(metricTimeouts), after.value(metricTimeouts); b >= 0 && a >= 0 {
		rep.TimeoutSignOuts = a - b
	}
	return rep, nil
}

func (r *runner) count(state int32) int {
	n := 0
	for i := range r.agents {
		if r.agents[i].state.Load() == state {
			n++
		}
	}
	return n
}

// signIn signs every agent in on Conns workers, at most SignInRate a second,
// and returns when all have answered or ctx ended.
func (r *runner) signIn(ctx context.Context) {
	todo := make(chan *simAgent, r.cfg.Conns)
	go func() {
		defer close(todo)
		start := time.Now()
		for i := range r.agents {
			if r.cfg.SignInRate > 0 {
				due := start.Add(time.Duration(i) * time.Second / time.Duration(r.cfg.SignInRate))
				if !sleepUntil(ctx, due) {
					return
				}
			}
			select {
			case todo <- &r.agents[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range r.cfg.Conns {
		wg.Go(func() {
			for a := range todo {
				r.signInOne(ctx, a)
			}
		})
	}
	wg.Wait()
}

// signInOne signs agent a in, and if it is signed in already (as a run killed
// midway leaves it), signs it in again with forceLogin.
func (r *runner) signInOne(ctx context.Context, a *simAgent) {
	p := client.SignInParams{Password: Password, PhoneNum: "7" + a.WorkNo()}
	_, err := a.SignIn(ctx, p)
	if client.CodeOf(err) == ccgw.RetAlreadySignedIn {
		p.Force = true
		_, err = a.SignIn(ctx, p)
	}
	switch {
	case err == nil:
		a.state.Store(stateAlive)
		r.rec.signedIn()
	case ctx.Err() == nil: // else stopped, not failed
		a.state.Store(stateLost)
	}
}

// schedule hands each live agent to a beat worker once per Interval, agent i at
// offset i·Interval/Agents into every interval counted from t0, until ctx ends.
// It never queues an agent whose previous beat has not finished (that slot is
// counted as skipped) and records how late it hands agents over.
func (r *runner) schedule(ctx context.Context, t0 time.Time, beats chan<- *simAgent) {
	n := len(r.agents)
	iv := r.cfg.Interval
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k := 0; ; k++ {
		for i := range r.agents {
			due := t0.Add(time.Duration(k)*iv + time.Duration(int64(iv)*int64(i)/int64(n)))
			if wait := time.Until(due); wait > 100*time.Microsecond {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			} else if ctx.Err() != nil {
				return
			}
			a := &r.agents[i]
			if a.state.Load() != stateAlive {
				continue
			}
			if !a.busy.CompareAndSwap(false, true) {
				r.rec.skip()
				continue
			}
			select {
			case beats <- a:
				r.rec.lag(due, time.Since(due))
			case <-ctx.Done():
				a.busy.Store(false)
				return
			}
		}
	}
}

// beat sends agent a's heartbeat and, with Poll, then polls its events (one
// poll: an event it takes is dropped). A 100-006 or 000-003 answer is a false
// sign-out: the tool was keeping a alive.
//
// A beat already sent is not cut off when the run ends: the gateway may have
// rotated the agent's GUID in its answer, and a client that dropped the answer
// would sign out with a GUID past its grace.
func (r *runner) beat(ctx context.Context, a *simAgent) {
	rctx := context.WithoutCancel(ctx)
	if !r.keptAlive(a, a.Heartbeat(rctx)) || !r.cfg.Poll || ctx.Err() != nil {
		return
	}
	_, err := a.Poll(rctx)
	r.keptAlive(a, err)
}

// keptAlive reports whether a is still signed in after a call that returned
// err, and counts a false sign-out if not.
func (r *runner) keptAlive(a *simAgent, err error) bool {
	switch client.CodeOf(err) {
	case ccgw.RetNotSignedIn, ccgw.RetNoPermission:
		a.state.Store(stateLost)
		r.rec.falseSignOut()
		return false
	}
	return true
}

// observe records one request; the client calls it for each. A request that
// failed because the run was stopping is not a failure and is not counted.
func (r *runner) observe(ctx context.Context, o client.Observation) {
	if o.Err != nil && ctx.Err() != nil {
		return
	}
	r.rec.record(o)
}

// signOut signs every live agent out, so that the next run finds none; it is
// not measured and goes on for a while after ctx ended.
func (r *runner) signOut(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), signOutTimeLimit)
	defer cancel()
	todo := make(chan *simAgent)
	var wg sync.WaitGroup
	for range r.cfg.Conns {
		wg.Go(func() {
			for a := range todo {
				a.SignOut(ctx) // counted by observe
			}
		})
	}
	for i := range r.agents {
		if r.agents[i].state.Load() != stateAlive {
			continue
		}
		select {
		case todo <- &r.agents[i]:
		case <-ctx.Done():
		}
	}
	close(todo)
	wg.Wait()
}

// sleepUntil waits until t and reports whether ctx is still alive.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
