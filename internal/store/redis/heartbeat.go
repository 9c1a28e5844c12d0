package redis

import (
	"context"
	"errors"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/session"
)

// Heartbeat implements session.Service. Normally it costs no Redis round trip:
// the node's cache (cache.go) authenticates guid, and the renewal waits in the
// node's batch for its next tick, which writes every renewal it holds in one
// script call (flush.go); a rotation due (dynamic mode) is derived and
// recorded with them (guids.go). A cache miss, a GUID the cache does not
// accept, a new service token, or a node that lost Redis or its subscription
// take the slow path: one script that authenticates and renews, answered
// RetInternal while Redis cannot be reached.
func (s *Store) Heartbeat(id ccgw.AgentID, guid, token string) (string, error) {
	now := s.cfg.Clock.Now()
	if g, ok := s.fastHeartbeat(id, guid, token, now); ok {
		s.heartbeats.Add(1)
		return g, nil
	}
	ctx := context.Background()
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
func (s *Store) fastHeartbeat(id ccgw.AgentID, guid, token string, now time.Time) (string, bool) {
	if guid == "" || !s.cacheUsable() {
		return "", false
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
	case s.cfg.AuthMode == session.AuthDynamic && s.adoptCached(id, e, guid, now):
	default:
		return "", false // refused, or the cache is behind: Redis decides
	}
	if !s.cfg.NoExpiry {
		s.batch.renew(id, s.deadline(now, e.mode))
	}
	return set, true
}

// auth returns agent id's raw session if guid authenticates it, and renews its
// deadline: the request is activity. A rotated GUID Redis has not recorded is
// recorded first (adoptDerived).
func (s *Store) auth(ctx context.Context, id ccgw.AgentID, guid string, now time.Time) (string, error) {
	for adopted := false; ; adopted = true {
		res, err := s.run(ctx, heartbeatScript, id.String(), guid, s.ms(now),
			s.deadline(now, ccgw.ModePoll), s.deadline(now, ccgw.ModePush))
		if err != nil {
			return "", err
		}
		code, out := pair(res)
		if code == ccgw.RetNoPermission && !adopted && len(out) > 1 && out[1] != "" &&
			s.adoptDerived(ctx, id, guid, out[1], now) {
			continue
		}
		if code != ccgw.RetOK {
			return "", ccgw.Fail(code)
		}
		return out[1], nil
	}
}

// afterAuth stores a new token and rotates the GUID if due, for a request that
// took the slow path with guid, and returns the GUID the client should switch
// to ("" if it has it). raw is the session as the request read it.
func (s *Store) afterAuth(ctx context.Context, raw, guid, token string, now time.Time) (string, error) {
	sess, err := decodeSession(raw)
	if err != nil {
		return "", unavailable(err)
	}
	id := sess.Agent
	if token != "" && token != sess.ServiceToken {
		next, err := s.update(ctx, id, raw, func(x *ccgw.Session) ([]session.Emit, error) {
			x.ServiceToken = token
			return nil, nil
		})
		switch {
		case err == nil:
			sess = next
		case errors.Is(err, errConflict):
			// Changed meanwhile (on any node); the next request brings the token again.
			if fresh, ok := s.lookup(ctx, id); ok {
				sess = fresh
			}
		default:
			return "", err
		}
	}
	// Only a request with the current GUID rotates it: one with the superseded
	// GUID must keep it valid for GUIDTimeout (session.Manager does the same).
	if s.rotationDue(&authEntry{guid: sess.GUID, issued: sess.GUIDIssued}, guid, now) {
		switch err := s.rotateNow(ctx, &sess, now); {
		case errors.Is(err, errConflict):
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
