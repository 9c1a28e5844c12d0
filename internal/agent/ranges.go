package agent

import (
	"fmt"
	"strings"

	"github.com/ccgw/ccgw"
)

// Range is the work numbers Lo to Hi, both included.
type Range struct{ Lo, Hi ccgw.AgentID }

// Ranges is a set of work numbers, as --inspectors lists them. The zero Ranges
// is empty.
type Ranges []Range

// ParseRanges reads work numbers and ranges separated by commas, spaces around
// them ignored: "1001, 1005-1010". An empty s is the empty set. A work number
// outside ccgw.MinAgentID..ccgw.MaxAgentID, or a range whose end is below its
// start, is an error that names it.
func ParseRanges(s string) (Ranges, error) {
	var out Ranges
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := ccgw.ParseAgentID(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("%q is not a work number %d–%d or a range of them", part, ccgw.MinAgentID, ccgw.MaxAgentID)
		}
		b := a
		if isRange {
			if b, err = ccgw.ParseAgentID(strings.TrimSpace(hi)); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a work number %d–%d or a range of them", part, ccgw.MinAgentID, ccgw.MaxAgentID)
			}
		}
		out = append(out, Range{a, b})
	}
	return out, nil
}

// Has reports whether id is in r.
func (r Ranges) Has(id ccgw.AgentID) bool {
	for _, x := range r {
		if x.Lo <= id && id <= x.Hi {
			return true
		}
	}
	return false
}
