package session

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
)

// Each node keeps, per agent it has served, the facts a heartbeat is checked
// against: the sign-in's gen and login time (which, with the shared key, derive
// its rotated GUIDs), the current GUID and its rotation number, the previous
// GUID and until when it is accepted, the mode and the service token. A
// heartbeat that matches them is answered from memory.
//
// The cache is coherent through the store's WatchAuth: every write that
// changes a session's auth facts tells every node (a sign-in over an old
// session, any sign-out, expiry, a token or other auth change drops the
// entries of those sign-ins; a rotation moves them on). A node uses its cache
// only while it watches and the store answers: on losing either it drops
// every entry, and only a confirmed new subscription turns the cache back on.
// An entry read from the store is kept only if no change touched its shard
// meanwhile (epoch), so that a change that overtook the read cannot be lost.

// cacheShards is the number of shards, each with its own lock and epoch.
const cacheShards = 256

// authEntry is one agent's auth facts. It is never changed once in the cache:
// a change puts in a new one.
type authEntry struct {
	// What a heartbeat reads, first, together: the GUID's header, its bytes
	// (buf, when they fit: one allocation) and the mode.
	guid      string // the current GUID
	mode      ccgw.Mode
	issued    int64 // ms; when guid was minted
	buf       [guidInline]byte
	gen       uint64
	login     int64 // ms
	token     string
	n         uint32 // guid's rotation number; 0: the sign-in's own
	prev      string // the GUID before it
	prevUntil int64  // ms; prev is accepted before it
}

// guidInline is the longest GUID an entry holds in itself: 36 characters, a
// dot and a node name of up to 27.
const guidInline = 64

// setGUID makes g e's current GUID.
func (e *authEntry) setGUID(g string) {
	if len(g) > len(e.buf) || len(g) == 0 {
		e.guid = g
		return
	}
	n := copy(e.buf[:], g)
	e.guid = unsafe.String(&e.buf[0], n)
}

type cacheShard struct {
	mu    sync.RWMutex // guards epoch and the writes of the shard's slots
	epoch uint64       // counts the changes the shard was told of
}

// authCache is the node's cache of auth facts; see above. The entries sit in
// one slot per work number, in pages of slotPage made as agents of them sign
// in (at most 16 MB for every work number), so that a heartbeat finds its
// agent's entry with two loads and no lock, at a million sessions as at a
// thousand; the writes of an agent's entry take its shard's lock, which
// keeps the epochs. The slot also holds the agent's renewal waiting for the
// next tick (the node's batch, flush.go), in the same cache line.
type authCache struct {
	pages  [ccgw.MaxAgentID/slotPage + 1]atomic.Pointer[slotPageOf]
	n      atomic.Int64 // slots in use
	seed   maphash.Seed // of the slots' keys
	shards [cacheShards]cacheShard
}

// slotPage is how many work numbers' slots one page holds.
const slotPage = 4096

type slotPageOf struct {
	renewed atomic.Bool // a slot's dl is set
	slots   [slotPage]agentSlot
}

// agentSlot is one work number's: its cached entry; key, the entry's GUID
// hashed with its mode (quick), 0 while the entry changes; and the latest
// deadline (ms) a heartbeat answered since the last tick took it, 0 for none.
type agentSlot struct {
	e   atomic.Pointer[authEntry]
	key atomic.Uint64
	dl  atomic.Int64
}

func (c *authCache) shard(id ccgw.AgentID) *cacheShard { return &c.shards[uint32(id)%cacheShards] }

// slot returns agent id's slot, making its page if create is set; nil for a
// work number out of range or, without create, on a page not made yet.
func (c *authCache) slot(id ccgw.AgentID, create bool) *agentSlot {
	if pg := c.page(id, create); pg != nil {
		return &pg.slots[id%slotPage]
	}
	return nil
}

func (c *authCache) page(id ccgw.AgentID, create bool) *slotPageOf {
	if id < ccgw.MinAgentID || id > ccgw.MaxAgentID {
		return nil
	}
	pp := &c.pages[id/slotPage]
	pg := pp.Load()
	if pg == nil && create {
		pp.CompareAndSwap(nil, new(slotPageOf))
		pg = pp.Load()
	}
	return pg
}

// renew files deadline dl (ms) for agent id, unless a later one is filed;
// false for a work number out of range.
func (c *authCache) renew(id ccgw.AgentID, dl int64) bool {
	pg := c.page(id, true)
	if pg == nil {
		return false
	}
	pg.renew(&pg.slots[id%slotPage], dl)
	return true
}

// renew files deadline dl (ms) in sl, one of pg's slots.
func (pg *slotPageOf) renew(sl *agentSlot, dl int64) {
	for {
		old := sl.dl.Load()
		if old >= dl || sl.dl.CompareAndSwap(old, dl) {
			break
		}
	}
	if !pg.renewed.Load() {
		pg.renewed.Store(true)
	}
}

// quick is the heartbeat's shortest path, for a static GUID and no token: if
// guid hashes (with the entry's mode) to agent id's slot key, it files the
// renewal the mode's deadline gives and reports true, without reading the
// entry. A 64-bit keyed hash (a seed per process) stands in for the
// comparison: a client that does not know a GUID cannot make one whose hash
// matches it. Any other case is false: the caller reads the entry.
func (c *authCache) quick(id ccgw.AgentID, guid string, deadline func(ccgw.Mode) int64) bool {
	pg := c.page(id, false)
	if pg == nil {
		return false
	}
	sl := &pg.slots[id%slotPage]
	k := sl.key.Load()
	if k == 0 {
		return false
	}
	mode := ccgw.Mode(k & keyModeMask)
	if k != c.keyOf(guid, mode) {
		return false
	}
	if deadline != nil {
		pg.renew(sl, deadline(mode))
	}
	return true
}

// keyModeMask is the bits of a slot key that hold the mode.
const keyModeMask = 3

// keyOf returns the slot key of an entry with GUID g in mode m: never 0.
func (c *authCache) keyOf(g string, m ccgw.Mode) uint64 {
	k := maphash.String(c.seed, g)&^keyModeMask | uint64(m)&keyModeMask
	if k == 0 {
		k = 1 << 2 // 0 means none
	}
	return k
}

// takeRenewals empties the renewal slots into ren (made if nil) and returns
// it, skipping the pages nobody renewed in. A renewal filed meanwhile is
// taken now or by the next call.
func (c *authCache) takeRenewals(ren map[ccgw.AgentID]int64) map[ccgw.AgentID]int64 {
	for i := range c.pages {
		pg := c.pages[i].Load()
		if pg == nil || !pg.renewed.Load() {
			continue
		}
		pg.renewed.Store(false) // before the slots: a renewal after this sets it again
		base := ccgw.AgentID(i * slotPage)
		for j := range pg.slots {
			dl := &pg.slots[j].dl
			if dl.Load() == 0 {
				continue
			}
			if v := dl.Swap(0); v != 0 {
				if ren == nil {
					ren = make(map[ccgw.AgentID]int64)
				}
				ren[base+ccgw.AgentID(j)] = v
			}
		}
	}
	return ren
}

// get returns agent id's entry, or nil.
func (c *authCache) get(id ccgw.AgentID) *authEntry {
	if p := c.slot(id, false); p != nil {
		return p.e.Load()
	}
	return nil
}

// set puts e (nil: none) in p; the shard's lock must be held.
func (c *authCache) set(p *agentSlot, e *authEntry) {
	p.key.Store(0) // no quick answer while the entry changes
	old := p.e.Swap(e)
	if e != nil && e.mode&keyModeMask == e.mode {
		p.key.Store(c.keyOf(e.guid, e.mode))
	}
	switch {
	case old == nil && e != nil:
		c.n.Add(1)
	case old != nil && e == nil:
		c.n.Add(-1)
	}
}

// epoch returns the epoch of id's shard, to pass to fill after reading Redis.
func (c *authCache) epoch(id ccgw.AgentID) uint64 {
	sh := c.shard(id)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.epoch
}

// fill puts e in for id if its shard's epoch is still epoch (nothing it was
// told since may be older than e).
func (c *authCache) fill(id ccgw.AgentID, epoch uint64, e *authEntry) {
	p := c.slot(id, true)
	if p == nil {
		return
	}
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.epoch == epoch {
		c.set(p, e)
	}
}

// replace puts next in for id if old is still there; it reports whether it did.
func (c *authCache) replace(id ccgw.AgentID, old, next *authEntry) bool {
	p := c.slot(id, old == nil)
	if p == nil {
		return false
	}
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if p.e.Load() != old {
		return false
	}
	c.set(p, next)
	sh.epoch++
	return true
}

// drop forgets agent id's entry if it is of sign-in gen (any, if gen is 0).
func (c *authCache) drop(id ccgw.AgentID, gen uint64) {
	sh := c.shard(id)
	sh.mu.Lock()
	if p := c.slot(id, false); p != nil {
		if e := p.e.Load(); e != nil && (gen == 0 || e.gen == gen) {
			c.set(p, nil)
		}
	}
	sh.epoch++
	sh.mu.Unlock()
}

// rotated moves agent id's entry of sign-in gen on to rotation n, minted at
// issued, with the GUID before it accepted until prevUntil; an entry already at
// n or later is left alone.
func (c *authCache) rotated(key []byte, id ccgw.AgentID, gen uint64, n uint32, issued, prevUntil int64) {
	sh := c.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.epoch++
	p := c.slot(id, false)
	if p == nil {
		return
	}
	e := p.e.Load()
	if e == nil || e.gen != gen || e.n >= n {
		return
	}
	c.set(p, e.at(key, id, n, issued, prevUntil))
}

// dropAll forgets every entry.
func (c *authCache) dropAll() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for id := ccgw.AgentID(i); id <= ccgw.MaxAgentID; id += cacheShards {
			if p := c.slot(id, false); p != nil && p.e.Load() != nil {
				c.set(p, nil)
			}
		}
		sh.epoch++
		sh.mu.Unlock()
	}
}

// len returns the number of entries.
func (c *authCache) len() int { return int(c.n.Load()) }

// at returns e moved on to rotation n (n > e.n) of its sign-in, minted at
// issued, the GUID before it accepted until prevUntil.
func (e *authEntry) at(key []byte, id ccgw.AgentID, n uint32, issued, prevUntil int64) *authEntry {
	next := *e
	next.prev = strings.Clone(e.guid) // not into e.buf: an entry must not keep the one before it
	if n-1 != e.n {
		next.prev = deriveGUID(key, id, e, n-1)
	}
	next.setGUID(deriveGUID(key, id, e, n))
	next.n, next.issued, next.prevUntil = n, issued, prevUntil
	return &next
}

// deriveGUID returns rotation n of e's sign-in's GUID (n >= 1), with the
// sign-in GUID's node suffix, so that every node mints the same one.
func deriveGUID(key []byte, id ccgw.AgentID, e *authEntry, n uint32) string {
	return guid.Derive(key, id, e.gen, e.login, n, nodeOf(e.guid))
}

// nodeOf returns the node suffix a GUID carries, or "" if it has none.
func nodeOf(g string) string {
	node, _ := guid.Node(g)
	return node
}

// entryOf returns the auth facts of sess as Redis stores it.
func entryOf(key []byte, sess *ccgw.Session) *authEntry {
	e := &authEntry{gen: sess.Gen, login: sess.LoginTime, mode: sess.Mode, token: sess.ServiceToken,
		prev: sess.PrevGUID, prevUntil: sess.PrevUntil, issued: sess.GUIDIssued}
	e.setGUID(sess.GUID)
	if n, ok := guid.Derived(key, sess.Agent, sess.Gen, sess.LoginTime, sess.GUID); ok {
		e.n = n
	}
	return e
}

// Cached reports whether this node answers heartbeats from its cache: Run
// watches the store's auth changes, and the store answers.
func (s *Service) Cached() bool { return s.cacheUsable() }

// cacheUsable reports whether heartbeats may be answered from the cache.
func (s *Service) cacheUsable() bool { return s.cacheOn.Load() && s.ready.Load() }

// fill caches the auth facts of sess, read from Redis when id's shard was at
// epoch.
func (s *Service) fill(epoch uint64, sess *ccgw.Session) {
	key := s.guidKey.Load()
	if key == nil || !s.cacheUsable() {
		return
	}
	s.cache.fill(sess.Agent, epoch, entryOf(*key, sess))
}

// watchAuth keeps the cache coherent until ctx ends: it subscribes to the
// invalidations, applies them, and drops the whole cache whenever the
// subscription is lost (a change may have been missed).
func (s *Service) watchAuth(ctx context.Context) {
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx)
		s.authStop.Store(&cancel)
		err := s.db.WatchAuth(sctx, func() {
			s.cache.dropAll()
			s.cacheOn.Store(true)
			s.authSubs.Add(1)
		}, s.applyAuth)
		cancel()
		if s.cacheOn.Swap(false) && ctx.Err() == nil {
			s.cfg.Log.Warn("auth cache off: invalidations' subscription lost", "err", err)
		}
		s.cache.dropAll()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // reconnect pacing, not synchronisation
		}
	}
}

// resetAuth turns the cache off and restarts the invalidations' subscription
// (after the store was unreachable: it may have missed changes).
func (s *Service) resetAuth() {
	s.cacheOn.Store(false)
	s.cache.dropAll()
	if stop := s.authStop.Load(); stop != nil {
		(*stop)()
	}
}

// applyAuth applies one change of a session's auth facts.
func (s *Service) applyAuth(c ccgw.SharedAuthChange) {
	key := s.guidKey.Load()
	if !c.Rotated || key == nil {
		s.cache.drop(c.ID, c.Gen)
		return
	}
	s.cache.rotated(*key, c.ID, c.Gen, c.N, c.Issued, c.PrevUntil)
}
