package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/faults"
	"github.com/ccgw/ccgw/internal/report"
)

// The integrator's workbench on the admin API: clients' conformance findings
// and request journals (Config.Report), and faults on demand (Config.Faults).
// Shapes are in README.md, "Workbench"; they are kept stable.

// Limits of GET /ccgw/v1/clients.
const (
	MaxClientsLimit     = 1000
	DefaultClientsLimit = 100
)

// workbenchTable returns the workbench's admin routes.
func (s *Server) workbenchTable() []*route {
	var rs []*route
	if rp := s.cfg.Report; rp != nil {
		rs = append(rs,
			r(http.MethodGet, "admin.clients", adminPath+"/clients", func(c *call) reply { return clients(c, rp) }),
			r(http.MethodGet, "admin.client", adminPath+"/clients/{agentid}", func(c *call) reply {
				id, err := ccgw.ParseAgentID(c.agentRaw)
				if err != nil {
					return fail(ccgw.RetBadParam)
				}
				d, found := rp.Client(id)
				if !found {
					return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
				}
				return ok(d)
			}),
			r(http.MethodGet, "admin.clientRequests", adminPath+"/clients/{agentid}/requests", func(c *call) reply {
				id, err := ccgw.ParseAgentID(c.agentRaw)
				if err != nil {
					return fail(ccgw.RetBadParam)
				}
				reqs, found := rp.Requests(id)
				if !found {
					return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
				}
				for i := range reqs {
					if reqs[i].Path == "" { // the interface's own path (observe)
						reqs[i].Path = strings.Replace(s.patterns[reqs[i].Method], "{agentid}", id.String(), 1)
					}
				}
				return ok(map[string]any{"requests": reqs})
			}))
	}
	if f := s.cfg.Faults; f != nil {
		rs = append(rs,
			r(http.MethodGet, "admin.faults", adminPath+"/faults", func(*call) reply {
				list := f.List()
				out := make([]faultJSON, len(list))
				for i, x := range list {
					out[i] = faultOut(x)
				}
				return ok(map[string]any{"faults": out})
			}),
			r(http.MethodPost, "admin.addFault", adminPath+"/faults", func(c *call) reply { return s.addFault(c, f) }),
			r(http.MethodDelete, "admin.removeFault", adminPath+"/faults/{id}", func(c *call) reply {
				if !f.Remove(c.vars[0]) {
					return reply{code: ccgw.RetBadParam, status: http.StatusNotFound}
				}
				return ok(emptyResult)
			}))
	}
	return rs
}

// clients pages the summary: after is a work number (none: from the first),
// limit 1–MaxClientsLimit (DefaultClientsLimit); next is the last agent
// returned when more follow, else "".
func clients(c *call, rp *report.Report) reply {
	q := c.r.URL.Query()
	var after ccgw.AgentID
	if v := q.Get("after"); v != "" {
		id, err := ccgw.ParseAgentID(v)
		if err != nil {
			return fail(ccgw.RetBadParam)
		}
		after = id
	}
	limit := DefaultClientsLimit
	if v := q.Get("limit"); v != "" {
		n, okL := intIn(v, 1, MaxClientsLimit)
		if !okL {
			return fail(ccgw.RetBadParam)
		}
		limit = n
	}
	page, nextID := rp.Clients(after, limit)
	next := ""
	if nextID != 0 {
		next = nextID.String()
	}
	return ok(map[string]any{"clients": page, "next": next})
}

// faultJSON is a fault on the admin API.
type faultJSON struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Agents     []string `json:"agents"`
	Interfaces []string `json:"interfaces"`
	Start      int64    `json:"start"` // ms since the epoch, on the gateway's clock
	End        int64    `json:"end"`   // 0: until removed
	Delay      string   `json:"delay,omitempty"`
}

func faultOut(f faults.Fault) faultJSON {
	out := faultJSON{ID: f.ID, Kind: string(f.Kind), Agents: make([]string, len(f.Agents)),
		Interfaces: append([]string{}, f.Interfaces...), Start: ccgw.Millis(f.Start)}
	for i, id := range f.Agents {
		out.Agents[i] = id.String()
	}
	if !f.End.IsZero() {
		out.End = ccgw.Millis(f.End)
	}
	if f.Delay > 0 {
		out.Delay = f.Delay.String()
	}
	return out
}

// addFault decodes a fault, strictly (an unknown field is 000-002), and holds
// it: 000-002 for a bad one (the reason logged at debug level), HTTP 409 and
// 000-002 while faults.MaxHeld are held.
func (s *Server) addFault(c *call, f *faults.Set) reply {
	var b struct {
		Kind       string       `json:"kind"`
		Agents     []flexString `json:"agents"`
		Interfaces []string     `json:"interfaces"`
		Start      flexInt      `json:"start"`    // ms since the epoch
		At         string       `json:"at"`       // or an offset from now: "10s"
		Duration   string       `json:"duration"` // "30s"; none: until removed
		Delay      string       `json:"delay"`    // slow: "2s"
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	if err != nil {
		return fail(ccgw.RetBadParam)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil || dec.More() {
		s.cfg.Log.Debug("fault refused", "err", err)
		return fail(ccgw.RetBadParam)
	}
	sp := faults.Spec{Kind: faults.Kind(b.Kind), Interfaces: b.Interfaces}
	for _, a := range b.Agents {
		id, err := ccgw.ParseAgentID(a.v)
		if err != nil {
			return fail(ccgw.RetBadParam)
		}
		sp.Agents = append(sp.Agents, id)
	}
	var durs [3]time.Duration
	for i, v := range []string{b.At, b.Duration, b.Delay} {
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fail(ccgw.RetBadParam)
		}
		durs[i] = d
	}
	sp.Duration, sp.Delay = durs[1], durs[2]
	switch {
	case b.Start.set && b.At != "":
		return fail(ccgw.RetBadParam)
	case b.Start.set:
		if b.Start.v < 0 {
			return fail(ccgw.RetBadParam)
		}
		sp.Start = time.UnixMilli(b.Start.v)
	case b.At != "":
		if durs[0] > faults.MaxDuration {
			return fail(ccgw.RetBadParam)
		}
		sp.Start = s.cfg.Clock.Now().Add(durs[0])
	}
	out, err := f.Add(sp)
	if err != nil {
		s.cfg.Log.Debug("fault refused", "err", err)
		rep := failed(err)
		if errors.Is(err, faults.ErrFull) {
			rep.status = http.StatusConflict
		}
		return rep
	}
	return ok(faultOut(out))
}
