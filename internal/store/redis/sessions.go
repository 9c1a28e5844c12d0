package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/event"
	"github.com/ccgw/ccgw/internal/session"
	goredis "github.com/redis/go-redis/v9"
)

// SignIn implements session.Service. A forced sign-in ends the earlier session
// in the same script. There is no sign-in window to overlap: 100-021 never occurs.
// The password check, and the lockout with its RetAccountLocked, is
// session.Guard's, counting in this Redis.
func (s *Store) SignIn(req session.SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := s.guard.Check(req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := s.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := s.cfg.Clock.Now()
	sess := req.Session
	sess.Gen = uint64(now.UnixNano())
	sess.GUID = session.NewGUID(s.cfg.NodeName)
	sess.GUIDIssued, sess.LoginTime, sess.StateSince = s.ms(now), s.ms(now), s.ms(now)
	sess.Op, sess.State, sess.TalkRight = req.Op, req.Status, true
	sess.Skills = nil
	for _, sk := range agent.Skills {
		sess.Skills = append(sess.Skills, sk.ID)
	}
	raw, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	args := []any{id.String(), string(raw), boolArg(req.Force), s.deadline(now, sess.Mode), s.ms(now), s.ttl(),
		s.cfg.QueueSize, boolArg(sess.Mode == ccgw.ModePush), joinInts(sess.Skills),
		eventJSON(id, ccgw.EvInService, nil, now), eventJSON(id, ccgw.EvReady, nil, now)}
	switch req.Status {
	case ccgw.StateBusy:
		args = append(args, eventJSON(id, ccgw.EvSetNotReadySuccess, event.Content(map[string]string{"reason": "0"}), now))
	case ccgw.StateWork:
		args = append(args, eventJSON(id, ccgw.EvWork, nil, now))
	}
	res, err := s.run(context.Background(), signInScript, args...)
	if err != nil {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return ccgw.Session{}, &ccgw.Error{Code: code, Op: req.Op}
	}
	if len(out) > 1 && out[1] != "" {
		if old, err := decodeSession(out[1]); err == nil {
			s.ended(old, ccgw.CauseReplaced)
		}
	}
	s.notify(&sess)
	return sess, nil
}

func (s *Store) notify(sess *ccgw.Session) {
	if sess.Mode == ccgw.ModePush && s.cfg.Notify != nil {
		s.cfg.Notify(sess.Agent)
	}
}

// ended logs a sign-out this node committed and tells the pusher.
func (s *Store) ended(sess ccgw.Session, cause ccgw.SignOutCause) {
	if !cause.ByAgent() {
		s.notify(&sess)
	}
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, cause)
	}
	s.cfg.Log.Info("signed out", "agent", sess.Agent.String(), "cause", string(cause), "guid", short(sess.GUID))
}

func short(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}

// Heartbeat implements session.Service: one script renews the deadline; a due
// GUID rotation or a new service token costs a second, compare-and-set one.
func (s *Store) Heartbeat(id ccgw.AgentID, guid, token string) (string, error) {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), heartbeatScript, id.String(), guid, s.ms(now),
		s.deadline(now, ccgw.ModePoll), s.deadline(now, ccgw.ModePush))
	if err != nil {
		return "", err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return "", ccgw.Fail(code)
	}
	s.heartbeats.Add(1)
	return s.afterAuth(id, guid, token, out[1], now)
}

// afterAuth rotates the GUID if due, stores a new token, and returns the GUID
// the client should switch to ("" if it has it).
func (s *Store) afterAuth(id ccgw.AgentID, guid, token, raw string, now time.Time) (string, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return "", unavailable(err)
	}
	// Only a request with the current GUID rotates it: one with the superseded
	// GUID must keep it valid for GUIDTimeout (session.Manager does the same).
	rotate := s.cfg.AuthMode == session.AuthDynamic && guid == sess.GUID && now.Sub(time.UnixMilli(sess.GUIDIssued)) >= s.cfg.GUIDInterval
	retoken := token != "" && token != sess.ServiceToken
	if rotate || retoken {
		next, err := s.update(id, raw, func(x *ccgw.Session) ([]session.Emit, error) {
			if rotate {
				s.rotate(x, now)
			}
			if retoken {
				x.ServiceToken = token
			}
			return nil, nil
		})
		if err == nil {
			sess = next
		} else if ccgw.CodeOf(err) != ccgw.RetOK && !errors.Is(err, errConflict) {
			return "", err
		} else if fresh, ok := s.Lookup(id); ok {
			sess = fresh // another node rotated first
		}
	}
	if sess.GUID != guid {
		return sess.GUID, nil
	}
	return "", nil
}

func (s *Store) rotate(x *ccgw.Session, now time.Time) {
	x.PrevGUID = x.GUID
	x.PrevUntil = s.ms(now.Add(s.cfg.GUIDTimeout))
	x.GUID = session.NewGUID(s.cfg.NodeName)
	x.GUIDIssued = s.ms(now)
}

var errConflict = errors.New("redis: session changed meanwhile")

// update applies fn to the session stored as raw and writes it back if nobody
// changed it meanwhile (errConflict otherwise; RetNotSignedIn if it is gone).
// If fn fails, nothing is written and update returns fn's error.
func (s *Store) update(id ccgw.AgentID, raw string, fn func(*ccgw.Session) ([]session.Emit, error)) (ccgw.Session, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, unavailable(err)
	}
	before := append([]int(nil), sess.Skills...)
	restSeq := sess.RestSeq
	now := s.cfg.Clock.Now()
	evs, err := fn(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	next, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, err
	}
	off, on := diff(before, sess.Skills)
	args := []any{id.String(), raw, string(next), s.cfg.QueueSize, boolArg(sess.Mode == ccgw.ModePush), joinInts(off), joinInts(on)}
	for _, ev := range evs {
		args = append(args, eventJSON(id, ev.Type, ev.Content, now))
	}
	res, err := s.run(context.Background(), updateScript, args...)
	if err != nil {
		return ccgw.Session{}, err
	}
	switch res {
	case "ok":
		if sess.RestSeq != restSeq && sess.RestUntil != 0 {
			s.scheduleRest(id, &sess)
		}
		if len(evs) > 0 {
			s.notify(&sess)
		}
		return sess, nil
	case "gone":
		return ccgw.Session{}, ccgw.Fail(ccgw.RetNotSignedIn)
	}
	return ccgw.Session{}, errConflict
}

// diff returns the skills in a but not b, and in b but not a.
func diff(a, b []int) (off, on []int) {
	in := func(xs []int, x int) bool {
		for _, y := range xs {
			if y == x {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(b, x) {
			off = append(off, x)
		}
	}
	for _, x := range b {
		if !in(a, x) {
			on = append(on, x)
		}
	}
	return off, on
}

// maxUpdateAttempts bounds Update's compare-and-set retries. Each conflict
// means another Update of the session committed, so n concurrent Updates need
// at most n attempts; the bound only stops a pathological loop.
const maxUpdateAttempts = 1000

// Update implements session.Service with optimistic compare-and-set, retried
// while other requests (on any node) change the same session: concurrent
// Updates all apply, none is lost. It fails with RetInternal only if the
// session kept changing for maxUpdateAttempts attempts.
func (s *Store) Update(id ccgw.AgentID, guid string, fn func(x *ccgw.Session, now time.Time) ([]session.Emit, error)) (ccgw.Session, error) {
	for attempt := 0; ; attempt++ {
		var raw string
		if guid == "*" {
			v, err := s.get(id)
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		} else {
			v, err := s.auth(id, guid)
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		}
		next, err := s.update(id, raw, func(x *ccgw.Session) ([]session.Emit, error) {
			return fn(x, s.cfg.Clock.Now()) // a refusal is returned before anything is written
		})
		if errors.Is(err, errConflict) {
			if attempt < maxUpdateAttempts {
				continue
			}
			return ccgw.Session{}, unavailable(err)
		}
		return next, err
	}
}

// get returns agent id's raw session (RetNotSignedIn if none).
func (s *Store) get(id ccgw.AgentID) (string, error) {
	if !s.ready.Load() {
		return "", unavailable(errors.New("redis unavailable"))
	}
	v, err := s.rdb.Get(context.Background(), s.key+"s:"+id.String()).Result()
	if errors.Is(err, goredis.Nil) {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}

// auth returns agent id's raw session if guid authenticates it, and renews its
// deadline: the request is activity.
func (s *Store) auth(id ccgw.AgentID, guid string) (string, error) {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), heartbeatScript, id.String(), guid, s.ms(now),
		s.deadline(now, ccgw.ModePoll), s.deadline(now, ccgw.ModePush))
	if err != nil {
		return "", err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return "", ccgw.Fail(code)
	}
	return out[1], nil
}

// UpdateGUID implements session.Service.
func (s *Store) UpdateGUID(id ccgw.AgentID, guid string) (string, error) {
	now := s.cfg.Clock.Now()
	next, err := s.Update(id, guid, func(x *ccgw.Session, _ time.Time) ([]session.Emit, error) {
		s.rotate(x, now)
		return nil, nil
	})
	if err != nil {
		return "", err
	}
	s.renew([]ccgw.AgentID{id}, now)
	return next.GUID, nil
}

// SignOut implements session.Service.
func (s *Store) SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	return s.signOut(id, guid, cause, false, "")
}

// Kick implements session.Service.
func (s *Store) Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return s.signOut(id, "", cause, true, "")
}

// PushFailed implements event.Source: it signs sign-in gen of agent id out
// with CausePushFailed, on whichever node calls it first; a later sign-in of
// the agent is left alone.
func (s *Store) PushFailed(id ccgw.AgentID, gen uint64) {
	err := s.signOut(id, "", ccgw.CausePushFailed, true, strconv.FormatUint(gen, 10))
	if err != nil && ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		s.cfg.Log.Error("push failure sign-out failed", "agent", id.String(), "err", err)
	}
}

func (s *Store) signOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause, kick bool, gen string) error {
	now := s.cfg.Clock.Now()
	res, err := s.run(context.Background(), signOutScript, id.String(), guid, string(cause), s.ms(now), s.ttl(),
		s.cfg.QueueSize, boolArg(kick), gen)
	if err != nil {
		return err
	}
	code, out := pair(res)
	if code != ccgw.RetOK {
		return ccgw.Fail(code)
	}
	if sess, err := decodeSession(out[1]); err == nil {
		s.ended(sess, cause)
	}
	return nil
}

// Session implements session.Service.
func (s *Store) Session(id ccgw.AgentID, guid string) (ccgw.Session, error) {
	raw, err := s.auth(id, guid)
	if err != nil {
		return ccgw.Session{}, err
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, unavailable(err)
	}
	return sess, nil
}

// Lookup implements session.Service.
func (s *Store) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	raw, err := s.get(id)
	if err != nil {
		return ccgw.Session{}, false
	}
	sess, err := decodeSession(raw)
	return sess, err == nil
}
