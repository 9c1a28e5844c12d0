package report

import (
	"math"
	"strings"

	"github.com/ccgw/ccgw"
)

// entry is one journaled request: no GUID, token, query or body. It is 64
// bytes, a cache line.
type entry struct {
	start  int64  // unix ns
	tookUS uint32 // µs, saturated
	status uint16
	http   uint8
	method string
	path   string // pattern with {agentid}, or a copy of the path
	code   ccgw.Retcode
}

// HTTP methods as journaled.
var httpMethods = [...]string{"other", "GET", "POST", "PUT", "DELETE"}

func httpIndex(m string) uint8 {
	for i, h := range httpMethods[1:] {
		if m == h {
			return uint8(i + 1)
		}
	}
	return 0
}

// journal adds q to c's ring of at most n requests (its capacity, made with
// the record); c.mu must be held. It fills the ring, then wraps.
func (c *client) journal(q *Request, n int) {
	e := entry{start: q.Start.UnixNano(), tookUS: uint32(min(q.Took.Microseconds(), math.MaxUint32)), method: q.Method,
		path: q.Path, code: q.Code, status: uint16(q.Status), http: httpIndex(q.HTTP)}
	if len(c.ring) < n {
		c.ring = append(c.ring, e)
	} else {
		c.ring[c.next%uint64(len(c.ring))] = e
	}
	c.next++
}

// Entry is a journaled request on the admin API.
type Entry struct {
	Time       int64        `json:"time"` // ms since the epoch, when it started
	Method     string       `json:"method"`
	HTTP       string       `json:"http"`
	Path       string       `json:"path"`
	Retcode    ccgw.Retcode `json:"retcode"`
	Status     int          `json:"status"`
	TookMicros int64        `json:"tookMicros"`
}

// Requests returns agent id's journaled requests, oldest first, and false if
// the agent is not tracked.
func (r *Report) Requests(id ccgw.AgentID) ([]Entry, bool) {
	c := r.lookup(id)
	if c == nil {
		return nil, false
	}
	agent := id.String()
	c.mu.Lock()
	ring := make([]entry, 0, len(c.ring))
	if uint64(len(c.ring)) == c.next || len(c.ring) == 0 {
		ring = append(ring, c.ring...)
	} else {
		i := int(c.next % uint64(len(c.ring)))
		ring = append(append(ring, c.ring[i:]...), c.ring[:i]...)
	}
	c.mu.Unlock()
	out := make([]Entry, len(ring))
	for i, e := range ring {
		out[i] = Entry{Time: e.start / 1e6, Method: e.method, HTTP: httpMethods[e.http],
			Path: strings.Replace(e.path, "{agentid}", agent, 1), Retcode: e.code, Status: int(e.status),
			TookMicros: int64(e.tookUS)}
	}
	return out, true
}
