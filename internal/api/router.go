package api

import (
	"sort"
	"strings"
)

// route maps a method and path pattern to the spec method name and its handler.
// Pattern segments in braces are variables: {agentid} is parsed as the agent's work
// number, the others land in call.vars in order. The vendor's interfaces and the
// admin API each have a routeTable of them.
type route struct {
	method  string
	name    string
	pattern string // as written, "{agentid}" and all: what the request journal shows (Server.patterns)
	segs    []string
	h       func(*call) reply
}

// routeKey indexes routes by segment count, the third segment and the fifth.
type routeKey struct {
	n    int
	kind string // the third segment: "onlineagent", "agentevent"…; the admin API's "clock", "calls"…
	verb string // the fifth segment (after a vendor path's {agentid}), "" if none
}

func keyOf(segs []string) routeKey {
	k := routeKey{n: len(segs), kind: segs[2]}
	if len(segs) > 4 {
		k.verb = segs[4]
	}
	return k
}

// routeTable is a set of routes, indexed for match.
type routeTable struct {
	byKey   map[routeKey][]*route
	minSegs int // a path of fewer segments matches no route
}

// buildRoutes indexes rs, whose patterns have at least minSegs (3 or more)
// segments.
func buildRoutes(minSegs int, rs ...[]*route) routeTable {
	t := routeTable{byKey: make(map[routeKey][]*route), minSegs: minSegs}
	for _, group := range rs {
		for _, r := range group {
			if len(r.segs) < minSegs {
				panic("api: route pattern shorter than its table allows: " + r.name)
			}
			k := keyOf(r.segs)
			t.byKey[k] = append(t.byKey[k], r)
		}
	}
	return t
}

// maxSegs bounds the segments of a path that can match a route (the longest
// route has 8); a longer path matches none.
const maxSegs = 16

// splitPath splits "/a/b/c" into [a b c], in buf's array (so that routing a
// request allocates nothing); ok is false for an empty segment or more segments
// than buf can hold.
func splitPath(p string, buf []string) (segs []string, ok bool) {
	p = strings.TrimPrefix(p, "/")
	segs = buf[:0]
	for {
		seg, rest, more := strings.Cut(p, "/")
		if seg == "" || len(segs) == cap(segs) {
			return nil, false
		}
		segs = append(segs, seg)
		if !more {
			return segs, true
		}
		p = rest
	}
}

// match finds the route for method and path and fills c's path variables. With
// no route for the method it returns nil and, if the path exists for other
// methods, their list for an Allow header.
func (t *routeTable) match(method, path string, c *call) (*route, string) {
	var buf [maxSegs]string
	segs, ok := splitPath(strings.TrimSuffix(path, "/"), buf[:]) // a trailing slash names the same resource
	if !ok || len(segs) < t.minSegs {
		return nil, ""
	}
	var allowed []string
	for _, rt := range t.byKey[keyOf(segs)] {
		if !rt.matches(segs) {
			continue
		}
		if rt.method != method {
			allowed = append(allowed, rt.method)
			if c.name == "" {
				c.name = rt.name
			}
			continue
		}
		c.name = rt.name
		v := 0
		for i, p := range rt.segs {
			if p == "{agentid}" {
				c.agentRaw = segs[i]
			} else if strings.HasPrefix(p, "{") {
				c.vars[v] = segs[i]
				v++
			}
		}
		return rt, ""
	}
	sort.Strings(allowed)
	return nil, strings.Join(allowed, ", ")
}

func (rt *route) matches(segs []string) bool {
	for i, p := range rt.segs {
		if !strings.HasPrefix(p, "{") && p != segs[i] {
			return false
		}
	}
	return true
}

func r(method, name, pattern string, h func(*call) reply) *route {
	segs, ok := splitPath(pattern, make([]string, 0, maxSegs))
	if !ok {
		panic("api: bad route pattern " + pattern)
	}
	return &route{method: method, name: name, pattern: pattern, segs: segs, h: h}
}
