package redis

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ccgw/ccgw"
)

// A heartbeat answered from the cache writes nothing at once: it files the
// session's new deadline (and, when it rotated the GUID, a rotation record) in
// the node's batch, and the node's next tick writes the whole batch with the
// sweep, in one script call (tickScript). A stored deadline can therefore lag
// the heartbeats a node answered by up to a tick; the sweep claims a session
// only a tick after its stored deadline, and every node writes its batch
// before it sweeps (each tick script call writes what the batch holds then).

// rotation is a rotation a node minted or adopted and Redis has not recorded:
// make next the current GUID of sign-in gen, if its GUID is still expect.
type rotation struct {
	id                ccgw.AgentID
	gen               uint64
	expect, next      string
	prev              string // the GUID before next
	n                 uint32 // next's rotation number
	issued, prevUntil int64  // ms
}

// args returns r as the fields of a record (scripts.go).
func (r rotation) args() []any {
	frag, _ := json.Marshal(struct {
		GUID       string `json:"guid"`
		GUIDIssued int64  `json:"guidIssued"`
		PrevGUID   string `json:"prevGuid,omitempty"`
		PrevUntil  int64  `json:"prevUntil,omitempty"`
	}{r.next, r.issued, r.prev, r.prevUntil}) // the same encoding as ccgw.Session's fields
	return []any{r.id.String(), strconv.FormatUint(r.gen, 10), jsonText(r.expect), jsonText(r.next),
		string(frag[1 : len(frag)-1]), r.n, r.issued, r.prevUntil}
}

// jsonText returns s as encoding/json writes it inside quotes.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// batch is what a node's next tick writes.
type batch struct {
	mu        sync.Mutex                // guards renewals and rotations
	renewals  map[ccgw.AgentID]int64    // the latest deadline (ms) answered per agent
	rotations map[ccgw.AgentID]rotation // per agent, from Redis's GUID to the latest
}

func (b *batch) init() {
	b.renewals = make(map[ccgw.AgentID]int64)
	b.rotations = make(map[ccgw.AgentID]rotation)
}

// renew files deadline dl (ms) for agent id.
func (b *batch) renew(id ccgw.AgentID, dl int64) {
	b.mu.Lock()
	if b.renewals[id] < dl {
		b.renewals[id] = dl
	}
	b.mu.Unlock()
}

// rotate files r. A record already filed for the same sign-in keeps its
// expect: it is what Redis holds.
func (b *batch) rotate(r rotation) {
	b.mu.Lock()
	if old, ok := b.rotations[r.id]; ok && old.gen == r.gen {
		r.expect = old.expect
	}
	b.rotations[r.id] = r
	b.mu.Unlock()
}

// forget drops the rotation record filed for agent id, if any.
func (b *batch) forget(id ccgw.AgentID) {
	b.mu.Lock()
	delete(b.rotations, id)
	b.mu.Unlock()
}

// take empties the batch and returns what it held: maps the batch no longer
// uses (nil for an empty one).
func (b *batch) take() (ren map[ccgw.AgentID]int64, rot map[ccgw.AgentID]rotation) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.renewals) > 0 {
		ren, b.renewals = b.renewals, make(map[ccgw.AgentID]int64, len(b.renewals))
	}
	if len(b.rotations) > 0 {
		rot, b.rotations = b.rotations, make(map[ccgw.AgentID]rotation)
	}
	return ren, rot
}

// putBack files again renewals that could not be written. (Rotation records
// are not kept: a rotated GUID Redis never recorded is recognised by its MAC
// and recorded when it is next used; guids.go.)
func (b *batch) putBack(ren map[ccgw.AgentID]int64) {
	b.mu.Lock()
	for id, dl := range ren {
		if b.renewals[id] < dl {
			b.renewals[id] = dl
		}
	}
	b.mu.Unlock()
}

// tickResult is what one tick script call did.
type tickResult struct {
	claimed []expiredSession // due sessions this node claimed, to end (expire)
	rests   []string         // "id:restSeq" of the rests that ran out
	pending []string         // agents with push work
}

// expiredSession is a session claimed for a timeout.
type expiredSession struct {
	raw      string
	deadline int64 // ms
}

// expiryBatch bounds the sessions one tick script claims and one expire
// script signs out, and so how long Redis runs them (other nodes' calls wait
// meanwhile). It must stay well within the client's read timeout (2 s) on a
// loaded machine: an expire script whose answer is lost has signed its
// sessions out without this node announcing them (no OnSignOut). Each
// sign-out also feeds the change stream; batches of 1000 lost answers in
// TestSilentStorm under the race detector at a load average of 20, batches
// of 250 did not.
const expiryBatch = 250

// expiryLease is how long a node's claim on due sessions lasts: a claim it
// has not ended by then (it died, or lost the tick's answer) is taken over by
// the next tick of any node, so that no due session stays signed in.
const expiryLease = 5 * time.Second

// tickOnce writes the batch and claims up to limit due sessions, in one
// script call (tickScript); first adds the due rests and, if the node pushes,
// the agents with push work. If the call fails, the renewals are filed again.
func (s *Store) tickOnce(ctx context.Context, now time.Time, limit int, first bool) (tickResult, error) {
	ren, rot := s.batch.take()
	grace := max(10*s.cfg.Tick, time.Second)
	restLimit, pending := 0, false
	if first {
		restLimit, pending = s.cfg.MaxExpiries, s.cfg.Notify != nil
	}
	args := make([]any, 0, 10+2*len(ren)+8*len(rot))
	claim := (s.cfg.Tick + time.Millisecond - 1).Milliseconds() // a whole tick at least
	args = append(args, s.ms(now), claim, limit, s.ttl(), s.cfg.QueueSize, grace.Milliseconds(),
		restLimit, boolArg(pending), len(ren), expiryLease.Milliseconds())
	for id, dl := range ren {
		args = append(args, dl, id.String())
	}
	for _, r := range rot {
		args = append(args, r.args()...)
	}
	res, err := s.run(ctx, tickScript, args...)
	if err != nil {
		s.batch.putBack(ren)
		return tickResult{}, err
	}
	arr, _ := res.([]any)
	if len(arr) != 5 {
		return tickResult{}, unavailable(errUnexpected)
	}
	var out tickResult
	claimed := strs(arr[1])
	for i := 0; i+1 < len(claimed); i += 2 {
		dl, _ := strconv.ParseInt(claimed[i+1], 10, 64)
		out.claimed = append(out.claimed, expiredSession{raw: claimed[i], deadline: dl})
	}
	out.rests, out.pending = strs(arr[2]), strs(arr[4])
	for _, v := range strs(arr[3]) { // a rotation another change overtook: ask Redis next time
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			s.cache.drop(ccgw.AgentID(n), 0)
		}
	}
	return out, nil
}

// flush writes the batch and signs nobody out.
func (s *Store) flush(ctx context.Context, now time.Time) error {
	_, err := s.tickOnce(ctx, now, 0, false)
	return err
}

// strs returns a script's array reply as strings.
func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		str, _ := x.(string)
		out = append(out, str)
	}
	return out
}

// parseIDs returns the agent IDs among vs.
func parseIDs(vs []string) []ccgw.AgentID {
	out := make([]ccgw.AgentID, 0, len(vs))
	for _, v := range vs {
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
			out = append(out, ccgw.AgentID(n))
		}
	}
	return out
}
