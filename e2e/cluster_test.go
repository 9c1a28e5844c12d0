package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccgw/ccgw/internal/redistest"
	"github.com/ccgw/ccgw/internal/wait"
	goredis "github.com/redis/go-redis/v9"
)

// The cluster test's load: clusterAgents agents heartbeat every clusterBeat
// through random nodes of three, with a heartbeat timeout of clusterTimeout.
// The timeout is eight beats: with four (2,000 agents, 8s), a machine at a
// load average of 16 on 2 cores delayed heartbeats past it (526 false
// sign-outs). The test asserts who is signed out and how often, not how fast.
const (
	clusterAgents  = 800
	clusterStop    = 200 // of them stop heartbeating
	clusterTimeout = 16 * time.Second
	clusterBeat    = 2 * time.Second
	clusterWorkers = 48 // requests in flight at most (keep-alive connections per node)
)

// TestCluster runs one real Redis and three real ccgw processes on it.
// 800 agents sign in and heartbeat through random nodes; 200 stop and are
// signed out exactly once each, cluster-wide, and nobody else is. Then one
// node is killed with SIGKILL (its clients move to the other two) and Redis is
// killed and restarted after an outage longer than the heartbeat timeout: no
// session is lost, nobody is signed out twice or falsely, no heartbeating
// agent is ever told 100-006, and the nodes answer 100-007 and report not
// ready while Redis is away.
func TestCluster(t *testing.T) {
	start := time.Now()
	srv := redistest.Start(t)
	var nodes []*proc
	for i := range 3 {
		nodes = append(nodes, startGateway(t, t.TempDir(), "--store", srv.URL(), "--heartbeat-timeout", clusterTimeout.String(),
			"--node-name", "AgentGateway"+strconv.Itoa(i+1), "--log-level", "debug")) // each expiry's line is at debug level
	}
	c := newCluster(t, nodes)
	defer c.close()

	// Sign everyone in through random nodes; heartbeats start as each succeeds.
	c.signInAll(t)
	t.Logf("%d agents signed in through 3 nodes in %v", clusterAgents, time.Since(start).Round(time.Millisecond))
	c.waitRound(t)

	// 500 stop; each is signed out once, by whichever node's sweep gets it.
	stopped := map[string]bool{}
	for i := 0; i < clusterAgents && len(stopped) < clusterStop; i += clusterAgents / clusterStop {
		c.agents[i].stopped.Store(true)
		stopped[c.agents[i].id] = true
	}
	stoppedAt := time.Now()
	wait.For(t, clusterTimeout+sweepSlack+30*time.Second, 100*time.Millisecond, func() error {
		if n := len(c.signOuts("timeout")); n < clusterStop {
			return fmt.Errorf("%d of %d timeouts logged", n, clusterStop)
		}
		return nil
	})
	t.Logf("%d silent agents signed out %v after they stopped (timeout %v)", clusterStop,
		time.Since(stoppedAt).Round(time.Millisecond), clusterTimeout)
	c.checkSignOuts(t, stopped)
	for _, id := range []string{c.agents[0].id, c.agents[clusterAgents/clusterStop].id} {
		if code := c.handshake(id, c.agent(id).guid()); code != "100-006" {
			t.Errorf("handshake of %s, signed out: retcode %s, want 100-006", id, code)
		}
	}
	c.checkActive(t)

	// SIGKILL one node mid-run: its clients move to the other two.
	c.waitRound(t)
	nodes[2].kill()
	t.Logf("node 3 killed")
	c.waitRound(t)

	// Kill Redis mid-run, for longer than the heartbeat timeout.
	beforeOutage := c.count(&c.unavailable)
	srv.Kill()
	down := time.Now()
	for _, p := range nodes[:2] {
		wait.For(t, time.Minute, 20*time.Millisecond, func() error {
			if code := readyz(p); code != http.StatusServiceUnavailable {
				return fmt.Errorf("%s /readyz: HTTP %d with Redis down, want 503", p.addr, code)
			}
			return nil
		})
	}
	wait.For(t, clusterTimeout+10*time.Second, 50*time.Millisecond, func() error {
		if d := time.Since(down); d < clusterTimeout+time.Second {
			return fmt.Errorf("Redis down for %v", d)
		}
		return nil
	})
	srv.Restart()
	outage := time.Since(down)
	for _, p := range nodes[:2] {
		wait.For(t, time.Minute, 20*time.Millisecond, func() error {
			if code := readyz(p); code != http.StatusOK {
				return fmt.Errorf("%s /readyz: HTTP %d with Redis back", p.addr, code)
			}
			return nil
		})
	}
	during := c.count(&c.unavailable) - beforeOutage
	t.Logf("Redis down for %v; %d heartbeats answered 100-007 meanwhile", outage.Round(time.Millisecond), during)
	if beforeOutage != 0 {
		t.Errorf("%d heartbeats answered 100-007 before the outage", beforeOutage)
	}
	if during == 0 {
		t.Error("no heartbeat was answered 100-007 while Redis was down")
	}
	for _, p := range nodes[:2] {
		if len(p.log.find("msg", "redis unreachable: not ready, signing nobody out")) == 0 {
			t.Errorf("%s logged no \"redis unreachable\" line", p.addr)
		}
	}

	// Run on for more than a timeout: a session whose deadline was not moved
	// on by the outage would be signed out now.
	back := time.Now()
	wait.For(t, 2*clusterTimeout+10*time.Second, 100*time.Millisecond, func() error {
		if d := time.Since(back); d < clusterTimeout+2*clusterBeat {
			return fmt.Errorf("only %v since Redis returned", d)
		}
		return nil
	})
	c.stopBeats()
	c.checkSignOuts(t, stopped)
	c.checkActive(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	if n, err := rdb.ZCard(context.Background(), "{ccgw}:dl").Result(); err != nil || n != clusterAgents-clusterStop {
		t.Errorf("Redis holds %d deadlines (%v), want %d", n, err, clusterAgents-clusterStop)
	}
	t.Logf("%d heartbeats in all (%d retried on another node, %d failed, %d answered 100-007); %v",
		c.count(&c.beats), c.count(&c.retried), c.count(&c.failed), c.count(&c.unavailable), time.Since(start).Round(time.Millisecond))
}

// readyz returns the HTTP status of p's /readyz (0 if it does not answer).
func readyz(p *proc) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := send(ctx, p.client, http.MethodGet, p.url("/readyz"), "", "")
	if err != nil {
		return 0
	}
	return r.status
}

// clusterAgent is one simulated agent.
type clusterAgent struct {
	id      string
	g       atomic.Pointer[string] // its GUID once signed in
	stopped atomic.Bool            // no more heartbeats
	busy    atomic.Bool            // a heartbeat is queued or in flight
}

func (a *clusterAgent) guid() string {
	if g := a.g.Load(); g != nil {
		return *g
	}
	return ""
}

// cluster drives the agents against the nodes.
type cluster struct {
	nodes   []*proc
	clients []*http.Client
	agents  []clusterAgent
	byID    map[string]*clusterAgent
	t0      time.Time
	jobs    chan *clusterAgent
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	rounds  atomic.Int64 // heartbeat rounds the scheduler completed

	beats, retried, failed, unavailable, skipped atomic.Int64

	mu  sync.Mutex // guards bad
	bad []string   // answers a heartbeating agent must never get
}

func newCluster(t *testing.T, nodes []*proc) *cluster {
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{nodes: nodes, agents: make([]clusterAgent, clusterAgents), byID: map[string]*clusterAgent{},
		t0: time.Now(), jobs: make(chan *clusterAgent, clusterWorkers), ctx: ctx, cancel: cancel}
	for _, p := range nodes {
		c.clients = append(c.clients, p.newClient(&http.Transport{
			MaxIdleConnsPerHost: clusterWorkers, MaxConnsPerHost: clusterWorkers, IdleConnTimeout: time.Minute}))
	}
	for i := range c.agents {
		c.agents[i].id = strconv.Itoa(10001 + i)
		c.byID[c.agents[i].id] = &c.agents[i]
	}
	for range clusterWorkers {
		c.wg.Go(c.work)
	}
	c.wg.Go(c.schedule)
	return c
}

func (c *cluster) agent(id string) *clusterAgent { return c.byID[id] }

func (c *cluster) count(n *atomic.Int64) int64 { return n.Load() }

// close stops the load and closes the connections.
func (c *cluster) close() {
	c.stopBeats()
	for _, cl := range c.clients {
		cl.CloseIdleConnections()
	}
}

// stopBeats stops the scheduler and waits for the heartbeats in flight.
func (c *cluster) stopBeats() {
	c.cancel()
	c.wg.Wait()
}

// schedule hands every live agent to a worker once per clusterBeat, agent i at
// offset i·clusterBeat/N into each round, never queueing an agent whose last
// heartbeat is still in flight. It paces the load; it synchronizes nothing.
func (c *cluster) schedule() {
	defer close(c.jobs)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	n := len(c.agents)
	for k := 0; ; k++ {
		for i := range c.agents {
			due := c.t0.Add(time.Duration(k)*clusterBeat + time.Duration(int64(clusterBeat)*int64(i)/int64(n)))
			if wait := time.Until(due); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-c.ctx.Done():
					return
				}
			}
			a := &c.agents[i]
			if a.stopped.Load() || a.g.Load() == nil {
				continue
			}
			if !a.busy.CompareAndSwap(false, true) {
				c.skipped.Add(1)
				continue
			}
			select {
			case c.jobs <- a:
			case <-c.ctx.Done():
				return
			}
		}
		c.rounds.Add(1)
	}
}

// waitRound waits until the scheduler has started a new round and completed it.
func (c *cluster) waitRound(t *testing.T) {
	t.Helper()
	r := c.rounds.Load() + 2
	wait.For(t, 60*clusterBeat, 20*time.Millisecond, func() error {
		if c.rounds.Load() < r {
			return fmt.Errorf("heartbeat round %d not done", r)
		}
		return nil
	})
}

func (c *cluster) work() {
	for a := range c.jobs {
		c.beat(a)
		a.busy.Store(false)
	}
}

// beat sends one heartbeat of a through a random node, and through another one
// if that node does not answer.
func (c *cluster) beat(a *clusterAgent) {
	first := rand.IntN(len(c.nodes))
	for try := range len(c.nodes) {
		k := (first + try) % len(c.nodes)
		p := c.nodes[k]
		r, err := send(c.ctx, c.clients[k], http.MethodPost, p.url("onlineagent/"+a.id+"/handshake"), a.guid(), "")
		if c.ctx.Err() != nil {
			return
		}
		if err != nil {
			c.retried.Add(1)
			continue // a dead node: its clients move on
		}
		switch r.env.Retcode {
		case "0":
			c.beats.Add(1)
		case "100-007":
			c.unavailable.Add(1)
		default:
			c.mu.Lock()
			c.bad = append(c.bad, fmt.Sprintf("%s: agent %s heartbeating via %s got HTTP %d %s",
				time.Now().Format("15:04:05.000"), a.id, p.addr, r.status, r.body))
			c.mu.Unlock()
		}
		return
	}
	c.failed.Add(1)
}

// signInAll signs every agent in through random nodes, clusterWorkers at a time.
func (c *cluster) signInAll(t *testing.T) {
	t.Helper()
	todo := make(chan *clusterAgent)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range clusterWorkers {
		wg.Go(func() {
			for a := range todo {
				k := rand.IntN(len(c.nodes))
				r, err := send(c.ctx, c.clients[k], http.MethodPut, c.nodes[k].url("onlineagent/"+a.id), "", loginBody)
				g, ok := "", false
				if err == nil {
					g, ok = strings.CutPrefix(r.header.Get("Set-GUID"), "JSESSIONID=")
				}
				if err != nil || r.env.Retcode != "0" || !ok || g == "" {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("sign in %s: %v %d %s", a.id, err, r.status, r.body))
					mu.Unlock()
					continue
				}
				a.g.Store(&g)
			}
		})
	}
	for i := range c.agents {
		todo <- &c.agents[i]
	}
	close(todo)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d sign-ins failed, first: %s", len(errs), errs[0])
	}
}

// handshake sends one heartbeat through a random node that answers and returns
// the retcode ("no answer" if no node answers).
func (c *cluster) handshake(id, guid string) string {
	first := rand.IntN(len(c.nodes))
	for try := range len(c.nodes) {
		k := (first + try) % len(c.nodes)
		r, err := send(context.Background(), c.clients[k], http.MethodPost, c.nodes[k].url("onlineagent/"+id+"/handshake"), guid, "")
		if err == nil {
			return r.env.Retcode
		}
	}
	return "no answer"
}

// signOuts returns the "signed out" lines with cause (any cause if "") of all
// nodes, as agent → how many.
func (c *cluster) signOuts(cause string) map[string]int {
	out := map[string]int{}
	for _, p := range c.nodes {
		kv := []string{"msg", "signed out"}
		if cause != "" {
			kv = append(kv, "cause", cause)
		}
		for _, l := range p.log.find(kv...) {
			out[l.attr["agent"]]++
		}
	}
	return out
}

// checkSignOuts checks that exactly the stopped agents were signed out, each
// once and for timeout, and that no heartbeating agent was ever refused.
func (c *cluster) checkSignOuts(t *testing.T, stopped map[string]bool) {
	t.Helper()
	all := c.signOuts("")
	timeouts := c.signOuts("timeout")
	var wrong []string
	for id, n := range all {
		if !stopped[id] || n != 1 || timeouts[id] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s×%d", id, n))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		t.Errorf("%d agents signed out wrongly (a heartbeating agent, or twice, or not for timeout): %s",
			len(wrong), strings.Join(wrong[:min(len(wrong), 20)], " "))
	}
	total := 0
	for _, n := range all {
		total += n
	}
	if total != len(stopped) {
		t.Errorf("%d \"signed out\" lines over the three nodes, want %d", total, len(stopped))
	}
	for id := range stopped {
		if timeouts[id] != 1 {
			t.Errorf("agent %s stopped but has %d timeout lines", id, timeouts[id])
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		t.Errorf("%d heartbeats of live agents were refused, first: %s", len(c.bad), strings.Join(c.bad[:min(len(c.bad), 5)], "\n"))
	}
}

// checkActive checks that every agent still heartbeating answers 0.
func (c *cluster) checkActive(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	todo := make(chan *clusterAgent)
	for range clusterWorkers / 2 {
		wg.Go(func() {
			for a := range todo {
				if code := c.handshake(a.id, a.guid()); code != "0" {
					mu.Lock()
					bad = append(bad, a.id+":"+code)
					mu.Unlock()
				}
			}
		})
	}
	n := 0
	for i := range c.agents {
		if !c.agents[i].stopped.Load() {
			todo <- &c.agents[i]
			n++
		}
	}
	close(todo)
	wg.Wait()
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("%d of %d live agents do not answer 0 on handshake: %s", len(bad), n, strings.Join(bad[:min(len(bad), 20)], " "))
	}
}

// TestClusterEventsOnce: events queued through different nodes of a cluster
// reach a polling agent once each, whichever nodes it polls, and a push-mode
// agent once each, pushed by one node at a time, though every node sees the
// push work.
func TestClusterEventsOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	var nodes []*proc
	for i := range 3 {
		nodes = append(nodes, startGateway(t, t.TempDir(), "--store", srv.URL(), "--node-name", "AgentGateway"+strconv.Itoa(i+1)))
	}
	// act signs agent id in on node 1 with body, then changes its state through
	// nodes 2 and 3, and returns its GUID.
	act := func(id, body string) string {
		g, _ := nodes[0].signIn(t, id, body)
		for k, op := range []string{"saybusy", "sayfree", "saybusy", "sayfree"} {
			p := nodes[1+k%2]
			if r := call(t, p.client, http.MethodPost, p.url("onlineagent/"+id+"/"+op), g, ""); r.env.Retcode != "0" {
				t.Fatalf("%s of %s via %s: HTTP %d %s", op, id, p.addr, r.status, r.body)
			}
		}
		return g
	}

	// Polling: every event once, in order, polled from random nodes.
	const polled = "1001"
	g := act(polled, "")
	var seqs []int
	var evs []string
	for empty := 0; empty < 3; {
		p := nodes[rand.IntN(len(nodes))]
		r := call(t, p.client, http.MethodGet, p.url("agentevent/"+polled), g, "")
		if r.env.Retcode != "0" {
			t.Fatalf("poll via %s: HTTP %d %s", p.addr, r.status, r.body)
		}
		if r.env.Event == nil {
			empty++
			continue
		}
		seq, err := strconv.Atoi(r.header.Get("X-CCGW-Seq"))
		if err != nil {
			t.Fatalf("poll answer without X-CCGW-Seq: %v", r.header)
		}
		seqs = append(seqs, seq)
		evs = append(evs, r.env.Event.Type)
	}
	if len(seqs) < 6 || evs[0] != evInService || evs[1] != evReady {
		t.Fatalf("polled %q, want InService, Ready and an event per state change", evs)
	}
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("polled sequence numbers %v, want 1..%d once each", seqs, len(seqs))
		}
	}

	// Pushing: every event once, in order, from whichever node holds the claim.
	var mu sync.Mutex
	got := map[int]int{}
	var order []int
	recv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			EventList []event `json:"eventList"`
		}
		first, err := strconv.Atoi(r.Header.Get("X-CCGW-Seq"))
		if err != nil || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad push", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for i := range body.EventList {
			got[first+i]++
			order = append(order, first+i)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go recv.Serve(ln)
	t.Cleanup(func() { recv.Close() })
	const pushed = "1002"
	act(pushed, `{"password":"p","phonenum":"70002","callBackUri":"http://`+ln.Addr().String()+`/cb","serviceToken":"tok"}`)
	want := len(seqs)
	wait.For(t, 30*time.Second, 20*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) < want {
			return fmt.Errorf("%d of %d events pushed", len(got), want)
		}
		return nil
	})
	// Every node's tick looks at the pending push work; none pushes it again.
	holdsFor(t, time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		for seq, n := range got {
			if n != 1 {
				return fmt.Errorf("event %d pushed %d times (order %v)", seq, n, order)
			}
		}
		if len(got) != want {
			return fmt.Errorf("%d events pushed, want %d", len(got), want)
		}
		return nil
	})
	for i, s := range order {
		if s != i+1 {
			t.Fatalf("pushed in the order %v, want 1..%d", order, want)
		}
	}
}
