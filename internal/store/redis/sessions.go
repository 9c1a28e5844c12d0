package redis

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
	goredis "github.com/redis/go-redis/v9"
)

// SignIn implements ccgw.SessionService. A forced sign-in ends the earlier session
// (as ccgw.EndingOf decides) in the same script, if it is still the one the
// node read; another one there by then is decided on again. There is no
// sign-in window to overlap: 100-021 never occurs. The password check, and
// the lockout with its RetAccountLocked, is guard.Guard's, counting in this
// Redis.
func (s *Store) SignIn(ctx context.Context, req ccgw.SignIn) (ccgw.Session, error) {
	id := req.Session.Agent
	if !req.SkipPassword {
		if err := s.guard.Check(ctx, req.Op, id, req.Password); err != nil {
			return ccgw.Session{}, err
		}
	}
	agent, ok := s.cfg.Directory.Agent(id)
	if !ok {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetBadPassword, Op: req.Op}
	}
	now := s.cfg.Clock.Now()
	// The sign-in's gen is its time with random nanoseconds added, so that two
	// sign-ins of one agent never share one, even on nodes whose clocks agree
	// to the nanosecond (or are one fake clock): the scripts tell them apart
	// by it.
	sess := req.Start(agent, uint64(now.UnixNano())+rand.Uint64N(1<<20), guid.New(s.cfg.NodeName), now)
	raw, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	for attempt := 0; ; attempt++ {
		expect, ending := "", []any{0, "", "", "", 0}
		oldRaw, err := s.get(ctx, id)
		switch {
		case err == nil:
			if !req.Force {
				return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetAlreadySignedIn, Op: req.Op}
			}
			old, err := decodeSession(oldRaw)
			if err != nil {
				return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
			}
			expect, ending = strconv.FormatUint(old.Gen, 10), s.endArgs(&old, ccgw.CauseReplaced, now)
		case ccgw.CodeOf(err) != ccgw.RetNotSignedIn:
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
		}
		args := []any{id.String(), string(raw), boolArg(req.Force), expect, s.deadline(now, sess.Mode), s.ttl(),
			queueMax(s.cfg.QueueSize, &sess), boolArg(sess.Mode == ccgw.ModePush), joinInts(sess.Skills), boolArg(sess.Simulated)}
		args = append(args, ending...)
		for _, em := range req.Events() {
			args = append(args, s.eventArg(&sess, em, now))
		}
		if s.beforeCAS != nil {
			s.beforeCAS("signIn")
		}
		epoch := s.cache.epoch(id)
		res, err := s.run(ctx, signInScript, args...)
		if err != nil {
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
		}
		code, out := pair(res)
		if code == "conflict" {
			if attempt < maxUpdateAttempts {
				continue
			}
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: errConflict}
		}
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
	s.wake(sess.Agent) // this node's held polls of it (other nodes' hear of it over pub/sub)
	if !cause.ByAgent() {
		s.notify(&sess)
	}
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, cause)
	}
	s.cfg.Log.Info("signed out", "agent", sess.Agent.String(), "cause", string(cause), "guid", short(sess.GUID))
}

// expired is ended for a session this node's sweep signed out lag after its
// deadline, logged at level: INFO for a few, as every other sign-out, DEBUG
// in a storm (bulkSignOuts), where the sweep logs one line for all, as
// session.Manager does.
func (s *Store) expired(sess ccgw.Session, lag time.Duration, level slog.Level) {
	s.cache.drop(sess.Agent, sess.Gen)
	s.wake(sess.Agent)
	s.lag.Observe(lag)
	s.notify(&sess)
	if s.cfg.OnSignOut != nil {
		s.cfg.OnSignOut(sess.Agent, ccgw.CauseTimeout)
	}
	s.cfg.Log.Log(context.Background(), level, "signed out", "agent", sess.Agent.String(), "cause", string(ccgw.CauseTimeout),
		"guid", short(sess.GUID), "lag", lag)
}

// bulkSignOuts is the most expiries of one script call logged a line each at
// INFO (session.Manager's rule for a commit).
const bulkSignOuts = 100

func short(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}

// SignOut implements ccgw.SessionService: the GUID check, then
// ccgw.CheckSignOut, then the end (endScript), if the session is still as it
// was checked; if it changed meanwhile, it is checked again.
func (s *Store) SignOut(ctx context.Context, id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
	now := s.cfg.Clock.Now()
	for attempt := 0; ; attempt++ {
		raw, err := s.auth(ctx, id, guid, now)
		if err != nil {
			if c := ccgw.CodeOf(err); guid != "" && (c == ccgw.RetNotSignedIn || c == ccgw.RetNoPermission) && s.loggedOut(ctx, id, guid) {
				return ccgw.Fail(ccgw.RetAlreadySignedOut) // a second sign-out
			}
			return err
		}
		sess, err := decodeSession(raw)
		if err != nil {
			return unavailable(err)
		}
		if err := ccgw.CheckSignOut(&sess, cause); err != nil {
			return err
		}
		if s.beforeCAS != nil {
			s.beforeCAS("signOut")
		}
		done, err := s.end(ctx, &sess, raw, cause, now)
		if err != nil || done {
			return err
		}
		if attempt >= maxUpdateAttempts {
			return unavailable(errConflict)
		}
	}
}

// loggedOut reports whether guid is that of agent id's last session, which
// its client signed out itself.
func (s *Store) loggedOut(ctx context.Context, id ccgw.AgentID, guid string) bool {
	raw, err := s.rdb.Get(ctx, s.key+"t:"+id.String()).Result()
	var t tombRec
	return err == nil && json.Unmarshal([]byte(raw), &t) == nil && t.LoggedOut && t.GUID == guid
}

// Kick implements ccgw.SessionService.
func (s *Store) Kick(ctx context.Context, id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return s.kick(ctx, id, 0, cause)
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out
// with CausePushFailed, on whichever node calls it first; a later sign-in of
// the agent is left alone.
func (s *Store) PushFailed(id ccgw.AgentID, gen uint64) {
	err := s.kick(context.Background(), id, gen, ccgw.CausePushFailed)
	if err != nil && ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		s.cfg.Log.Error("push failure sign-out failed", "agent", id.String(), "err", err)
	}
}

// kick ends agent id's session whatever its GUID, if it is sign-in gen (0:
// any). It fails with RetNotSignedIn if there is none.
func (s *Store) kick(ctx context.Context, id ccgw.AgentID, gen uint64, cause ccgw.SignOutCause) error {
	raw, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return unavailable(err)
	}
	if gen != 0 && sess.Gen != gen {
		return ccgw.Fail(ccgw.RetNotSignedIn)
	}
	_, err = s.end(ctx, &sess, "", cause, s.cfg.Clock.Now())
	return err
}

// end signs sess out for cause at now (endScript), if its sign-in is still
// stored and, unless raw is "", stored as raw. It reports false if the
// session changed meanwhile, and fails with RetNotSignedIn if it is gone.
func (s *Store) end(ctx context.Context, sess *ccgw.Session, raw string, cause ccgw.SignOutCause, now time.Time) (bool, error) {
	args := []any{sess.Agent.String(), strconv.FormatUint(sess.Gen, 10), raw, string(cause), s.ttl()}
	res, err := s.run(ctx, endScript, append(args, s.endArgs(sess, cause, now)...)...)
	if err != nil {
		return false, err
	}
	switch code, out := pair(res); code {
	case ccgw.RetOK:
		if stored, err := decodeSession(out[1]); err == nil {
			s.ended(stored, cause)
		}
		return true, nil
	case "conflict":
		return false, nil
	}
	return false, ccgw.Fail(ccgw.RetNotSignedIn)
}

// Session implements ccgw.SessionService.
func (s *Store) Session(ctx context.Context, id ccgw.AgentID, guid string) (ccgw.Session, error) {
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

// Lookup implements ccgw.SessionService.
func (s *Store) Lookup(ctx context.Context, id ccgw.AgentID) (ccgw.Session, bool) {
	return s.lookup(ctx, id)
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
