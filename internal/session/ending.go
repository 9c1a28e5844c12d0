package session

import (
	"encoding/json"
	"time"

	"github.com/ccgw/ccgw"
)

// A session's end is decided here, in Go, by the rules every backend shares
// (ccgw.EndingOf); the store only stores what was decided.

// tombRec is the record t:<id> an ended session leaves for its old GUID.
type tombRec struct {
	GUID      string    `json:"guid"`
	Gen       uint64    `json:"gen,string"` // a string: Lua's numbers would round it
	Mode      ccgw.Mode `json:"mode"`       // ModePush: its last events are pushed
	URI       string    `json:"uri,omitempty"`
	Token     string    `json:"token,omitempty"`
	Legacy    bool      `json:"legacy,omitempty"`
	LoggedOut bool      `json:"loggedOut,omitempty"`
}

// ending returns what ending sess for cause at now stores: its queue's bound
// (queueMax: below 0 for a simulated agent, whose events only go to the
// feed), ccgw.EndingOf's drop reason and AgentOther_ShutdownService, the
// tombstone record, and when the tombstone ends: a timeout after now, as on
// one node.
func (s *Service) ending(sess *ccgw.Session, cause ccgw.SignOutCause, now time.Time) ccgw.SharedEnding {
	end := ccgw.EndingOf(sess, cause)
	t := tombRec{GUID: sess.GUID, Gen: sess.Gen, LoggedOut: end.LoggedOut}
	out := ccgw.SharedEnding{QueueMax: queueMax(s.cfg.QueueSize, sess), Drop: end.Drop, TombEnd: s.ms(now) + s.ttl()}
	if end.Tells() {
		ev := s.event(sess, end.Shutdown, now)
		out.Shutdown = &ev
		t.Mode, t.URI, t.Token, t.Legacy = sess.Mode, sess.CallbackURI, sess.ServiceToken, sess.LegacyPush
	}
	rec, _ := json.Marshal(&t)
	out.Tomb = string(rec)
	return out
}

// event returns em, made for sess at now, as the store queues it: marked
// dropped if a drop-events fault drops it (Config.DropEvent).
func (s *Service) event(sess *ccgw.Session, em ccgw.Emit, now time.Time) ccgw.SharedEvent {
	ev := ccgw.Event{Type: em.Type, GenTime: ccgw.Millis(now), WorkNo: sess.Agent.String(), Content: em.Content}
	dropped := s.cfg.DropEvent != nil && !sess.Simulated && s.cfg.DropEvent(sess.Agent, ev)
	return ccgw.SharedEvent{Event: ev, Dropped: dropped}
}
