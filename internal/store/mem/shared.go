package mem

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/pick"
)

// Shared is a ccgw.SharedStore in memory: one node's sessions (kept in a
// ccgw.SharedLog with OpenShared, or in memory only), and the storage of a
// cluster whose nodes all live in one process, for tests and benchmarks of
// internal/session without Redis. It keeps the same records, indexes and counters as the Redis
// store and answers every primitive alike (sharedtest checks both), except
// that nothing expires by itself: a tombstone ends only at a Tick, as it
// does on Redis while any node sweeps. It is safe for concurrent use; every
// primitive is atomic under one lock, as a Redis script is.
type Shared struct {
	// Now is the time of push claims' leases (the only wall-clock time the
	// store keeps itself, as Redis's own clock does); time.Now if nil.
	Now func() time.Time

	mu      sync.Mutex
	recs    map[ccgw.AgentID]rec
	tombs   map[ccgw.AgentID]string
	tombEnd scores[ccgw.AgentID]
	dl      scores[ccgw.AgentID] // deadlines, less off
	dlc     scores[ccgw.AgentID] // claimed for expiry, when
	sim     map[ccgw.AgentID]bool
	skills  map[int]map[ccgw.AgentID]bool
	q, tq   map[ccgw.AgentID][]ccgw.Event
	seq     map[ccgw.AgentID]uint64
	pending map[ccgw.AgentID]bool
	claims  map[ccgw.AgentID]pushClaim
	rests   scores[ccgw.SharedRest]
	off     int64 // the epoch offset: a deadline D is kept as D - off
	swept   int64 // the last tick's now; 0 before any
	key     []byte
	counts  ccgw.SessionStats

	feed        []ccgw.SharedChange
	feedN       uint64        // the number of the last change recorded
	feedTrimmed uint64        // the number of the last change forgotten
	feedGrew    chan struct{} // closed (and replaced) when a change is recorded

	subs map[*watcher]bool

	committer // shared_log.go
}

var _ ccgw.SharedStore = (*Shared)(nil)

// NewShared returns an empty Shared.
func NewShared() *Shared {
	s := &Shared{
		recs: map[ccgw.AgentID]rec{}, tombs: map[ccgw.AgentID]string{}, sim: map[ccgw.AgentID]bool{},
		skills: map[int]map[ccgw.AgentID]bool{},
		q:      map[ccgw.AgentID][]ccgw.Event{}, tq: map[ccgw.AgentID][]ccgw.Event{}, seq: map[ccgw.AgentID]uint64{},
		pending: map[ccgw.AgentID]bool{}, claims: map[ccgw.AgentID]pushClaim{},
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

// rec is a stored session record with the facts every check reads of it.
// The record is kept in ccgw's binary form, a third of the JSON's size, when
// that gives the same JSON back (every record internal/session writes); else
// as written. raw gives the JSON.
type rec struct {
	data string
	gen  uint64
	// dl is the session's deadline (ms, less the catch-up offset), 0 for a
	// simulated one. The deadline heap files it no later than dl: a renewal
	// moves dl alone, and a tick that finds the filed score passed but dl
	// not files it again at dl, so that a heartbeat costs no heap update.
	dl   int64
	push bool
}

// packRecord returns record raw as kept, and the session it holds (nil if
// raw is not a session's JSON).
func packRecord(raw string) (rec, *ccgw.Session) {
	sess := new(ccgw.Session)
	if json.Unmarshal([]byte(raw), sess) != nil {
		f := factsOf(raw)
		return rec{data: raw, gen: f.Gen, push: f.Mode == ccgw.ModePush}, nil
	}
	r := rec{data: raw, gen: sess.Gen, push: sess.Mode == ccgw.ModePush}
	if back, err := json.Marshal(sess); err == nil && string(back) == raw {
		b, _ := sess.AppendBinary(nil)
		r.data = string(b)
	}
	return r, sess
}

// packSession returns sess as kept.
func packSession(sess *ccgw.Session) rec {
	b, _ := sess.AppendBinary(nil)
	return rec{data: string(b), gen: sess.Gen, push: sess.Mode == ccgw.ModePush}
}

// raw returns the record as written: JSON ("" for none).
func (r rec) raw() string {
	if r.data == "" || r.data[0] != '\x01' {
		return r.data
	}
	sess, ok := r.session()
	if !ok {
		return ""
	}
	b, _ := json.Marshal(&sess)
	return string(b)
}

// facts returns what the store reads of the record (from the binary form:
// no JSON).
func (r rec) facts() recFacts {
	if r.data == "" || r.data[0] != '\x01' {
		return factsOf(r.data)
	}
	sess, _ := r.session()
	return recFacts{Gen: sess.Gen, Skills: sess.Skills, Mode: sess.Mode}
}

// session returns the session the record holds.
func (r rec) session() (ccgw.Session, bool) {
	var sess ccgw.Session
	if r.data != "" && r.data[0] == '\x01' {
		return sess, sess.UnmarshalBinary([]byte(r.data)) == nil
	}
	return sess, json.Unmarshal([]byte(r.data), &sess) == nil
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
	r, ok := s.recs[id]
	if !ok {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return r.raw(), nil
}

// Read implements ccgw.SharedStore.
func (s *Shared) Read(_ context.Context, id ccgw.AgentID) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.recs[id].raw(), s.tombs[id], nil
}

// Records implements ccgw.SharedStore.
func (s *Shared) Records(_ context.Context, ids []ccgw.AgentID) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.recs[id].raw()
	}
	return out, nil
}

// SignIn implements ccgw.SharedStore. Kept in a log, it fails with
// RetInternal, and stores nothing, if the sign-in could not be committed.
func (s *Shared) SignIn(_ context.Context, w ccgw.SharedSignIn) (string, error) {
	nr, sess := packRecord(w.Record) // before the lock: it decodes
	old, b, err := s.signIn(w, nr, sess)
	if err != nil {
		return "", err
	}
	if err := s.await(b); err != nil {
		s.undoSignIn(w)
		return "", &ccgw.Error{Code: ccgw.RetInternal, Err: err}
	}
	return old, nil
}

func (s *Shared) signIn(w ccgw.SharedSignIn, nr rec, sess *ccgw.Session) (string, *batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b *batch
	oldRec, had := s.recs[w.ID]
	old := oldRec.raw()
	if had {
		if w.Expect == 0 || oldRec.gen != w.Expect {
			if !w.Force {
				return "", nil, &ccgw.Error{Code: ccgw.RetAlreadySignedIn}
			}
			return "", nil, ccgw.ErrChanged
		}
		if !s.sim[w.ID] {
			b = s.logOp(ccgw.LogOp{Ref: ccgw.SessionRef{Agent: w.ID, Gen: w.Expect}, Delete: true})
		}
		s.finish(w.ID, oldRec, old, ccgw.CauseReplaced, w.Replaced)
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Expect})
	}
	if w.Simulated {
		s.sim[w.ID] = true
	} else {
		nr.dl = w.Deadline - s.off
		s.dl.set(w.ID, nr.dl)
	}
	s.recs[w.ID] = nr
	delete(s.q, w.ID)
	delete(s.seq, w.ID)
	for _, sk := range w.Skills {
		s.addSkill(sk, w.ID)
	}
	evs := s.pushAll(w.ID, w.Events, w.QueueMax, w.Push)
	if !w.Simulated {
		if lb := s.logPut(w.ID, sess, evs); lb != nil {
			b = lb
		}
	}
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeStored, Record: w.Record})
	s.counts.SignIns++
	return old, b, nil
}

// undoSignIn takes back sign-in w, which could not be committed, if it is
// still stored: the agent is signed out again, as if it had never signed in.
func (s *Shared) undoSignIn(w ccgw.SharedSignIn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.recs[w.ID].raw() != w.Record {
		return
	}
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeEnded, Record: w.Record})
	delete(s.recs, w.ID)
	s.dl.del(w.ID)
	s.dlc.del(w.ID)
	delete(s.sim, w.ID)
	for _, sk := range w.Skills {
		delete(s.skills[sk], w.ID)
	}
	delete(s.q, w.ID)
	delete(s.seq, w.ID)
	delete(s.pending, w.ID)
	s.counts.SignIns--
	s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: factsOf(w.Record).Gen})
	s.publish(false, ccgw.SharedAuthChange{ID: w.ID})
}

// Update implements ccgw.SharedStore. Kept in a log, it does not wait for
// the commit: Sync does.
func (s *Shared) Update(_ context.Context, w ccgw.SharedUpdate) error {
	nr, sess := packRecord(w.Record) // before the lock: it decodes
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.recs[w.ID]
	if !ok {
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if cur.raw() != w.Expect {
		return ccgw.ErrChanged
	}
	nr.dl = cur.dl
	s.recs[w.ID] = nr
	for _, sk := range w.SkillsOff {
		delete(s.skills[sk], w.ID)
	}
	for _, sk := range w.SkillsOn {
		s.addSkill(sk, w.ID)
	}
	if w.AuthChanged {
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: cur.gen})
	}
	evs := s.pushAll(w.ID, w.Events, w.QueueMax, w.Push)
	if !s.sim[w.ID] {
		s.logPut(w.ID, sess, evs)
	}
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeStored, Record: w.Record})
	return nil
}

// End implements ccgw.SharedStore.
func (s *Shared) End(_ context.Context, w ccgw.SharedEnd) (string, error) {
	raw, b, err := s.end(w)
	s.await(b)
	return raw, err
}

func (s *Shared) end(w ccgw.SharedEnd) (string, *batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[w.ID]
	raw := r.raw()
	if !ok || r.gen != w.Gen {
		return "", nil, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if w.Expect != "" && raw != w.Expect {
		return "", nil, ccgw.ErrChanged
	}
	b := s.logEnd(w.ID, w.Gen)
	s.finish(w.ID, r, raw, w.Cause, w.Ending)
	s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Gen})
	return raw, b, nil
}

// Expire implements ccgw.SharedStore. Kept in a log, all its sign-outs are
// committed at once.
func (s *Shared) Expire(_ context.Context, ends []ccgw.SharedEnd) ([]string, error) {
	ended, b := s.expire(ends)
	s.await(b)
	return ended, nil
}

func (s *Shared) expire(ends []ccgw.SharedEnd) ([]string, *batch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ended []string
	var b *batch
	for _, w := range ends {
		r, ok := s.recs[w.ID]
		if !ok || r.gen != w.Gen {
			continue
		}
		raw := r.raw()
		if lb := s.logEnd(w.ID, w.Gen); lb != nil {
			b = lb
		}
		s.finish(w.ID, r, raw, ccgw.CauseTimeout, w.Ending)
		ended = append(ended, raw)
		s.counts.Expiries++
		s.dropped(ccgw.SharedAuthChange{ID: w.ID, Gen: w.Gen})
	}
	return ended, b
}

// finish ends session raw of agent id for cause as e says (the Redis store's
// finish): out of every index, its events dropped for e.Drop, then with a
// shutdown event that event queued last and the queue kept for the old GUID,
// else the queue discarded; the tombstone kept until e.TombEnd.
func (s *Shared) finish(id ccgw.AgentID, r rec, raw string, cause ccgw.SignOutCause, e ccgw.SharedEnding) {
	f := r.facts()
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeEnded, Record: raw})
	delete(s.recs, id)
	s.dl.del(id)
	s.dlc.del(id)
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
	s.tombs[id] = e.Tomb
	s.tombEnd.set(id, e.TombEnd)
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
// dropped instead of queued. It returns the event and whether it was queued.
func (s *Shared) push(id ccgw.AgentID, ev ccgw.SharedEvent, qmax int, pushMode bool) (ccgw.Event, bool) {
	s.seq[id]++
	e := ev.Event
	e.Seq = s.seq[id]
	s.record(ccgw.SharedChange{Kind: ccgw.ChangeQueued, Event: e})
	if qmax < 0 {
		return e, false
	}
	s.counts.Queued++
	if ev.Dropped {
		s.counts.Drops[ccgw.DropFault]++
		return e, false
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
	return e, true
}

// pushAll pushes evs as push does and, kept in a log, returns those queued.
func (s *Shared) pushAll(id ccgw.AgentID, evs []ccgw.SharedEvent, qmax int, pushMode bool) []ccgw.Event {
	var queued []ccgw.Event
	for _, ev := range evs {
		if e, ok := s.push(id, ev, qmax, pushMode); ok && s.log != nil {
			queued = append(queued, e)
		}
	}
	return queued
}

func (s *Shared) addSkill(sk int, id ccgw.AgentID) {
	m := s.skills[sk]
	if m == nil {
		m = map[ccgw.AgentID]bool{}
		s.skills[sk] = m
	}
	m[id] = true
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

// Live implements ccgw.SharedStore: one pass over the live sessions, keeping
// the page's work numbers (internal/pick, O(n log limit)), no sort of all.
func (s *Shared) Live(_ context.Context, after ccgw.AgentID, limit int) ([]ccgw.SharedLive, bool, error) {
	if limit <= 0 {
		return nil, false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := pick.NewLowest[ccgw.AgentID](limit + 1) // one more: whether more follow
	for id := range s.recs {
		if id > after {
			page.Offer(id)
		}
	}
	ids := page.Sorted()
	more := len(ids) > limit
	ids = ids[:min(limit, len(ids))]
	out := make([]ccgw.SharedLive, 0, len(ids))
	for _, id := range ids {
		l := ccgw.SharedLive{Record: s.recs[id].raw(), Queued: len(s.q[id])}
		if s.dl.has(id) {
			l.Deadline = s.recs[id].dl + s.off
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
	for id := range s.recs {
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
	c.Live = s.dl.len() + s.dlc.len() + len(s.sim)
	c.SignOuts = maps.Clone(c.SignOuts)
	c.Drops = maps.Clone(c.Drops)
	return c, nil
}
