package api

import (
	"sync/atomic"

	"github.com/ccgw/ccgw"
)

// RequestCount is how many requests of one method ended with one retcode.
type RequestCount struct {
	Method string       // the spec method name ("handShake"), "unknown" or "unauthorized"
	Code   ccgw.Retcode // ccgw.RetUnknown also stands for a retcode outside ccgw.Retcodes
	N      uint64
}

// tally counts requests by method name and retcode, for the summary log line,
// at the cost of one atomic add per request: no lock, no allocation (the
// handShake path is the hottest). Its rows and columns are fixed by newTally;
// a name or retcode it was not given counts under "other" or RetUnknown.
type tally struct {
	rows  map[string]int       // method name → row; only read after newTally
	names []string             // row → method name
	cols  map[ccgw.Retcode]int // retcode → column; only read after newTally
	codes []ccgw.Retcode       // column → retcode
	n     []atomic.Uint64      // [row*len(codes)+column]
}

// otherMethod is the row of a method name the tally was not built with.
const otherMethod = "other"

// newTally returns a tally with a row for each of names (and otherMethod) and a
// column for each retcode ccgw knows.
func newTally(names []string) *tally {
	t := &tally{rows: map[string]int{}, cols: map[ccgw.Retcode]int{}}
	for _, name := range append(names, otherMethod) {
		if _, ok := t.rows[name]; !ok {
			t.rows[name] = len(t.names)
			t.names = append(t.names, name)
		}
	}
	t.codes = ccgw.Retcodes()
	for i, c := range t.codes {
		t.cols[c] = i
	}
	t.n = make([]atomic.Uint64, len(t.names)*len(t.codes))
	return t
}

// add counts one request. Safe for concurrent use.
func (t *tally) add(method string, code ccgw.Retcode) {
	row, ok := t.rows[method]
	if !ok {
		row = t.rows[otherMethod]
	}
	col, ok := t.cols[code]
	if !ok {
		col = t.cols[ccgw.RetUnknown]
	}
	t.n[row*len(t.codes)+col].Add(1)
}

// take returns the counts since the last take (the non-zero ones, by method in
// the order of the names given to newTally, then by retcode) and zeroes them. A
// request counted while take runs lands in this take or the next, never in
// neither.
func (t *tally) take() []RequestCount {
	var out []RequestCount
	for r, name := range t.names {
		for c, code := range t.codes {
			if n := t.n[r*len(t.codes)+c].Swap(0); n > 0 {
				out = append(out, RequestCount{Method: name, Code: code, N: n})
			}
		}
	}
	return out
}

// routeNames returns the method names of the routes of ts, each once, in the
// order of the tables.
func routeNames(ts ...[]*route) []string {
	var names []string
	seen := map[string]bool{}
	for _, group := range ts {
		for _, r := range group {
			if !seen[r.name] {
				seen[r.name] = true
				names = append(names, r.name)
			}
		}
	}
	return names
}

// TakeRequestCounts returns how many interface and admin requests (health
// checks and /metrics aside) ended with each method name and retcode since the
// last call, and starts counting afresh. Safe for concurrent use; one caller
// (the summary log line) is expected.
func (s *Server) TakeRequestCounts() []RequestCount { return s.tally.take() }
