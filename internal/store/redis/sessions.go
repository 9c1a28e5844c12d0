package redis

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
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
	ctx := context.Background()
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
		queueMax(s.cfg.QueueSize, &sess), boolArg(sess.Mode == ccgw.ModePush), joinInts(sess.Skills), boolArg(sess.Simulated),
		eventJSON(id, ccgw.EvInService, nil, now), eventJSON(id, ccgw.EvReady, nil, now)}
	switch req.Status {
	case ccgw.StateBusy:
		args = append(args, eventJSON(id, ccgw.EvSetNotReadySuccess, ccgw.Content(map[string]string{"reason": "0"}), now))
	case ccgw.StateWork:
		args = append(args, eventJSON(id, ccgw.EvWork, nil, now))
	}
	epoch := s.cache.epoch(id)
	res, err := s.run(ctx, signInScript, args...)
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
	s.fill(epoch, &sess)
	s.notify(&sess)
	return sess, nil
}

func (s *Store) notify(sess *ccgw.Session) {
	if sess.Mode == ccgw.ModePush && s.cfg.Notify != nil {
		s.cfg.Notify(sess.Agent)
	}
}

// ended forgets a sign-out this node committed in its cache, logs it and tells
// the pusher.
func (s *Store) ended(sess ccgw.Session, cause ccgw.SignOutCause) {
	s.cache.drop(sess.Agent, sess.Gen)
	if !cause.ByAgent() {
		s.notify(&sess)
	}
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, cause)
	}
	s.cfg.Log.Info("signed out", "agent", sess.Agent.String(), "cause", string(cause), "guid", short(sess.GUID))
}

// expired is ended for a session this node's sweep signed out lag after its
// deadline. It logs at debug level: the sweep logs one line for all.
func (s *Store) expired(sess ccgw.Session, lag time.Duration) {
	s.cache.drop(sess.Agent, sess.Gen)
	s.lag.Observe(lag)
	s.notify(&sess)
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, ccgw.CauseTimeout)
	}
	s.cfg.Log.Debug("signed out", "agent", sess.Agent.String(), "cause", string(ccgw.CauseTimeout),
		"guid", short(sess.GUID), "lag", lag)
}

func short(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}

// SignOut implements session.Service.
func (s *Store) SignOut(id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	return s.signOut(context.Background(), id, guid, cause, false, "")
}

// Kick implements session.Service.
func (s *Store) Kick(id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return s.signOut(context.Background(), id, "", cause, true, "")
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out
// with CausePushFailed, on whichever node calls it first; a later sign-in of
// the agent is left alone.
func (s *Store) PushFailed(id ccgw.AgentID, gen uint64) {
	err := s.signOut(context.Background(), id, "", ccgw.CausePushFailed, true, strconv.FormatUint(gen, 10))
	if err != nil && ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		s.cfg.Log.Error("push failure sign-out failed", "agent", id.String(), "err", err)
	}
}

func (s *Store) signOut(ctx context.Context, id ccgw.AgentID, guid string, cause ccgw.SignOutCause, kick bool, gen string) error {
	now := s.cfg.Clock.Now()
	for adopted := false; ; adopted = true {
		res, err := s.run(ctx, signOutScript, id.String(), guid, string(cause), s.ms(now), s.ttl(),
			s.cfg.QueueSize, boolArg(kick), gen)
		if err != nil {
			return err
		}
		code, out := pair(res)
		if code == ccgw.RetNoPermission && !adopted && s.adoptDerived(ctx, id, guid, "", now) {
			continue
		}
		if code != ccgw.RetOK {
			return ccgw.Fail(code)
		}
		if sess, err := decodeSession(out[1]); err == nil {
			s.ended(sess, cause)
		}
		return nil
	}
}

// Session implements session.Service.
func (s *Store) Session(id ccgw.AgentID, guid string) (ccgw.Session, error) {
	ctx := context.Background()
	epoch := s.cache.epoch(id)
	raw, err := s.auth(ctx, id, guid, s.cfg.Clock.Now())
	if err != nil {
		return ccgw.Session{}, err
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, unavailable(err)
	}
	s.fill(epoch, &sess)
	return sess, nil
}

// Lookup implements session.Service.
func (s *Store) Lookup(id ccgw.AgentID) (ccgw.Session, bool) {
	return s.lookup(context.Background(), id)
}

func (s *Store) lookup(ctx context.Context, id ccgw.AgentID) (ccgw.Session, bool) {
	raw, err := s.get(ctx, id)
	if err != nil {
		return ccgw.Session{}, false
	}
	sess, err := decodeSession(raw)
	return sess, err == nil
}

// get returns agent id's raw session (RetNotSignedIn if none).
func (s *Store) get(ctx context.Context, id ccgw.AgentID) (string, error) {
	if !s.ready.Load() {
		return "", unavailable(errors.New("redis unavailable"))
	}
	v, err := s.rdb.Get(ctx, s.key+"s:"+id.String()).Result()
	if errors.Is(err, goredis.Nil) {
		return "", ccgw.Fail(ccgw.RetNotSignedIn)
	}
	if err != nil {
		return "", unavailable(err)
	}
	return v, nil
}
