package mem

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// Shared is a ccgw.SharedStore in memory: the storage of a cluster whose nodes
// all live in one process, for tests and benchmarks of internal/cluster
// without Redis. It keeps the same records, indexes and counters as the Redis
// store and answers every primitive alike (sharedtest checks both), except
// that nothing expires by itself: a tombstone ends only at a Tick, as it
// does on Redis while any node sweeps. It is safe for concurrent use; every
// primitive is atomic under one lock, as a Redis script is.
type Shared struct {
	// Now is the time of push claims' leases (the only wall-clock time the
	// store keeps itself, as Redis's own clock does); time.Now if nil.
	Now func() time.Time

	mu      sync.Mutex
	recs    map[ccgw.AgentID]string
	tombs   map[ccgw.AgentID]string
	tombEnd map[ccgw.AgentID]int64
	dl      map[ccgw.AgentID]int64 // deadlines, less off
	dlc     map[ccgw.AgentID]int64 // claimed for expiry, when
	sim     map[ccgw.AgentID]bool
	live    map[ccgw.AgentID]bool
	skills  map[int]map[ccgw.AgentID]bool
	q, tq   map[ccgw.AgentID][]ccgw.Event
	seq     map[ccgw.AgentID]uint64
	pending map[ccgw.AgentID]bool
	claims  map[ccgw.AgentID]pushClaim
	rests   map[ccgw.SharedRest]int64
	off     int64 // the epoch offset: a deadline D is kept as D - off
	swept   int64 // the last tick's now; 0 before any
	key     []byte
	counts  ccgw.SessionStats

	feed        []ccgw.SharedChange
	feedN       uint64        // the number of the last change recorded
	feedTrimmed uint64        // the number of the last change forgotten
	feedGrew    chan struct{} // closed (and replaced) when a change is recorded

	subs map[*watcher]bool
}

type pushClaim struct {
	node  string
	until time.Time
}

// feedLen is about how many changes the feed keeps, as on Redis.
const feedLen = 10000

// watchBuffer is how many notifications a watcher may fall behind by before
// its subscription is lost (Redis drops a subscriber that reads too slowly).
const watchBuffer = 1 << 14

// watcher is one subscription to the events' or the auth changes' channel.
type watcher struct {
	auth bool
	ch   chan ccgw.SharedAuthChange // for events, only ID is set
	lost chan struct{}              // closed when it fell too far behind
}

var _ ccgw.SharedStore = (*Shared)(nil)

// NewShared returns an empty Shared.
func NewShared() *Shared {
	s := &Shared{
		recs: map[ccgw.AgentID]string{}, tombs: map[ccgw.AgentID]string{}, tombEnd: map[ccgw.AgentID]int64{},
		dl: map[ccgw.AgentID]int64{}, dlc: map[ccgw.AgentID]int64{}, sim: map[ccgw.AgentID]bool{},
		live: map[ccgw.AgentID]bool{}, skills: map[int]map[ccgw.AgentID]bool{},
		q: map[ccgw.AgentID][]ccgw.Event{}, tq: map[ccgw.AgentID][]ccgw.Event{}, seq: map[ccgw.AgentID]uint64{},
		pending: map[ccgw.AgentID]bool{}, claims: map[ccgw.AgentID]pushClaim{}, rests: map[ccgw.SharedRest]int64{},
		feedGrew: make(chan struct{}), subs: map[*watcher]bool{},
	}
	s.counts.SignOuts = map[ccgw.SignOutCause]uint64{}
	s.counts.Drops = map[ccgw.DropReason]uint64{}
	return s
}

// recFacts is what the store reads of a session record.
type recFacts struct {
	Gen    uint64    `json:"gen"`
	Skills []int     `json:"skills"`
	Mode   ccgw.Mode `json:"mode"`
}

func factsOf(raw string) recFacts {
	var f recFacts
	json.Unmarshal([]byte(raw), &f)
	return f
}

// tombGen returns the sign-in a tombstone record is of.
func tombGen(raw string) uint64 {
	var t struct {
		Gen uint64 `json:"gen,string"`
	}
	json.Unmarshal([]byte(raw), &t)
	return t.Gen
}

// Ping implements ccgw.SharedStore.
func (s *Shared) Ping(context.Context) error { return nil }

// GUIDKey implements ccgw.SharedStore.
func (s *Shared) GUIDKey(_ context.Context, fresh []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == nil {
		s.key = slices.Clone(fresh)
	}
	return slices.Clone(s.key), nil
}

// Get implements ccgw.SharedStore.
func (s *Shared) Get(_ context.Context, id ccgw.AgentID) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.recs[id]
	if !ok {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return rec, nil
}

// Read implements ccgw.SharedStore.
func (s *Shared) Read(_ context.Context, id ccgw.AgentID) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[id], s.tombs[id], nil
}

// Records implements ccgw.SharedStore.
func (s *Shared) Records(_ context.Context, ids []ccgw.AgentID) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.recs[id]
	}
	return out, nil
}

// SignIn implements ccgw.SharedStore.
func (s *Shared) SignIn(_ context.Context, w ccgw.SharedSignIn) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, had := s.recs[w.ID]
	if had {
		if w.Expect == 0 || factsOf(old).Gen != w.Expect {
			if !w.Force {
				return "", &ccgw.Error{Code: ccgw.RetAlreadySignedIn}
			}
			return "", ccgw.ErrChanged
		}
		s.finish(w.ID, old, ccgw.CauseReplaced, w.Replaced)
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Expect})
	}
	s.recs[w.ID] = w.Record
	s.live[w.ID] = true
	if w.Simulated {
		s.sim[w.ID] = true
	} else {
		s.dl[w.ID] = w.Deadline - s.off
	}
	delete(s.q, w.ID)
	delete(s.seq, w.ID)
	for _, sk := range w.Skills {
		s.addSkill(sk, w.ID)
	}
	for _, ev := range w.Events {
		s.push(w.ID, ev, w.QueueMax, w.Push)
	}
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeStored, Record: w.Record})
	s.counts.SignIns++
	return old, nil
}

// Update implements ccgw.SharedStore.
func (s *Shared) Update(_ context.Context, w ccgw.SharedUpdate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[w.ID]
	if !ok {
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if cur != w.Expect {
		return ccgw.ErrChanged
	}
	s.recs[w.ID] = w.Record
	for _, sk := range w.SkillsOff {
		delete(s.skills[sk], w.ID)
	}
	for _, sk := range w.SkillsOn {
		s.addSkill(sk, w.ID)
	}
	if w.AuthChanged {
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: factsOf(cur).Gen})
	}
	for _, ev := range w.Events {
		s.push(w.ID, ev, w.QueueMax, w.Push)
	}
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeStored, Record: w.Record})
	return nil
}

// End implements ccgw.SharedStore.
func (s *Shared) End(_ context.Context, w ccgw.SharedEnd) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.recs[w.ID]
	if !ok || factsOf(raw).Gen != w.Gen {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if w.Expect != "" && raw != w.Expect {
		return "", ccgw.ErrChanged
	}
	s.finish(w.ID, raw, w.Cause, w.Ending)
	s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Gen})
	return raw, nil
}

// Expire implements ccgw.SharedStore.
func (s *Shared) Expire(_ context.Context, ends []ccgw.SharedEnd) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ended []string
	for _, w := range ends {
		raw, ok := s.recs[w.ID]
		if !ok || factsOf(raw).Gen != w.Gen {
			continue
		}
		s.finish(w.ID, raw, ccgw.CauseTimeout, w.Ending)
		ended = append(ended, raw)
		s.counts.Expiries++
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Gen})
	}
	return ended, nil
}

// finish ends session raw of agent id for cause as e says (the Redis store's
// finish): out of every index, its events dropped for e.Drop, then with a
// shutdown event that event queued last and the queue kept for the old GUID,
// else the queue discarded; the tombstone kept until e.TombEnd.
func (s *Shared) finish(id ccgw.AgentID, raw string, cause ccgw.SignOutCause, e ccgw.SharedEnding) {
	f := factsOf(raw)
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeEnded, Record: raw})
	delete(s.recs, id)
	delete(s.live, id)
	delete(s.dl, id)
	delete(s.dlc, id)
	delete(s.sim, id)
	for _, sk := range f.Skills {
		delete(s.skills[sk], id)
	}
	s.counts.SignOuts[cause]++
	if e.Drop != "" {
		if n := len(s.q[id]); n > 0 {
			s.counts.Drops[e.Drop] += uint64(n)
		}
		delete(s.q, id)
	}
	s.tombs[id], s.tombEnd[id] = e.Tomb, e.TombEnd
	if e.Shutdown == nil || e.QueueMax < 0 {
		if e.Shutdown != nil {
			s.push(id, *e.Shutdown, -1, false) // a simulated agent's: the feed only
		}
		delete(s.q, id)
		delete(s.seq, id)
		delete(s.tq, id)
		delete(s.pending, id)
		s.publish(false, ccgw.SharedAuthChange{ID: id}) // held polls see the end
		return
	}
	s.push(id, *e.Shutdown, e.QueueMax+1, f.Mode == ccgw.ModePush)
	if n := len(s.tq[id]); n > 0 {
		s.counts.Drops[ccgw.DropSessionEnded] += uint64(n)
	}
	delete(s.tq, id)
	if q := s.q[id]; len(q) > 0 {
		s.tq[id] = q
	}
	delete(s.q, id)
	delete(s.seq, id)
}

// push queues ev for agent id with its next seq, bounded by qmax (the oldest
// dropped and counted), and records it in the feed; with qmax below 0 it only
// records it. A dropped one takes its seq and is recorded, and counted as
// dropped instead of queued.
func (s *Shared) push(id ccgw.AgentID, ev ccgw.SharedEvent, qmax int, pushMode bool) {
	s.seq[id]++
	e := ev.Event
	e.Seq = s.seq[id]
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeQueued, Event: e})
	if qmax < 0 {
		return
	}
	s.counts.Queued++
	if ev.Dropped {
		s.counts.Drops[ccgw.DropFault]++
		return
	}
	q := append(s.q[id], e)
	if n := len(q); n > qmax {
		s.counts.Drops[ccgw.DropQueueFull] += uint64(n - qmax)
		q = slices.Delete(q, 0, n-qmax)
	}
	s.q[id] = q
	if pushMode {
		s.pending[id] = true
	}
	s.publish(false, ccgw.SharedAuthChange{ID: id})
}

func (s *Shared) addSkill(sk int, id ccgw.AgentID) {
	m := s.skills[sk]
	if m == nil {
		m = map[ccgw.AgentID]bool{}
		s.skills[sk] = m
	}
	m[id] = true
}

// dropped tells the auth watchers that sign-ins' auth facts changed.
func (s *Shared) dropped(cs ...ccgw.SharedAuthChange) {
	for _, c := range cs {
		s.publish(true, c)
	}
}

// publish sends c to every watcher of the auth changes (auth) or of the
// events. A watcher too far behind loses its subscription.
func (s *Shared) publish(auth bool, c ccgw.SharedAuthChange) {
	for w := range s.subs {
		if w.auth != auth {
			continue
		}
		select {
		case w.ch <- c:
		default:
			close(w.lost)
			delete(s.subs, w)
		}
	}
}

// record appends c to the feed.
func (s *Shared) record(c ccgw.SharedChange) {
	s.feedN++
	c.ID = feedID(s.feedN)
	s.feed = append(s.feed, c)
	if len(s.feed) > feedLen+feedLen/10 {
		cut := len(s.feed) - feedLen
		s.feedTrimmed = s.feedN - uint64(feedLen) // the last forgotten
		s.feed = slices.Delete(s.feed, 0, cut)
	}
	close(s.feedGrew)
	s.feedGrew = make(chan struct{})
}

func feedID(n uint64) string { return strconv.FormatUint(n, 10) + "-0" }

// feedNum returns the number of change ID id ("0-0": 0).
func feedNum(id string) uint64 {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(ms, 10, 64)
	return n
}

// Tick implements ccgw.SharedStore.
func (s *Shared) Tick(_ context.Context, t ccgw.SharedTick) (ccgw.SharedTicked, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// The catch-up after an outage: every deadline moves on by the gap.
	if s.swept != 0 && t.Now-s.swept > t.Grace.Milliseconds() {
		s.off += t.Now - s.swept
	}
	s.swept = max(s.swept, t.Now)
	for id, dl := range t.Renewals {
		if cur, ok := s.dl[id]; ok && dl-s.off > cur {
			s.dl[id] = dl - s.off
		}
	}
	var out ccgw.SharedTicked
	out.Conflicts = s.rotate(t.Rotations)
	if t.Limit > 0 {
		for _, id := range due(s.dl, t.Now-s.off-t.Claim.Milliseconds(), t.Limit) {
			dl := s.dl[id]
			delete(s.dl, id)
			if rec, ok := s.recs[id]; ok {
				s.dlc[id] = t.Now
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: rec, Deadline: dl + s.off})
			}
		}
		if left := t.Limit - len(out.Claimed); left > 0 {
			for _, id := range due(s.dlc, t.Now-t.Lease.Milliseconds(), left) {
				rec, ok := s.recs[id]
				if !ok {
					delete(s.dlc, id)
					continue
				}
				out.Claimed = append(out.Claimed, ccgw.SharedClaim{Record: rec, Deadline: s.dlc[id]})
				s.dlc[id] = t.Now
			}
		}
	}
	if t.RestLimit > 0 {
		for _, r := range due(s.rests, t.Now, t.RestLimit) {
			delete(s.rests, r)
			out.Rests = append(out.Rests, r)
		}
		for _, id := range due(s.tombEnd, t.Now, min(t.RestLimit, 1000)) {
			if n := len(s.tq[id]); n > 0 {
				s.counts.Drops[ccgw.DropSessionEnded] += uint64(n)
			}
			delete(s.tq, id)
			delete(s.tombs, id)
			delete(s.tombEnd, id)
		}
	}
	if t.Pending {
		for id := range s.pending {
			out.Pending = append(out.Pending, id)
		}
	}
	return out, nil
}

// due returns up to limit keys of set scored at most upTo, lowest score first
// (ties in the order of their decimal strings, as a Redis sorted set).
func due[K comparable](set map[K]int64, upTo int64, limit int) []K {
	var out []K
	for k, v := range set {
		if v <= upTo {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b K) int {
		return cmp.Or(cmp.Compare(set[a], set[b]), strings.Compare(memberOf(a), memberOf(b)))
	})
	return out[:min(limit, len(out))]
}

// memberOf returns k as the Redis store names it in a sorted set.
func memberOf[K comparable](k K) string {
	switch k := any(k).(type) {
	case ccgw.AgentID:
		return k.String()
	case ccgw.SharedRest:
		return k.ID.String() + ":" + strconv.FormatUint(k.RestSeq, 10)
	}
	return ""
}

// Rotate implements ccgw.SharedStore.
func (s *Shared) Rotate(_ context.Context, rots []ccgw.SharedRotation) ([]ccgw.AgentID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rotate(rots), nil
}

// rotate applies rotation records: one whose sign-in is stored with GUID
// Expect moves it on; one whose GUID is Next already is done; any other of a
// stored sign-in is a conflict.
func (s *Shared) rotate(rots []ccgw.SharedRotation) []ccgw.AgentID {
	var conflicts []ccgw.AgentID
	for _, r := range rots {
		raw, ok := s.recs[r.ID]
		if !ok || factsOf(raw).Gen != r.Gen {
			continue
		}
		var sess ccgw.Session
		if json.Unmarshal([]byte(raw), &sess) != nil {
			continue
		}
		switch sess.GUID {
		case r.Next:
		case r.Expect:
			sess.GUID, sess.GUIDIssued, sess.PrevGUID, sess.PrevUntil = r.Next, r.Issued, r.Prev, r.PrevUntil
			b, err := json.Marshal(&sess)
			if err != nil {
				continue
			}
			s.recs[r.ID] = string(b)
			s.dropped(ccgw.SharedAuthChange{ID: r.ID, Gen: r.Gen, Rotated: true, N: r.N, Issued: r.Issued, PrevUntil: r.PrevUntil})
		default:
			conflicts = append(conflicts, r.ID)
		}
	}
	return conflicts
}

// FileRest implements ccgw.SharedStore.
func (s *Shared) FileRest(_ context.Context, id ccgw.AgentID, restSeq uint64, until int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rests[ccgw.SharedRest{ID: id, RestSeq: restSeq}] = until
	return nil
}

// Pop implements ccgw.SharedStore.
func (s *Shared) Pop(_ context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, ok := s.recs[id]
	if !ok || factsOf(raw).Gen != gen {
		return nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return popFrom(s.q, id), nil
}

// PopTomb implements ccgw.SharedStore.
func (s *Shared) PopTomb(_ context.Context, id ccgw.AgentID, gen uint64) (*ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tombs[id]
	if !ok || tombGen(t) != gen {
		return nil, nil
	}
	return popFrom(s.tq, id), nil
}

func popFrom(qs map[ccgw.AgentID][]ccgw.Event, id ccgw.AgentID) *ccgw.Event {
	q := qs[id]
	if len(q) == 0 {
		return nil
	}
	ev := q[0]
	if len(q) == 1 {
		delete(qs, id)
	} else {
		qs[id] = q[1:]
	}
	return &ev
}

func (s *Shared) queue(tomb bool) map[ccgw.AgentID][]ccgw.Event {
	if tomb {
		return s.tq
	}
	return s.q
}

// Peek implements ccgw.SharedStore.
func (s *Shared) Peek(_ context.Context, id ccgw.AgentID, tomb bool, limit int) ([]ccgw.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue(tomb)[id]
	return slices.Clone(q[:min(max(limit, 0), len(q))]), nil
}

// Queued implements ccgw.SharedStore.
func (s *Shared) Queued(_ context.Context, id ccgw.AgentID, tomb bool) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue(tomb)[id]), nil
}

// Ack implements ccgw.SharedStore.
func (s *Shared) Ack(_ context.Context, id ccgw.AgentID, tomb bool, seq uint64, reason ccgw.DropReason) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	qs := s.queue(tomb)
	q := qs[id]
	n := 0
	for n < len(q) && q[n].Seq <= seq {
		n++
	}
	if len(q) == n {
		delete(qs, id)
		delete(s.pending, id)
	} else {
		qs[id] = q[n:]
	}
	if reason != "" && n > 0 {
		s.counts.Drops[reason] += uint64(n)
	}
	return n, nil
}

func (s *Shared) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ClaimPush implements ccgw.SharedStore.
func (s *Shared) ClaimPush(_ context.Context, id ccgw.AgentID, node string, lease time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if c, ok := s.claims[id]; ok && c.node != node && now.Before(c.until) {
		return false, nil
	}
	s.claims[id] = pushClaim{node: node, until: now.Add(lease)}
	return true, nil
}

// ReleasePush implements ccgw.SharedStore.
func (s *Shared) ReleasePush(_ context.Context, id ccgw.AgentID, node string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claims[id].node == node {
		delete(s.claims, id)
	}
	return nil
}

// SkillMembers implements ccgw.SharedStore.
func (s *Shared) SkillMembers(_ context.Context, skill int) ([]ccgw.AgentID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ccgw.AgentID, 0, len(s.skills[skill]))
	for id := range s.skills[skill] {
		out = append(out, id)
	}
	return out, nil
}

// Live implements ccgw.SharedStore.
func (s *Shared) Live(_ context.Context, after ccgw.AgentID, limit int) ([]ccgw.SharedLive, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []ccgw.AgentID
	for id := range s.live {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	more := len(ids) > limit
	ids = ids[:min(limit, len(ids))]
	out := make([]ccgw.SharedLive, 0, len(ids))
	for _, id := range ids {
		l := ccgw.SharedLive{Record: s.recs[id], Queued: len(s.q[id])}
		if dl, ok := s.dl[id]; ok {
			l.Deadline = dl + s.off
		}
		out = append(out, l)
	}
	return out, more, nil
}

// Clients implements ccgw.SharedStore.
func (s *Shared) Clients(context.Context) ([]ccgw.AgentID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ccgw.AgentID
	for id := range s.live {
		if !s.sim[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Prepare implements ccgw.SharedStore: there is no earlier layout in memory.
func (s *Shared) Prepare(context.Context) error { return nil }

// Counts implements ccgw.SharedStore.
func (s *Shared) Counts(context.Context) (ccgw.SessionStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counts
	c.Live = len(s.dl) + len(s.dlc) + len(s.sim)
	c.SignOuts = maps.Clone(c.SignOuts)
	c.Drops = maps.Clone(c.Drops)
	return c, nil
}

// FeedEnd implements ccgw.SharedStore.
func (s *Shared) FeedEnd(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return feedID(s.feedN), nil
}

// FeedRead implements ccgw.SharedStore.
func (s *Shared) FeedRead(ctx context.Context, after string, limit int, block time.Duration) ([]ccgw.SharedChange, error) {
	n := feedNum(after)
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		first := 0 // the index of the change numbered n+1
		if len(s.feed) > 0 {
			first = int(int64(n) + 1 - int64(feedNum(s.feed[0].ID)))
		}
		first = max(first, 0)
		if first < len(s.feed) {
			out := slices.Clone(s.feed[first:min(first+limit, len(s.feed))])
			s.mu.Unlock()
			return out, nil
		}
		grew := s.feedGrew
		s.mu.Unlock()
		if block <= 0 {
			return nil, nil
		}
		if timeout == nil {
			t := time.NewTimer(block)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-grew:
		case <-timeout:
			return nil, nil
		case <-ctx.Done():
			return nil, &ccgw.Error{Code: ccgw.RetInternal, Err: ctx.Err()}
		}
	}
}

// FeedTrimmed implements ccgw.SharedStore.
func (s *Shared) FeedTrimmed(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.feedTrimmed == 0 {
		return "", nil
	}
	return feedID(s.feedTrimmed), nil
}

// WatchEvents implements ccgw.SharedStore.
func (s *Shared) WatchEvents(ctx context.Context, subscribed func(), wake func(ccgw.AgentID)) error {
	return s.watch(ctx, false, subscribed, func(c ccgw.SharedAuthChange) { wake(c.ID) })
}

// WatchAuth implements ccgw.SharedStore.
func (s *Shared) WatchAuth(ctx context.Context, subscribed func(), changed func(ccgw.SharedAuthChange)) error {
	return s.watch(ctx, true, subscribed, changed)
}

// errLost is a watch's end when it fell too far behind.
var errLost = &ccgw.Error{Code: ccgw.RetInternal, Err: errors.New("mem: a watcher fell too far behind")}

func (s *Shared) watch(ctx context.Context, auth bool, subscribed func(), fn func(ccgw.SharedAuthChange)) error {
	w := &watcher{auth: auth, ch: make(chan ccgw.SharedAuthChange, watchBuffer), lost: make(chan struct{})}
	s.mu.Lock()
	s.subs[w] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, w)
		s.mu.Unlock()
	}()
	subscribed()
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-w.ch:
			fn(c)
		case <-w.lost:
			for {
				select { // what it was sent before it fell behind
				case c := <-w.ch:
					fn(c)
				default:
					return errLost
				}
			}
		}
	}
}
