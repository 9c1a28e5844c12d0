package sim

import (
	"time"

	"github.com/ccgw/ccgw"
)

// The admin API's call, queue and rate operations are carried to the node that
// runs the call centre as the clients' call control is (remote.go), so that on
// a cluster they act on the one call centre from any node.

// The admin operations: the Engine methods of the same names.
const (
	opInject  = "inject"
	opHangup  = "hangup"
	opCall    = "call"
	opCalls   = "calls"
	opQueue   = "queue"
	opQueues  = "queues"
	opSetRate = "setRate"
	opRates   = "rates"
)

// maxRelayPage bounds a page of calls a relayed request asks for: the admin
// API's largest.
const maxRelayPage = 500

// rateWire is a Rate in a request or response (Rate's durations are not in its
// JSON form).
type rateWire struct {
	PerHour      float64       `json:"perHour"`
	TalkMin      time.Duration `json:"talkMin"`
	TalkMax      time.Duration `json:"talkMax"`
	AbandonAfter time.Duration `json:"abandonAfter"`
}

func wireRate(r Rate) rateWire { return rateWire{r.PerHour, r.TalkMin, r.TalkMax, r.AbandonAfter} }

func (w rateWire) rate() Rate {
	return Rate{PerHour: w.PerHour, TalkMin: w.TalkMin, TalkMax: w.TalkMax, AbandonAfter: w.AbandonAfter}
}

// serveAdmin answers an admin operation; false if r names none.
func (e *Engine) serveAdmin(r request) (response, bool) {
	var rep response
	var err error
	switch r.Op {
	case opInject:
		if r.Spec == nil {
			return response{Code: ccgw.RetBadParam}, true
		}
		rep.ID, err = e.Inject(*r.Spec)
	case opHangup:
		rep.Found = e.Hangup(r.CallID)
	case opCall:
		st, found := e.Call(r.CallID)
		rep.Status, rep.Found = &st, found
	case opCalls:
		// Bounded here too: a request read from Redis is not the admin API's,
		// whose pages are at most maxRelayPage.
		rep.Statuses, rep.More = e.Calls(r.After, min(max(r.Limit, 1), maxRelayPage))
	case opQueue:
		q := e.Queue(r.Skill)
		rep.Queue = &q
	case opQueues:
		rep.Queues = e.Queues()
	case opSetRate:
		if r.Rate == nil {
			return response{Code: ccgw.RetBadParam}, true
		}
		err = e.SetRate(r.Skill, r.Rate.rate())
	case opRates:
		rates := e.Rates()
		rep.Rates = make(map[int]rateWire, len(rates))
		for sk, x := range rates {
			rep.Rates[sk] = wireRate(x)
		}
	default:
		return response{}, false
	}
	rep.Code = ccgw.CodeOf(err)
	return rep, true
}

func ptr[T any](v T) *T { return &v }
