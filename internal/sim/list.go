package sim

import (
	"strconv"
	"strings"

	"github.com/ccgw/ccgw/internal/pick"
)

// CallSeq returns the number a call ID ends in (newCallID's "<seconds>-<n>":
// the order calls were made in), and false for an ID not of that shape.
func CallSeq(id string) (uint64, bool) {
	secs, n, ok := strings.Cut(id, "-")
	if !ok || secs == "" || strings.TrimLeft(secs, "0123456789") != "" {
		return 0, false
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || seq == 0 {
		return 0, false
	}
	return seq, true
}

// Calls returns the live calls made after the call numbered after (CallSeq;
// 0: from the first), in the order they were made, up to limit of them, and
// whether more follow. It walks every live call once under the engine's lock,
// keeping only the page's (O(n log limit)), then once more for their calls.
func (e *Engine) Calls(after uint64, limit int) ([]CallStatus, bool) {
	e.lock()
	defer e.unlock()
	low := pick.NewLowest[uint64](limit + 1) // one more: whether more follow
	for id := range e.calls {
		if seq, ok := CallSeq(id); ok && seq > after {
			low.Offer(seq)
		}
	}
	seqs := low.Sorted()
	more := len(seqs) > limit
	if more {
		seqs = seqs[:limit]
	}
	page := make(map[uint64]*Call, len(seqs))
	for _, seq := range seqs {
		page[seq] = nil
	}
	for id, c := range e.calls { // the page's calls: a second walk, not a map of them all
		if seq, ok := CallSeq(id); ok {
			if _, in := page[seq]; in {
				page[seq] = c
			}
		}
	}
	out := make([]CallStatus, 0, len(seqs))
	for _, seq := range seqs {
		c := page[seq]
		st := CallStatus{CallInfo: e.info(c), State: c.State.String()}
		if c.Agent != 0 {
			st.WorkNo = c.Agent.String()
		}
		out = append(out, st)
	}
	return out, more
}
