package session

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
)

// SignIn implements ccgw.SessionService. A forced sign-in ends the earlier session
// (as ccgw.EndingOf decides) in the same write, if it is still the one the
// node read; another one there by then is decided on again. There is no
// sign-in window to overlap: 100-021 never occurs. The password check, and
// the lockout with its RetAccountLocked, is guard.Guard's, counting in
// Config.Lockouts.
func (s *Service) SignIn(ctx context.Context, req ccgw.SignIn) (ccgw.Session, error) {
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
	// to the nanosecond (or are one fake clock): the store tells them apart
	// by it.
	sess := req.Start(agent, uint64(now.UnixNano())+rand.Uint64N(1<<20), guid.New(s.cfg.NodeName), now)
	raw, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
	}
	for attempt := 0; ; attempt++ {
		w := ccgw.SharedSignIn{ID: id, Record: string(raw), Force: req.Force, Deadline: s.cfg.Deadline(now, sess.Mode),
			KeepFor: s.keepFor(), QueueMax: queueMax(s.cfg.QueueSize, &sess), Push: sess.Mode == ccgw.ModePush,
			Skills: sess.Skills, Simulated: sess.Simulated}
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
			w.Expect, w.Replaced = old.Gen, s.ending(&old, ccgw.CauseReplaced, now)
		case ccgw.CodeOf(err) != ccgw.RetNotSignedIn:
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
		}
		for _, em := range req.Events() {
			w.Events = append(w.Events, s.event(&sess, em, now))
		}
		if s.beforeCAS != nil {
			s.beforeCAS("signIn")
		}
		epoch := s.cache.epoch(id)
		if err := s.up(); err != nil {
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
		}
		ended, err := s.db.SignIn(ctx, w)
		if errors.Is(err, ccgw.ErrChanged) {
			if attempt < maxUpdateAttempts {
				continue
			}
			return ccgw.Session{}, &ccgw.Error{Code: ccgw.RetInternal, Op: req.Op, Err: err}
		}
		if code := ccgw.CodeOf(err); code == ccgw.RetInternal {
			return ccgw.Session{}, &ccgw.Error{Code: code, Op: req.Op, Err: err}
		} else if err != nil {
			return ccgw.Session{}, &ccgw.Error{Code: code, Op: req.Op} // RetAlreadySignedIn: another sign-in came first
		}
		s.committed()
		if ended != "" {
			if old, err := decodeSession(ended); err == nil {
				s.ended(old, ccgw.CauseReplaced)
			}
		}
		s.fill(epoch, &sess)
		s.notify(&sess)
		return sess, nil
	}
}

func (s *Service) notify(sess *ccgw.Session) {
	if sess.Mode == ccgw.ModePush && s.cfg.Notify != nil {
		s.cfg.Notify(sess.Agent)
	}
}

// ended forgets a sign-out this node committed in its cache, logs it and tells
// the pusher.
func (s *Service) ended(sess ccgw.Session, cause ccgw.SignOutCause) {
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
// in a storm (bulkSignOuts), where the sweep logs one line for all.
func (s *Service) expired(sess ccgw.Session, lag time.Duration, level slog.Level) {
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

// bulkSignOuts is the most expiries of one Expire logged a line each at
// INFO.
const bulkSignOuts = 100

func short(g string) string {
	if len(g) > 8 {
		return g[:8] + "…"
	}
	return g
}

// SignOut implements ccgw.SessionService: the GUID check, then
// ccgw.CheckSignOut, then the end (the store's End), if the session is still as it
// was checked; if it changed meanwhile, it is checked again.
func (s *Service) SignOut(ctx context.Context, id ccgw.AgentID, guid string, cause ccgw.SignOutCause) error {
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
			return unavailable(ccgw.ErrChanged)
		}
	}
}

// loggedOut reports whether guid is that of agent id's last session, which
// its client signed out itself.
func (s *Service) loggedOut(ctx context.Context, id ccgw.AgentID, guid string) bool {
	if s.up() != nil {
		return false
	}
	_, raw, err := s.db.Read(ctx, id)
	var t tombRec
	return err == nil && json.Unmarshal([]byte(raw), &t) == nil && t.LoggedOut && t.GUID == guid
}

// Kick implements ccgw.SessionService.
func (s *Service) Kick(ctx context.Context, id ccgw.AgentID, cause ccgw.SignOutCause) error {
	return s.kick(ctx, id, 0, cause)
}

// PushFailed implements push.Source: it signs sign-in gen of agent id out
// with CausePushFailed, on whichever node calls it first; a later sign-in of
// the agent is left alone.
func (s *Service) PushFailed(id ccgw.AgentID, gen uint64) {
	err := s.kick(context.Background(), id, gen, ccgw.CausePushFailed)
	if err != nil && ccgw.CodeOf(err) != ccgw.RetNotSignedIn {
		s.cfg.Log.Error("push failure sign-out failed", "agent", id.String(), "err", err)
	}
}

// kick ends agent id's session whatever its GUID, if it is sign-in gen (0:
// any). It fails with RetNotSignedIn if there is none.
func (s *Service) kick(ctx context.Context, id ccgw.AgentID, gen uint64, cause ccgw.SignOutCause) error {
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

// end signs sess out for cause at now (the store's End), if its sign-in is still
// stored and, unless raw is "", stored as raw. It reports false if the
// session changed meanwhile, and fails with RetNotSignedIn if it is gone.
func (s *Service) end(ctx context.Context, sess *ccgw.Session, raw string, cause ccgw.SignOutCause, now time.Time) (bool, error) {
	if err := s.up(); err != nil {
		return false, err
	}
	stored, err := s.db.End(ctx, ccgw.SharedEnd{ID: sess.Agent, Gen: sess.Gen, Expect: raw, Cause: cause, KeepFor: s.keepFor(),
		Ending: s.ending(sess, cause, now)})
	switch {
	case err == nil:
		s.committed()
		if old, err := decodeSession(stored); err == nil {
			s.ended(old, cause)
		}
		return true, nil
	case errors.Is(err, ccgw.ErrChanged):
		return false, nil
	case ccgw.CodeOf(err) == ccgw.RetNotSignedIn:
		return false, err
	}
	return false, unavailable(err)
}

// Session implements ccgw.SessionService.
func (s *Service) Session(ctx context.Context, id ccgw.AgentID, guid string) (ccgw.Session, error) {
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
func (s *Service) Lookup(ctx context.Context, id ccgw.AgentID) (ccgw.Session, bool) {
	return s.lookup(ctx, id)
}

func (s *Service) lookup(ctx context.Context, id ccgw.AgentID) (ccgw.Session, bool) {
	raw, err := s.get(ctx, id)
	if err != nil {
		return ccgw.Session{}, false
	}
	sess, err := decodeSession(raw)
	return sess, err == nil
}

// get returns agent id's raw session (RetNotSignedIn if none).
func (s *Service) get(ctx context.Context, id ccgw.AgentID) (string, error) {
	if err := s.up(); err != nil {
		return "", err
	}
	return s.db.Get(ctx, id)
}
