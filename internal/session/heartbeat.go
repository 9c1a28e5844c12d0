package session

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/ccgw/ccgw"
)

// Heartbeat implements ccgw.SessionService. Normally it costs no round trip:
// the node's cache (cache.go) authenticates guid, and the renewal waits in the
// node's batch for its next tick, which writes every renewal it holds in one
// call (flush.go); a rotation due (dynamic mode) is derived and
// recorded with them (guids.go). A cache miss, a GUID the cache does not
// accept, a new service token, or a node that lost Redis or its subscription
// take the slow path: one read of the session (auth), answered RetInternal
// while the store cannot be reached.
func (s *Service) Heartbeat(ctx context.Context, id ccgw.AgentID, guid, token string) (string, error) {
	now := s.cfg.Clock.Now()
	if g, ok := s.fastHeartbeat(id, guid, token, now); ok {
		s.heartbeats.Add(1)
		return g, nil
	}
	epoch := s.cache.epoch(id)
	raw, err := s.auth(ctx, id, guid, now)
	if err != nil {
		return "", err
	}
	s.heartbeats.Add(1)
	sess, err := decodeSession(raw)
	if err != nil {
		return "", unavailable(err)
	}
	s.fill(epoch, &sess)
	return s.afterAuth(ctx, raw, guid, token, now)
}

// fastHeartbeat answers a heartbeat from the cache if it can: it returns the
// GUID the client should switch to and true, or false for the slow path.
func (s *Service) fastHeartbeat(id ccgw.AgentID, guid, token string, now time.Time) (string, bool) {
	if guid == "" || !s.cacheUsable() {
		return "", false
	}
	if token == "" && s.cfg.AuthMode != ccgw.AuthDynamic && s.cache.quick(id, guid, s.deadlineOf(now)) {
		return "", true // the current GUID of a static session: nothing to rotate or to tell
	}
	e := s.cache.get(id)
	if e == nil || (token != "" && token != e.token) {
		return "", false
	}
	set := ""
	switch {
	case guid == e.guid:
		if s.rotationDue(e, guid, now) {
			next, ok := s.rotateCached(id, e, now)
			if !ok {
				return "", false
			}
			set = next.guid
		}
	case guid == e.prev && s.ms(now) < e.prevUntil:
		set = e.guid
	case s.cfg.AuthMode == ccgw.AuthDynamic && s.adoptCached(id, e, guid, now):
	default:
		return "", false // refused, or the cache is behind: Redis decides
	}
	if !s.cfg.NoExpiry {
		s.batch.renew(id, s.cfg.Deadline(now, e.mode))
	}
	return set, true
}

// deadlineOf returns the deadline a session in each mode gets from a request
// at now, nil if sessions never expire.
func (s *Service) deadlineOf(now time.Time) func(ccgw.Mode) int64 {
	if s.cfg.NoExpiry {
		return nil
	}
	return func(m ccgw.Mode) int64 { return s.cfg.Deadline(now, m) }
}

// auth returns agent id's raw session if guid authenticates it
// (ccgw.Session.HasGUID), and files its renewal in the node's batch: the
// request is activity. It fails with RetNotSignedIn (no session, or guid is
// that of the sign-in a forced one replaced) or RetNoPermission. A rotated
// GUID Redis has not recorded is recorded first (adoptDerived).
func (s *Service) auth(ctx context.Context, id ccgw.AgentID, guid string, now time.Time) (string, error) {
	raw, _, err := s.authTomb(ctx, id, guid, now)
	return raw, err
}

// authTomb is auth, and on a refusal also the tombstone of the agent's last
// ended session (nil if none), read in the same round trip.
func (s *Service) authTomb(ctx context.Context, id ccgw.AgentID, guid string, now time.Time) (string, *tombRec, error) {
	for adopted := false; ; adopted = true {
		raw, tomb, err := s.read(ctx, id)
		if err != nil {
			return "", nil, err
		}
		if raw == "" {
			return "", tomb, ccgw.Fail(ccgw.RetNotSignedIn)
		}
		sess, err := decodeSession(raw)
		if err != nil {
			return "", nil, unavailable(err)
		}
		if sess.HasGUID(guid, now) {
			if !s.cfg.NoExpiry {
				s.batch.renew(id, s.cfg.Deadline(now, sess.Mode))
			}
			return raw, nil, nil
		}
		if tomb != nil && guid != "" && tomb.GUID == guid {
			return "", tomb, ccgw.Fail(ccgw.RetNotSignedIn) // its client is signed out
		}
		if !adopted && s.adoptDerived(ctx, id, guid, raw, now) {
			continue
		}
		return "", tomb, ccgw.Fail(ccgw.RetNoPermission)
	}
}

// read returns agent id's raw session ("" if none) and its tombstone (nil
// if none), in one round trip.
func (s *Service) read(ctx context.Context, id ccgw.AgentID) (string, *tombRec, error) {
	if err := s.up(); err != nil {
		return "", nil, err
	}
	raw, t, err := s.db.Read(ctx, id)
	if err != nil {
		return "", nil, unavailable(err)
	}
	var tomb *tombRec
	if t != "" {
		var rec tombRec
		if json.Unmarshal([]byte(t), &rec) == nil {
			tomb = &rec
		}
	}
	return raw, tomb, nil
}

// afterAuth stores a new token and rotates the GUID if due, for a request that
// took the slow path with guid, and returns the GUID the client should switch
// to ("" if it has it). raw is the session as the request read it.
func (s *Service) afterAuth(ctx context.Context, raw, guid, token string, now time.Time) (string, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return "", unavailable(err)
	}
	id := sess.Agent
	if token != "" && token != sess.ServiceToken {
		next, err := s.update(ctx, id, raw, func(x *ccgw.Session) ([]ccgw.Emit, error) {
			x.ServiceToken = token
			return nil, nil
		})
		switch {
		case err == nil:
			sess = next
		case errors.Is(err, ccgw.ErrChanged):
			// Changed meanwhile (on any node); the next request brings the token again.
			if fresh, ok := s.lookup(ctx, id); ok {
				sess = fresh
			}
		default:
			return "", err
		}
	}
	// Only a request with the current GUID rotates it: one with the superseded
	// GUID must keep it valid for GUIDTimeout.
	if s.rotationDue(&authEntry{guid: sess.GUID, issued: sess.GUIDIssued}, guid, now) {
		switch err := s.rotateNow(ctx, &sess, now); {
		case errors.Is(err, ccgw.ErrChanged):
			if fresh, ok := s.lookup(ctx, id); ok {
				sess = fresh // another node rotated first
			}
		case err != nil:
			return "", err
		}
	}
	if sess.GUID != guid {
		return sess.GUID, nil
	}
	return "", nil
}
