package redis

import (
	"encoding/json"
	"time"

	"github.com/ccgw/ccgw"
)

// A session's end is decided here, in Go, by the rules every backend shares
// (ccgw.EndingOf); the scripts only store what was decided (finish).

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

// endArgs returns the script arguments that end sess for cause at now: its
// queue's bound (queueMax: below 0 for a simulated agent, whose events only
// go to the feed), ccgw.EndingOf's drop reason, its
// AgentOther_ShutdownService (empty for none; eventArg), the tombstone
// record, and when (ms) the tombstone ends: a timeout after now, as on one
// node.
func (s *Store) endArgs(sess *ccgw.Session, cause ccgw.SignOutCause, now time.Time) []any {
	end := ccgw.EndingOf(sess, cause)
	t := tombRec{GUID: sess.GUID, Gen: sess.Gen, LoggedOut: end.LoggedOut}
	shutdown := ""
	if end.Tells() {
		shutdown = s.eventArg(sess, end.Shutdown, now)
		t.Mode, t.URI, t.Token, t.Legacy = sess.Mode, sess.CallbackURI, sess.ServiceToken, sess.LegacyPush
	}
	rec, _ := json.Marshal(&t)
	return []any{queueMax(s.cfg.QueueSize, sess), string(end.Drop), shutdown, string(rec), s.ms(now) + s.ttl()}
}

// eventArg returns em, made for sess at now, as the scripts queue it: its
// JSON, marked '!' if a drop-events fault drops it (Config.DropEvent), as
// session.Manager's queues drop it.
func (s *Store) eventArg(sess *ccgw.Session, em ccgw.Emit, now time.Time) string {
	ev := ccgw.Event{Type: em.Type, GenTime: ccgw.Millis(now), WorkNo: sess.Agent.String(), Content: em.Content}
	b, _ := json.Marshal(&ev)
	if s.cfg.DropEvent != nil && !sess.Simulated && s.cfg.DropEvent(sess.Agent, ev) {
		return "!" + string(b)
	}
	return string(b)
}
