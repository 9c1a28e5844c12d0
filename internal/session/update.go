package session

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ccgw/ccgw"
)

// update applies fn to the session stored as raw and writes it back if nobody
// changed it meanwhile (ccgw.ErrChanged otherwise; RetNotSignedIn if it is gone).
// If fn fails, nothing is written and update returns fn's error.
func (s *Service) update(ctx context.Context, id ccgw.AgentID, raw string, fn func(*ccgw.Session) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	sess, after, err := s.updateLater(ctx, id, raw, fn)
	if err == nil {
		after()
	}
	return sess, err
}

// updateLater is update but for what follows the store's answer: waiting for
// the change to be durable (SharedStore.Sync), the hooks (committed) and the
// push notification, which it returns as after, to be called once.
func (s *Service) updateLater(ctx context.Context, id ccgw.AgentID, raw string, fn func(*ccgw.Session) ([]ccgw.Emit, error)) (ccgw.Session, func(), error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return ccgw.Session{}, nil, unavailable(err)
	}
	facts := authFacts(&sess)
	before := append([]int(nil), sess.Skills...)
	restSeq := sess.RestSeq
	now := s.cfg.Clock.Now()
	evs, err := fn(&sess)
	if err != nil {
		return ccgw.Session{}, nil, err
	}
	next, err := json.Marshal(&sess)
	if err != nil {
		return ccgw.Session{}, nil, err
	}
	off, on := diff(before, sess.Skills)
	changed := authFacts(&sess) != facts
	w := ccgw.SharedUpdate{ID: id, Expect: raw, Record: string(next), QueueMax: queueMax(s.cfg.QueueSize, &sess),
		Push: sess.Mode == ccgw.ModePush, SkillsOff: off, SkillsOn: on, AuthChanged: changed}
	for _, ev := range evs {
		w.Events = append(w.Events, s.event(&sess, ev, now))
	}
	if err := s.up(); err != nil {
		return ccgw.Session{}, nil, err
	}
	switch err := s.db.Update(ctx, w); {
	case err == nil:
		if changed {
			s.cache.drop(id, sess.Gen)
		}
		if sess.RestSeq != restSeq && sess.RestUntil != 0 {
			s.scheduleRest(ctx, id, &sess)
		}
		after := func() {
			s.db.Sync(ctx) // a failure is the store's to report: the change stands
			s.committed()
			if len(evs) > 0 {
				s.wake(id) // this node's held polls (other nodes' hear of it from the store)
				s.notify(&sess)
			}
		}
		return sess, after, nil
	case errors.Is(err, ccgw.ErrChanged), ccgw.CodeOf(err) == ccgw.RetNotSignedIn:
		return ccgw.Session{}, nil, err
	default:
		return ccgw.Session{}, nil, unavailable(err)
	}
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

// Update implements ccgw.SessionService with optimistic compare-and-set, retried
// while other requests (on any node) change the same session: concurrent
// Updates all apply, none is lost. It fails with RetInternal only if the
// session kept changing for maxUpdateAttempts attempts.
func (s *Service) Update(ctx context.Context, id ccgw.AgentID, guid string, fn func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	return s.updateWith(ctx, id, guid, true, fn)
}

// UpdateAnyLater is UpdateAny but for waiting until the change is durable
// and the hooks and notifications after it (Config.Notify, OnChange), which
// it leaves to finish: the caller must call finish once, after letting go of
// its own locks, so that it holds none across a write to disk (the simulated
// call centre does).
func (s *Service) UpdateAnyLater(id ccgw.AgentID, fn func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, func(), error) {
	ctx := context.Background()
	for attempt := 0; ; attempt++ {
		raw, err := s.get(ctx, id)
		if err != nil {
			return ccgw.Session{}, nil, err
		}
		next, after, err := s.updateLater(ctx, id, raw, func(x *ccgw.Session) ([]ccgw.Emit, error) {
			return fn(x, s.cfg.Clock.Now())
		})
		if errors.Is(err, ccgw.ErrChanged) && attempt < maxUpdateAttempts {
			continue
		}
		if errors.Is(err, ccgw.ErrChanged) {
			return ccgw.Session{}, nil, unavailable(err)
		}
		return next, after, err
	}
}

// UpdateAny implements ccgw.SessionService: Update without the GUID check.
func (s *Service) UpdateAny(ctx context.Context, id ccgw.AgentID, fn func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	return s.updateWith(ctx, id, "", false, fn)
}

func (s *Service) updateWith(ctx context.Context, id ccgw.AgentID, guid string, auth bool, fn func(x *ccgw.Session, now time.Time) ([]ccgw.Emit, error)) (ccgw.Session, error) {
	for attempt := 0; ; attempt++ {
		var raw string
		if !auth {
			v, err := s.get(ctx, id)
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		} else {
			v, err := s.auth(ctx, id, guid, s.cfg.Clock.Now())
			if err != nil {
				return ccgw.Session{}, err
			}
			raw = v
		}
		next, err := s.update(ctx, id, raw, func(x *ccgw.Session) ([]ccgw.Emit, error) {
			return fn(x, s.cfg.Clock.Now()) // a refusal is returned before anything is written
		})
		if errors.Is(err, ccgw.ErrChanged) {
			if attempt < maxUpdateAttempts {
				continue
			}
			return ccgw.Session{}, unavailable(err)
		}
		return next, err
	}
}

// facts is what of a session the caches hold (cache.go).
type facts struct {
	gen, login, issued, prevUntil int64
	guid, prev, token             string
	mode                          ccgw.Mode
}

func authFacts(x *ccgw.Session) facts {
	return facts{int64(x.Gen), x.LoginTime, x.GUIDIssued, x.PrevUntil, x.GUID, x.PrevGUID, x.ServiceToken, x.Mode}
}

// UpdateGUID implements ccgw.SessionService: the next rotation of the GUID (derived,
// guids.go), recorded at once; the GUID before it stays valid for GUIDTimeout.
func (s *Service) UpdateGUID(ctx context.Context, id ccgw.AgentID, guid string) (string, error) {
	now := s.cfg.Clock.Now()
	for attempt := 0; ; attempt++ {
		raw, err := s.auth(ctx, id, guid, now)
		if err != nil {
			return "", err
		}
		sess, err := decodeSession(raw)
		if err != nil {
			return "", unavailable(err)
		}
		err = s.rotateNow(ctx, &sess, now)
		if errors.Is(err, ccgw.ErrChanged) && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return "", unavailable(err)
		}
		return sess.GUID, nil
	}
}
