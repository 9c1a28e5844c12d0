package session

import (
	"context"
	"slices"
	"time"

	"github.com/ccgw/ccgw"
	"github.com/ccgw/ccgw/internal/guid"
)

// Rotated GUIDs are derived as on one node (session/guid.go): rotation n of a
// sign-in is n and a MAC of (agent, gen, login time, n) under a key every node
// shares, kept in the store (GUIDKey: made by the first node that finds
// none). They carry the node suffix of the sign-in's GUID, so that any node
// mints the same string. Hence a node that rotates a GUID in a heartbeat
// answers at once and records the rotation in its next tick; another node that
// is shown the new GUID before then recognises it by its MAC and takes it as
// current, as a node restarted after a crash does (adoptDerived).

// loadGUIDKey reads the shared GUID key, creating it if there is none.
func (s *Service) loadGUIDKey(ctx context.Context) error {
	if s.guidKey.Load() != nil {
		return nil
	}
	b, err := s.db.GUIDKey(ctx, guid.NewKey())
	if err != nil {
		return err
	}
	s.guidKey.Store(&b)
	return nil
}

// keyFor returns the GUID key, reading it if need be.
func (s *Service) keyFor(ctx context.Context) ([]byte, error) {
	if k := s.guidKey.Load(); k != nil {
		return *k, nil
	}
	if err := s.loadGUIDKey(ctx); err != nil {
		return nil, unavailable(err)
	}
	return *s.guidKey.Load(), nil
}

// rotationDue reports whether a request with guid at now rotates e's GUID
// (dynamic mode): only one with the current GUID does, once GUIDInterval has
// passed since it was minted, as on one node.
func (s *Service) rotationDue(e *authEntry, guid string, now time.Time) bool {
	return s.cfg.AuthMode == ccgw.AuthDynamic && guid == e.guid &&
		now.Sub(time.UnixMilli(e.issued)) >= s.cfg.GUIDInterval
}

// recordOf returns the record that moves Redis's GUID expect on to next.
func recordOf(id ccgw.AgentID, expect string, next *authEntry) rotation {
	return rotation{id: id, gen: next.gen, expect: expect, next: next.guid, prev: next.prev, n: next.n,
		issued: next.issued, prevUntil: next.prevUntil}
}

// rotateCached gives agent id's cached entry e its next rotation at now and
// files the record for the next tick. It returns the entry now current, false
// if e changed meanwhile.
func (s *Service) rotateCached(id ccgw.AgentID, e *authEntry, now time.Time) (*authEntry, bool) {
	key := s.guidKey.Load()
	if key == nil {
		return nil, false
	}
	next := e.at(*key, id, e.n+1, s.ms(now), s.ms(now.Add(s.cfg.GUIDTimeout)))
	if !s.cache.replace(id, e, next) {
		// Another request rotated it first: the same GUID, derived.
		if cur := s.cache.get(id); cur != nil && cur.gen == e.gen && cur.n > e.n {
			return cur, true
		}
		return nil, false
	}
	s.batch.rotate(recordOf(id, e.guid, next))
	return next, true
}

// adoptCached takes g, if it is a rotation of e's sign-in newer than e's
// (minted by another node whose record has not reached this one), as agent
// id's current GUID, and files the record. It reports whether it did.
func (s *Service) adoptCached(id ccgw.AgentID, e *authEntry, g string, now time.Time) bool {
	key := s.guidKey.Load()
	if key == nil {
		return false
	}
	m, ok := guid.Derived(*key, id, e.gen, e.login, g)
	if !ok || m <= e.n {
		return false
	}
	next := e.at(*key, id, m, s.ms(now), s.ms(now.Add(s.cfg.GUIDTimeout)))
	if next.guid != g || !s.cache.replace(id, e, next) {
		return false
	}
	s.batch.rotate(recordOf(id, e.guid, next))
	s.adopted(id, m)
	return true
}

// adopted logs that agent id's GUID moved on to rotation m, which another
// node minted, or (on one node) this one before it restarted: that is worth
// telling, as the one-node gateway always has; on a cluster it is routine.
func (s *Service) adopted(id ccgw.AgentID, m uint32) {
	if s.cfg.Local {
		s.cfg.Log.Info("rotated GUID recovered", "agent", id.String(), "rotation", m)
		return
	}
	s.cfg.Log.Debug("rotated GUID adopted", "agent", id.String(), "rotation", m)
}

// record writes rotation records now, in one call of the store, and moves this
// node's own entries on; it returns the agents whose record conflicted.
func (s *Service) record(ctx context.Context, key []byte, recs ...rotation) ([]ccgw.AgentID, error) {
	if err := s.up(); err != nil {
		return nil, err
	}
	rots := make([]ccgw.SharedRotation, 0, len(recs))
	for _, r := range recs {
		rots = append(rots, r.shared())
	}
	conflicts, err := s.db.Rotate(ctx, rots)
	if err != nil {
		return nil, unavailable(err)
	}
	for _, r := range recs {
		if !slices.Contains(conflicts, r.id) {
			s.cache.rotated(key, r.id, r.gen, r.n, r.issued, r.prevUntil)
		}
	}
	return conflicts, nil
}

// rotateNow gives sess (as Redis holds it) its next rotation at now and records
// it at once (updateGuid; a rotation due on a request that took the slow
// path). It starts from the newest rotation of the sign-in this node knows, so
// that it never hands out again a GUID minted here and not yet recorded. On
// success sess holds the new GUID; ccgw.ErrChanged if Redis's GUID changed
// meanwhile.
func (s *Service) rotateNow(ctx context.Context, sess *ccgw.Session, now time.Time) error {
	key, err := s.keyFor(ctx)
	if err != nil {
		return err
	}
	base := entryOf(key, sess)
	if e := s.cache.get(sess.Agent); e != nil && e.gen == base.gen && e.n > base.n {
		base = e
	}
	next := base.at(key, sess.Agent, base.n+1, s.ms(now), s.ms(now.Add(s.cfg.GUIDTimeout)))
	conflicts, err := s.record(ctx, key, recordOf(sess.Agent, sess.GUID, next))
	if err != nil {
		return err
	}
	if len(conflicts) > 0 {
		return ccgw.ErrChanged
	}
	s.batch.forget(sess.Agent)
	sess.GUID, sess.PrevGUID, sess.PrevUntil, sess.GUIDIssued = next.guid, next.prev, next.prevUntil, next.issued
	return nil
}

// adoptDerived records g as agent id's current GUID if it is a rotation of
// the live sign-in newer than the one Redis holds (raw, or read if ""): one a
// node minted and has not recorded yet, or never will (it died). It reports
// whether it did; the caller then reads the session again. Dynamic mode only.
func (s *Service) adoptDerived(ctx context.Context, id ccgw.AgentID, g, raw string, now time.Time) bool {
	if s.cfg.AuthMode != ccgw.AuthDynamic {
		return false
	}
	if _, ok := guid.Node(g); !ok {
		return false
	}
	key, err := s.keyFor(ctx)
	if err != nil {
		return false
	}
	if raw == "" {
		if raw, err = s.get(ctx, id); err != nil {
			return false
		}
	}
	sess, err := decodeSession(raw)
	if err != nil {
		return false
	}
	base := entryOf(key, &sess)
	m, ok := guid.Derived(key, id, sess.Gen, sess.LoginTime, g)
	if !ok || m <= base.n {
		return false
	}
	next := base.at(key, id, m, s.ms(now), s.ms(now.Add(s.cfg.GUIDTimeout)))
	if next.guid != g {
		return false
	}
	conflicts, err := s.record(ctx, key, recordOf(id, sess.GUID, next))
	if err != nil || len(conflicts) > 0 {
		return false
	}
	s.adopted(id, m)
	return true
}
