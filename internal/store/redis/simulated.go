package redis

import (
	"time"

	"github.com/ccgw/ccgw"
)

// A simulated agent (Session.Simulated: the simulated call centre signed it in)
// has no client: nothing heartbeats it and nothing polls its events, as on one
// node (session.Manager).

// signInDeadline is the deadline a sign-in files for sess: a simulated agent's
// is a century away, so that it never expires, whatever the timeouts.
func (s *Store) signInDeadline(now time.Time, sess *ccgw.Session) int64 {
	if sess.Simulated {
		return s.ms(now.AddDate(100, 0, 0))
	}
	return s.deadline(now, sess.Mode)
}

// queueMax is the bound on sess's event queue that the scripts are given: -1
// for a simulated agent, whose events only go to the feed (feed.go), for the
// journal; nobody would take them from a queue.
func queueMax(size int, sess *ccgw.Session) int {
	if sess.Simulated {
		return -1
	}
	return size
}
