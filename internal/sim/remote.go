package sim

import (
	"encoding/json"

	"github.com/ccgw/ccgw"
)

// In a cluster one node runs the simulated call centre (--scenario): its calls
// live in that process. A client may reach any node, so the other nodes' engines
// carry the call control and call-data queries of the HTTP API to it through
// Config.Remote, and the serving node's engine answers them with Serve. The
// answer is the serving engine's, retcode included: the wire behaviour is one
// node's. If the serving node does not answer in time, a command fails with
// RetInternal (as while Redis is away) and a query finds no call.

// Remote carries requests to the node that runs the call centre
// (redis.Store's AskCentre).
type Remote interface {
	// AskCentre sends req to the serving node and returns its reply. served is
	// false if no node serves; err is set if the serving node could not be
	// asked or did not reply in time.
	AskCentre(req []byte) (rep []byte, served bool, err error)
}

// The operations a request names: the Engine methods of the same names.
const (
	opAnswer        = "answer"
	opRelease       = "release"
	opDropCall      = "dropCall"
	opHold          = "hold"
	opGetHold       = "getHold"
	opCallout       = "callout"
	opTransfer      = "transfer"
	opCurrentCall   = "currentCall"
	opAgentCallByID = "agentCallByID"
	opRinging       = "ringing"
	opHeldCalls     = "heldCalls"
	opWaiting       = "waiting"
	opWaitNum       = "waitNum"
	opAcdStats      = "acdStats"
)

// request is one Engine method call, carried to the serving node.
type request struct {
	Op       string        `json:"op"`
	Agent    ccgw.AgentID  `json:"agent,omitempty"`
	CallID   string        `json:"callid,omitempty"`
	WithLast bool          `json:"withLast,omitempty"`
	Skill    int           `json:"skill,omitempty"`
	Max      int           `json:"max,omitempty"`
	Skills   []int         `json:"skills,omitempty"`
	Callout  *CalloutSpec  `json:"callout,omitempty"`
	Transfer *TransferSpec `json:"transfer,omitempty"`
}

// response is what the method returned.
type response struct {
	Code  ccgw.Retcode `json:"code"` // the error's retcode; RetOK for none
	ID    string       `json:"id,omitempty"`
	Found bool         `json:"found,omitempty"`
	Info  CallInfo     `json:"info"`
	Infos []CallInfo   `json:"infos,omitempty"`
	More  bool         `json:"more,omitempty"`
	N     int          `json:"n,omitempty"`
	Acd   []AcdStat    `json:"acd,omitempty"`
}

func (r response) err() error {
	if r.Code == ccgw.RetOK {
		return nil
	}
	return ccgw.Fail(r.Code)
}

// infos and acd return the lists, empty rather than nil, as the methods do.
func (r response) infos() []CallInfo {
	if r.Infos == nil {
		return []CallInfo{}
	}
	return r.Infos
}

func (r response) acd() []AcdStat {
	if r.Acd == nil {
		return []AcdStat{}
	}
	return r.Acd
}

// remote sends req to the serving node and returns its response; ok is false
// when this engine answers itself (no Remote, or no node serves). It is called
// without e.mu.
func (e *Engine) remote(req request) (response, bool) {
	if e.cfg.Remote == nil {
		return response{}, false
	}
	b, err := json.Marshal(req)
	if err != nil {
		return response{Code: ccgw.RetInternal}, true
	}
	raw, served, err := e.cfg.Remote.AskCentre(b)
	if !served {
		return response{}, false
	}
	var rep response
	if err == nil {
		err = json.Unmarshal(raw, &rep)
	}
	if err != nil {
		e.cfg.Log.Warn("simulated call centre not reached", "op", req.Op, "agent", req.Agent.String(), "err", err)
		return response{Code: ccgw.RetInternal}, true
	}
	return rep, true
}

// Serve answers a request another node's engine sent through its Remote and
// returns the reply (redis.Store's ServeCentre calls it). The engine serving
// must have no Remote of its own.
func (e *Engine) Serve(b []byte) []byte {
	var req request
	rep := response{Code: ccgw.RetBadParam}
	if json.Unmarshal(b, &req) == nil {
		rep = e.serve(req)
	}
	out, _ := json.Marshal(rep)
	return out
}

func (e *Engine) serve(r request) response {
	var rep response
	var err error
	switch r.Op {
	case opAnswer:
		err = e.Answer(r.Agent, r.CallID)
	case opRelease:
		err = e.Release(r.Agent)
	case opDropCall:
		err = e.DropCall(r.Agent, r.CallID)
	case opHold:
		err = e.Hold(r.Agent)
	case opGetHold:
		err = e.GetHold(r.Agent, r.CallID)
	case opCallout:
		if r.Callout == nil {
			return response{Code: ccgw.RetBadParam}
		}
		rep.ID, err = e.Callout(r.Agent, *r.Callout)
	case opTransfer:
		if r.Transfer == nil {
			return response{Code: ccgw.RetBadParam}
		}
		err = e.Transfer(r.Agent, *r.Transfer)
	case opCurrentCall:
		rep.Info, rep.Found = e.CurrentCall(r.Agent, r.WithLast)
	case opAgentCallByID:
		rep.Info, rep.Found = e.AgentCallByID(r.Agent, r.CallID)
	case opRinging:
		rep.Info, rep.Found = e.Ringing(r.Agent)
	case opHeldCalls:
		rep.Infos = e.HeldCalls(r.Agent)
	case opWaiting:
		rep.Infos, rep.More = e.Waiting(r.Skill, r.Max)
	case opWaitNum:
		rep.N = e.WaitNum(r.Skills)
	case opAcdStats:
		rep.Acd = e.AcdStats(r.Skills)
	default:
		err = ccgw.Fail(ccgw.RetBadParam)
	}
	rep.Code = ccgw.CodeOf(err)
	return rep
}
