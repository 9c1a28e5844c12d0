package session

import (
	"context"
	"time"

	"github.com/ccgw/ccgw"
)

// Agents returns the live sessions (client and simulated) with work numbers
// above after, in work-number order, up to limit of them, and whether more
// follow, from the store's live index (no scan). LastSeen is the deadline less
// the session's timeout: this node's renewals reach the store once a tick, so
// it may be a tick old (a simulated session, which never expires, shows its
// sign-in). A session that ends in between is left out of the page. It
// returns none if the store cannot be read.
func (s *Service) Agents(ctx context.Context, after ccgw.AgentID, limit int) ([]ccgw.LiveSession, bool) {
	if s.up() != nil || limit <= 0 {
		return nil, false
	}
	page, more, err := s.db.Live(ctx, after, limit)
	if err != nil {
		return nil, false
	}
	out := make([]ccgw.LiveSession, 0, len(page))
	for _, l := range page {
		sess, err := decodeSession(l.Record)
		if err != nil {
			continue
		}
		info := ccgw.LiveSession{Session: sess, LastSeen: time.UnixMilli(sess.LoginTime), Queued: l.Queued}
		if l.Deadline != 0 {
			info.LastSeen = s.seen(l.Deadline, sess.Mode)
		}
		out = append(out, info)
	}
	return out, more
}

// Clients returns the work numbers of every live session signed in by a
// client (the simulated call centre's own left out), in work-number order,
// from the store's live index alone. What the store did not answer is left
// out.
func (s *Service) Clients(ctx context.Context) []ccgw.AgentID {
	if s.up() != nil {
		return nil
	}
	ids, _ := s.db.Clients(ctx)
	return ids
}
