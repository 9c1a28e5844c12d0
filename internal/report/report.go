// Package report watches each agent's client through the requests it makes and
// owns what it learns: findings on how the client departs from what the
// vendor's gateway expects (findings.go), and a journal of its last requests
// (journal.go). Memory is bounded: a fixed-size record per agent, a fixed ring
// of requests, and a cap on the agents tracked, the least recently seen evicted.
package report

import (
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/clock"
)

// Defaults of Config.
const (
	DefaultMaxAgents = 1000
	DefaultJournal   = 100
	DefaultKeep      = time.Minute
	// MaxJournal caps Config.Journal: requests kept per agent.
	MaxJournal = 10000
)

// Config configures a Report. Zero values mean the defaults given.
type Config struct {
	// MaxAgents is how many agents are tracked at once; a new agent beyond it
	// evicts the least recently seen one (within its shard) if that one has not
	// been seen for Keep, and is not tracked otherwise. DefaultMaxAgents.
	MaxAgents int
	// Keep protects an agent seen this recently from eviction, so that more
	// active agents than MaxAgents do not make the report churn (each request
	// evicting one and making another, none keeping its findings); DefaultKeep;
	// negative: the least recently seen is always evicted.
	Keep time.Duration
	// Journal is how many requests are kept per agent (at most MaxJournal);
	// DefaultJournal; negative: none.
	Journal int
	// PollTimeout and PushTimeout are the gateway's session timeouts of the two
	// modes, against which heartbeat intervals are judged (late-heartbeat); 0:
	// no session times out (no such finding).
	PollTimeout, PushTimeout time.Duration
	// Clock times sign-outs (SignedOut); real if nil. Requests carry their own
	// times.
	Clock ccgw.Clock
	// Log gets one WARN line per new finding (agent and code, never a GUID);
	// discards if nil.
	Log *slog.Logger
}

// Request is one answered request of an agent's client, as the API layer saw
// it. Strings the report keeps (Method, Path, Code) must not hold on to the
// request's memory: constants, or copies.
type Request struct {
	Agent ccgw.AgentID
	// Method is the spec method name ("handShake"), or "unknown" for a path no
	// interface has.
	Method string
	// HTTP is the HTTP method; the report keeps GET, POST, PUT, DELETE and
	// names any other "other".
	HTTP string
	// Path is the request's path without its query, a copy; or "" for the
	// interface's own path, which the journal's reader fills in from Method
	// (a pattern's "{agentid}" is filled in by Requests).
	Path   string
	Code   ccgw.Retcode
	Status int
	Start  time.Time
	Took   time.Duration
	// GUID is the GUID the request presented. The API layer fills it only when
	// the answer carries SetGUID or Code is ccgw.RetNoPermission: only then is it
	// needed. It is hashed, never kept.
	GUID string
	// SetGUID is the GUID sent in the answer's Set-GUID header, if any; hashed,
	// never kept.
	SetGUID string
	// Body: the request had a body; JSON: its Content-Type named
	// application/json. ContentType is that header when it did not (copied
	// when kept).
	Body, JSON  bool
	ContentType string
	// EmptyPoll: a getAgentEvent answered "0" with no event.
	EmptyPoll bool
	// PushURL: a sign-in with the older gateways' pushUrl field; Push: a sign-in
	// in push mode (callBackUri or pushUrl).
	PushURL, Push bool
}

// Report tracks agents' clients. It is safe for concurrent use.
type Report struct {
	cfg      Config
	seed     maphash.Seed
	tracked  bitset  // who is tracked, one bit per work number: an untracked agent's request stops here
	index    index   // the request path's lookup: lock-free
	shards   []shard // who is tracked, for eviction and listing
	perShard int     // agents per shard before one is evicted
	raised   [numCodes]atomic.Uint64
}

// shard is one part of the tracked agents, chosen by agent ID.
type shard struct {
	mu sync.Mutex // guards m and its agents' index slots; held for map work only, never across I/O
	m  map[ccgw.AgentID]*client
	// admitAt (unix ns): while the shard is full, no new agent is tracked
	// before it: its least recently seen agent's time plus Keep, at the last
	// look (agents are only seen later since, so it errs early). An untracked
	// agent's request costs this one load until then.
	admitAt atomic.Int64
}

// bitset has one bit per work number (125 KB), set while the agent is
// tracked; written under the agent's shard lock, read by anyone. Small enough to
// stay in cache where the index would not: on a gateway with more agents than
// the report tracks, most requests need only this bit.
type bitset [int(ccgw.MaxAgentID)/64 + 1]atomic.Uint64

func (b *bitset) has(id ccgw.AgentID) bool { return b[id/64].Load()&(1<<(id%64)) != 0 }
func (b *bitset) set(id ccgw.AgentID)      { b[id/64].Or(1 << (id % 64)) }
func (b *bitset) clear(id ccgw.AgentID)    { b[id/64].And(^uint64(1 << (id % 64))) }

// indexChunk is how many agents' slots the index allocates at a time.
const indexChunk = 4096

// index finds an agent's record by work number without a lock or a hash: a
// dense table of pointers, allocated a chunk at a time (as the sessions' hot
// table). A slot is written under its shard's lock, read by anyone.
type index struct {
	chunks [int(ccgw.MaxAgentID)/indexChunk + 1]atomic.Pointer[[indexChunk]atomic.Pointer[client]]
}

// slot returns agent id's slot, making its chunk if make is set (else nil when
// there is none).
func (x *index) slot(id ccgw.AgentID, make bool) *atomic.Pointer[client] {
	if id > ccgw.MaxAgentID {
		return nil
	}
	chunk := &x.chunks[int(id)/indexChunk]
	c := chunk.Load()
	if c == nil {
		if !make {
			return nil
		}
		chunk.CompareAndSwap(nil, new([indexChunk]atomic.Pointer[client]))
		c = chunk.Load()
	}
	return &c[int(id)%indexChunk]
}

// New returns a Report tracking no agent yet.
func New(cfg Config) *Report {
	if cfg.MaxAgents <= 0 {
		cfg.MaxAgents = DefaultMaxAgents
	}
	switch {
	case cfg.Keep == 0:
		cfg.Keep = DefaultKeep
	case cfg.Keep < 0:
		cfg.Keep = 0
	}
	switch {
	case cfg.Journal == 0:
		cfg.Journal = DefaultJournal
	case cfg.Journal < 0:
		cfg.Journal = 0
	case cfg.Journal > MaxJournal:
		cfg.Journal = MaxJournal
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	// Eviction scans a shard for its least recently seen agent: one shard (an
	// exact least-recent) up to 4096 agents, 64 beyond, so that a scan stays
	// short and the shards' locks apart.
	n := 1
	if cfg.MaxAgents > 4096 {
		n = 64
	}
	r := &Report{cfg: cfg, seed: maphash.MakeSeed(), shards: make([]shard, n), perShard: (cfg.MaxAgents + n - 1) / n}
	for i := range r.shards {
		r.shards[i].m = make(map[ccgw.AgentID]*client)
	}
	return r
}

func (r *Report) shard(id ccgw.AgentID) *shard { return &r.shards[uint32(id)%uint32(len(r.shards))] }

// lookup returns agent id's record, or nil if it is not tracked: one load for
// an agent not tracked, three for one that is.
func (r *Report) lookup(id ccgw.AgentID) *client {
	if id > ccgw.MaxAgentID || !r.tracked.has(id) {
		return nil
	}
	if sl := r.index.slot(id, false); sl != nil {
		return sl.Load()
	}
	return nil
}

// track returns agent id's record, making one (and evicting the least recently
// seen agent of its shard if the shard is full) if it has none. An agent
// beyond ccgw.MaxAgentID is never tracked: nil.
func (r *Report) track(id ccgw.AgentID, now int64) *client {
	if c := r.lookup(id); c != nil {
		return c
	}
	sh := r.shard(id)
	if id > ccgw.MaxAgentID || now < sh.admitAt.Load() {
		return nil
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if c := sh.m[id]; c != nil {
		return c
	}
	if len(sh.m) >= r.perShard {
		var old *client
		var oldSeen int64
		for _, c := range sh.m {
			if seen := c.lastSeen(); old == nil || seen < oldSeen {
				old, oldSeen = c, seen
			}
		}
		if keep := oldSeen + int64(r.cfg.Keep); now < keep {
			sh.admitAt.Store(keep)
			return nil
		}
		delete(sh.m, old.id)
		r.tracked.clear(old.id)
		r.index.slot(old.id, false).Store(nil) // an Observe holding it updates an orphan: lost, harmless
	}
	c := &client{id: id, seen: now, ring: make([]entry, 0, r.cfg.Journal)}
	sh.m[id] = c
	r.index.slot(id, true).Store(c)
	r.tracked.set(id) // after the slot: whoever sees the bit finds the record
	return c
}

// Observe records *q, one answered request of q.Agent's client: in its journal,
// and through the finding rules; a finding that is new logs one WARN line
// (outside every lock). In the common case (a tracked agent, no new finding) it
// allocates nothing and holds only the agent's own lock, briefly.
func (r *Report) Observe(q *Request) {
	start := q.Start.UnixNano()
	c := r.track(q.Agent, start)
	if c == nil {
		return
	}
	c.mu.Lock()
	c.requests++
	if r.cfg.Journal > 0 {
		c.journal(q, r.cfg.Journal)
	}
	raised := c.observe(q, r)
	if start > c.seen {
		c.seen = start
	}
	c.mu.Unlock()
	if raised != 0 {
		r.raise(q.Agent, raised)
	}
}

// SignedOut records that agent id's session ended, and why; Observe's
// calls-after-signout evidence names it. An agent not tracked is left so.
func (r *Report) SignedOut(id ccgw.AgentID, cause ccgw.SignOutCause) {
	c := r.lookup(id)
	if c == nil {
		return
	}
	now := r.cfg.Clock.Now().UnixNano()
	c.mu.Lock()
	c.outAt, c.outCause = now, cause
	c.mu.Unlock()
}

// raise logs and counts the findings in mask, new for agent id.
func (r *Report) raise(id ccgw.AgentID, mask uint16) {
	for i := range numCodes {
		if mask&(1<<i) == 0 {
			continue
		}
		r.raised[i].Add(1)
		r.cfg.Log.Warn("client finding", "agent", id.String(), "code", string(rules[i].code))
	}
}

// Raised returns, per finding code, how many times a finding was new for an
// agent (every code, zeros included): ccgw_client_findings_total.
func (r *Report) Raised() map[Code]uint64 {
	out := make(map[Code]uint64, numCodes)
	for i, rl := range rules {
		out[rl.code] = r.raised[i].Load()
	}
	return out
}

// hash returns guid's fingerprint: GUIDs are compared, never kept.
func (r *Report) hash(guid string) uint64 {
	if guid == "" {
		return 0
	}
	h := maphash.String(r.seed, guid)
	if h == 0 {
		h = 1 // 0 means none
	}
	return h
}
