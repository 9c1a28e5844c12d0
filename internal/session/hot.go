package session

import (
	"sync/atomic"

	"github.com/ccgw/ccgw"
)

// The heartbeat's hot path touches one small record per agent in a dense table
// indexed by work number, not the session map: at a million sessions a map
// lookup, the entry and the GUID string are three cache misses, the record is
// one (docs/benchmarks.md).

// hotRec is the part of an agent's live session a heartbeat needs.
type hotRec struct {
	seen atomic.Int64  // unix ns of the last heartbeat or poll
	g0   atomic.Uint64 // the current GUID's 128 random bits; both 0 when a
	g1   atomic.Uint64 // heartbeat must take the slow path (none, or rotation due)
}

const hotChunk = 4096

// hotTable is the dense table of hotRecs, allocated a chunk at a time.
type hotTable struct {
	chunks [int(ccgw.MaxAgentID)/hotChunk + 1]atomic.Pointer[[hotChunk]hotRec]
}

// get returns agent id's record; id must be at most ccgw.MaxAgentID.
func (t *hotTable) get(id ccgw.AgentID) *hotRec {
	slot := &t.chunks[int(id)/hotChunk]
	c := slot.Load()
	if c == nil {
		slot.CompareAndSwap(nil, new([hotChunk]hotRec))
		c = slot.Load()
	}
	return &c[int(id)%hotChunk]
}

// setGUID arms the fast path for guid (its bits, if it is one of node's GUIDs).
func (h *hotRec) setGUID(guid, node string) {
	g0, g1, ok := guidBits(guid, node)
	if !ok {
		g0, g1 = 0, 0
	}
	h.g0.Store(g0)
	h.g1.Store(g1)
}

// disarm sends the next heartbeats to the slow path.
func (h *hotRec) disarm() {
	h.g0.Store(0)
	h.g1.Store(0)
}

// matches reports whether guid's bits are the record's.
func (h *hotRec) matches(g0, g1 uint64) bool {
	return g0|g1 != 0 && h.g0.Load() == g0 && h.g1.Load() == g1
}
