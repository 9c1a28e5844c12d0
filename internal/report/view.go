package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/ccgw/ccgw"
)

// Summary is one agent's line in GET /ccgw/v1/clients.
type Summary struct {
	Agent    string          `json:"agent"`
	Findings map[Code]uint64 `json:"findings"` // count by code, of the findings raised
	LastSeen int64           `json:"lastSeen"` // ms since the epoch: the start of its latest request
	Requests uint64          `json:"requests"`
}

// Finding is one finding of GET /ccgw/v1/clients/{agentid}.
type Finding struct {
	Code        Code           `json:"code"`
	Explanation string         `json:"explanation"`
	Evidence    map[string]any `json:"evidence"`
	Vendor      string         `json:"vendor"`
	First       int64          `json:"first"` // ms since the epoch
	Last        int64          `json:"last"`
	Count       uint64         `json:"count"`
}

// Detail is GET /ccgw/v1/clients/{agentid}.
type Detail struct {
	Agent    string    `json:"agent"`
	Findings []Finding `json:"findings"`
}

// Clients returns, in work-number order, up to limit tracked agents numbered
// after after (0: from the first), and the last one returned if more follow (0
// if none do).
func (r *Report) Clients(after ccgw.AgentID, limit int) ([]Summary, ccgw.AgentID) {
	var ids []ccgw.AgentID
	var all []*client
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for id, c := range sh.m {
			if id > after {
				ids = append(ids, id)
				all = append(all, c)
			}
		}
		sh.mu.Unlock()
	}
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(ids[a], ids[b]) })
	var next ccgw.AgentID
	if len(order) > limit {
		order = order[:limit]
		next = ids[order[limit-1]]
	}
	out := make([]Summary, 0, len(order))
	for _, i := range order {
		c := all[i]
		s := Summary{Agent: ids[i].String(), Findings: map[Code]uint64{}}
		c.mu.Lock()
		s.Requests = c.requests
		s.LastSeen = c.seen / 1e6
		for j, f := range c.f {
			if f.count >= rules[j].min {
				s.Findings[rules[j].code] = f.count
			}
		}
		c.mu.Unlock()
		out = append(out, s)
	}
	return out, next
}

// Client returns agent id's findings, in the order of the codes, and false if
// the agent is not tracked.
func (r *Report) Client(id ccgw.AgentID) (Detail, bool) {
	c := r.lookup(id)
	if c == nil {
		return Detail{}, false
	}
	d := Detail{Agent: id.String(), Findings: []Finding{}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.f {
		if f.count < rules[i].min {
			continue
		}
		d.Findings = append(d.Findings, Finding{Code: rules[i].code, Explanation: rules[i].explanation,
			Vendor: rules[i].vendor, First: f.first / 1e6, Last: f.last / 1e6, Count: f.count,
			Evidence: c.evidence(i, r)})
	}
	return d, true
}

// Findings returns how many of the finding codes agent id's client has raised
// (the length of Client's list), and 0 for an agent not tracked. It allocates
// nothing.
func (r *Report) Findings(id ccgw.AgentID) int {
	c := r.lookup(id)
	if c == nil {
		return 0
	}
	n := 0
	c.mu.Lock()
	for i, f := range c.f {
		if f.count >= rules[i].min {
			n++
		}
	}
	c.mu.Unlock()
	return n
}

func ms(ns int64) int64 { return ns / int64(time.Millisecond) }

// evidence renders finding i's evidence; c.mu must be held. Times are ms since
// the epoch, durations ms; a time not known is left out.
func (c *client) evidence(i int, r *Report) map[string]any {
	f := &c.f[i]
	ev := map[string]any{}
	at := func(key string, ns int64) {
		if ns != 0 {
			ev[key] = ms(ns)
		}
	}
	switch i {
	case iStale:
		at("setGuidAt", f.ev[0])
		ev["presentedAfterSetGuid"] = f.ev[1]
		ev["refused"] = f.ev[2]
		at("lastRefusedAt", f.ev[3])
	case iLate:
		ev["longestGapMillis"] = ms(f.ev[0])
		ev["lastGapMillis"] = ms(f.ev[1])
		ev["timeoutMillis"] = ms(f.ev[2])
		ev["beyondTimeout"] = f.ev[3]
		ev["recommendedMillis"] = VendorHeartbeat.Milliseconds()
	case iHammer:
		ev["requests"] = f.ev[0]
		ev["withinMillis"] = ms(f.ev[1])
		ev["afterRetcode"] = c.hammerCode
	case iAfterOut:
		at("refusedAt", f.ev[0])
		ev["callsAfter"] = f.ev[1]
		at("signedOutAt", c.outAt)
		if c.outCause != "" {
			ev["cause"] = c.outCause
		}
	case iPollFast:
		ev["shortestGapMillis"] = ms(f.ev[0])
		ev["lastGapMillis"] = ms(f.ev[1])
		ev["recommendedMillis"] = PollMin.Milliseconds()
	case iCType:
		ev["contentType"] = c.ctype
		ev["requests"] = f.count
	case iLegacy:
		ev["heartBeat"] = f.ev[0]
		ev["pushUrl"] = f.ev[1]
	}
	return ev
}
